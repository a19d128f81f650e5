// The empty Fetch answer the gateway gives a Fetch held while its client rejoins after a switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, decodeResponse, encodeRequest } from '../../../src/protocol/index.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition, defaultFetchRequestFetchTopic } from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { continuesFetchSession, emptyFetchResponse } from '../../../src/proxy/empty-fetch.ts';

function fetchRequest(version: number, sessionId: number, sessionEpoch: number): Buffer {
  const part = (partition: number) => ({ ...defaultFetchRequestFetchPartition(), partition, fetchOffset: 1234n });
  return encodeRequest(
    { requestApiKey: ApiKey.Fetch, requestApiVersion: version, correlationId: 4711, clientId: 'kafkajs', _unknownTaggedFields: undefined },
    {
      ...defaultFetchRequest(), maxWaitMs: 5000, minBytes: 1, maxBytes: 1 << 20, sessionId, sessionEpoch,
      topics: [{ ...defaultFetchRequestFetchTopic(), topic: 'orders', partitions: [part(0), part(3)] }, { ...defaultFetchRequestFetchTopic(), topic: 'audit', partitions: [part(1)] }],
    },
  );
}

for (const [version, sessionId, sessionEpoch] of [[4, 0, -1], [7, 0, 0], [11, 0, -1], [12, 77, 3]]) {
  test(`Fetch v${version} (session ${sessionId}, epoch ${sessionEpoch}): every requested partition, no records, offsets unknown, no session`, () => {
    const frame = emptyFetchResponse(fetchRequest(version, sessionId, sessionEpoch));
    const { header, body } = decodeResponse<FetchResponse>(frame, ApiKey.Fetch, version);
    assert.equal(header.correlationId, 4711);
    if (version >= 7) {
      assert.equal(body.errorCode, 0);
      assert.equal(body.sessionId, 0, 'ends the fetch session: the next Fetch is a full one');
    }
    assert.deepEqual(body.responses.map((t) => [t.topic, t.partitions.map((p) => p.partitionIndex)]), [['orders', [0, 3]], ['audit', [1]]]);
    for (const p of body.responses.flatMap((t) => t.partitions)) {
      assert.equal(p.errorCode, 0);
      assert.equal(p.highWatermark, -1n);
      assert.equal(p.records?.length ?? 0, 0);
    }
  });
}

test('a Fetch continues a fetch session when it names one (v7+, session id not 0)', () => {
  assert.equal(continuesFetchSession(fetchRequest(12, 77, 3), 12), true);
  assert.equal(continuesFetchSession(fetchRequest(12, 0, -1), 12), false);
  assert.equal(continuesFetchSession(fetchRequest(7, 0, 0), 7), false);
  assert.equal(continuesFetchSession(fetchRequest(4, 0, -1), 4), false);
});
