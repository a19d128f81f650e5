// The empty Fetch answer the gateway gives a Fetch held while its client rejoins after a switch.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultFetchRequestFetchTopic,
} from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { ApiKey, decodeResponse, encodeRequest } from '../../../src/protocol/index.ts';
import { continuesFetchSession, emptyFetchResponse, fetchSessionOffset } from '../../../src/proxy/empty-fetch.ts';

function fetchRequest(version: number, sessionId: number, sessionEpoch: number): Buffer {
  const part = (partition: number) => ({ ...defaultFetchRequestFetchPartition(), partition, fetchOffset: 1234n });
  return encodeRequest(
    { requestApiKey: ApiKey.Fetch, requestApiVersion: version, correlationId: 4711, clientId: 'kafkajs', _unknownTaggedFields: undefined },
    {
      ...defaultFetchRequest(),
      maxWaitMs: 5000,
      minBytes: 1,
      maxBytes: 1 << 20,
      sessionId,
      sessionEpoch,
      topics: [
        { ...defaultFetchRequestFetchTopic(), topic: 'orders', partitions: [part(0), part(3)] },
        { ...defaultFetchRequestFetchTopic(), topic: 'audit', partitions: [part(1)] },
      ],
    },
  );
}

for (const [version, sessionId, sessionEpoch] of [
  [4, 0, -1],
  [7, 0, 0],
  [11, 0, -1],
  [12, 77, 3],
]) {
  test(`Fetch v${version} (session ${sessionId}, epoch ${sessionEpoch}): every requested partition, no records, offsets unknown, no session`, () => {
    const frame = emptyFetchResponse(fetchRequest(version, sessionId, sessionEpoch));
    const { header, body } = decodeResponse<FetchResponse>(frame, ApiKey.Fetch, version);
    assert.equal(header.correlationId, 4711);
    if (version >= 7) {
      assert.equal(body.errorCode, 0);
      assert.equal(body.sessionId, 0, 'ends the fetch session: the next Fetch is a full one');
    }
    assert.deepEqual(
      body.responses.map((t) => [t.topic, t.partitions.map((p) => p.partitionIndex)]),
      [
        ['orders', [0, 3]],
        ['audit', [1]],
      ],
    );
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

test('the session id and epoch are found in place in Fetch v7-v12, whatever the client id and header tagged fields', () => {
  for (let version = 4; version <= 12; version++) {
    for (const clientId of ['', 'rdkafka', 'x'.repeat(300), null]) {
      const frame = encodeRequest(
        { requestApiKey: ApiKey.Fetch, requestApiVersion: version, correlationId: 9, clientId, _unknownTaggedFields: undefined },
        { ...defaultFetchRequest(), maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 123456789, sessionEpoch: 42, topics: [] },
      );
      const at = fetchSessionOffset(frame, version);
      if (version < 7) {
        assert.equal(at, -1, `v${version} has no session`);
        continue;
      }
      assert.deepEqual([frame.readInt32BE(at), frame.readInt32BE(at + 4)], [123456789, 42], `v${version}, client id ${JSON.stringify(clientId)}`);
    }
  }
  // A v12 header carrying a tagged field, and frames cut short.
  const tagged = encodeRequest(
    {
      requestApiKey: ApiKey.Fetch,
      requestApiVersion: 12,
      correlationId: 9,
      clientId: 'c',
      _unknownTaggedFields: [{ tag: 7, data: new Uint8Array(200) }],
    } as never,
    { ...defaultFetchRequest(), sessionId: 5, sessionEpoch: 6, topics: [] },
  );
  const at = fetchSessionOffset(tagged, 12);
  assert.deepEqual([tagged.readInt32BE(at), tagged.readInt32BE(at + 4)], [5, 6]);
  for (const cut of [5, 12, 20, 30]) assert.equal(fetchSessionOffset(tagged.subarray(0, cut), 12), -1, `cut at ${cut}`);
});
