// The broker address filter must cover every response in the protocol definitions that carries a
// broker host and port. This test derives that set from the definitions themselves, so a Kafka
// release that adds addresses to another response (as KIP-951 did to Produce and Fetch) fails
// here until the filter handles it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from '../../../src/protocol/generated/schema.ts';
import { apiCodec } from '../../../src/protocol/index.ts';
import { ADDRESS_CARRYING_RESPONSES } from '../../../src/proxy/filters/broker-addresses.ts';

/** Host+port pairs that are not Kafka broker addresses: application endpoints of Streams members. */
const NOT_BROKER_ADDRESSES = new Set(['StreamsGroupDescribeResponse', 'StreamsGroupHeartbeatResponse']);

/** First version in which some struct of the message has both a Host and a Port field, or null. */
function firstAddressVersion(m: MessageSchema): number | null {
  let first: number | null = null;
  const visit = (fields: FieldSchema[]): void => {
    const host = fields.find((f) => f.name === 'Host' && f.type === 'string');
    const port = fields.find((f) => f.name === 'Port');
    if (host?.versions && port?.versions) {
      const from = Math.max(host.versions[0], port.versions[0]);
      first = first === null ? from : Math.min(first, from);
    }
    for (const f of fields) {
      const struct = m.structs[f.type.replace(/^\[\]/, '')];
      if (struct) visit(struct);
    }
  };
  visit(m.fields);
  return first;
}

test('every broker-facing response that carries a host and port is rewritten by the broker address filter', () => {
  const expected = new Map<number, number>();
  for (const m of Object.values(MESSAGE_SCHEMAS)) {
    if (m.type !== 'response' || m.apiKey === null || NOT_BROKER_ADDRESSES.has(m.name)) continue;
    if (!apiCodec(m.apiKey)?.listeners.includes('broker')) continue;
    const from = firstAddressVersion(m);
    if (from === null || m.validVersions === null) continue;
    // Written as 0 when addresses exist in every version of the API.
    expected.set(m.apiKey, from === m.validVersions[0] ? 0 : from);
  }
  const name = (k: number) => apiCodec(k)?.name ?? String(k);
  const describe = (m: ReadonlyMap<number, number>) => [...m].map(([k, v]) => `${name(k)} v${v}+`).sort();
  assert.deepEqual(describe(ADDRESS_CARRYING_RESPONSES), describe(expected));
});
