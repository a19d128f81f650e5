// A Fetch that repeats the session id and epoch of a Fetch still waiting on the same connection
// is answered by the gateway (no records, session id 0) instead of reaching the broker, which
// would refuse it INVALID_FETCH_SESSION_EPOCH. @platformatic/kafka sends such pairs after a switch
// changed a broker's node id, and three refusals end its consumer stream (the other half of that
// CI failure; traced by a helper: its retried fetch took the session of the fetch loop already
// running on the new node).
//
// Clusters sw-blue / sw-green as in hot-switch.test.ts (shared by name in a run).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testBed, type ClusterDescriptor } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition, defaultFetchRequestFetchTopic, type FetchRequest } from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { createTopic } from '../../support/clients/kafkajs.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'fetch-session-token';
const PLAINTEXT = { protocol: 'PLAINTEXT' } as const;

/** The gateway address of the leader of `topic`-0, from the gateway's metadata. */
async function leaderOf(bootstrap: string, topic: string): Promise<{ host: string; port: number }> {
  const [host, port] = bootstrap.split(':');
  const boot = await KafkaConnection.open({ host, port: Number(port) }, PLAINTEXT);
  try {
    const md = await boot.request<MetadataResponse>(ApiKey.Metadata, 12, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const t = md.topics.find((x) => x.name === topic);
    assert.ok(t !== undefined && t.errorCode === 0, `topic ${topic} in the gateway's metadata: ${JSON.stringify(t)}`);
    const b = md.brokers.find((x) => x.nodeId === t.partitions[0].leaderId)!;
    return { host: b.host, port: b.port };
  } finally {
    boot.close();
  }
}

/** A Fetch of `topic`-0 from offset 0 in session (id, epoch), waiting up to maxWaitMs for a record. */
const fetchBody = (topic: string, sessionId: number, sessionEpoch: number, maxWaitMs: number): FetchRequest => ({
  ...defaultFetchRequest(), maxWaitMs, minBytes: 1, maxBytes: 1 << 20, sessionId, sessionEpoch,
  topics: [{ ...defaultFetchRequestFetchTopic(), topic, partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
});

describe('a Fetch repeating the session and epoch of one still waiting', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let gw: TestGateway;
  const topic = uniqueName('rf-idle');

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'sw-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'sw-green', brokers: 3, nodeIdBase: 401 }),
    ]);
    await Promise.all([blue, green].map((c) => createTopic({ bootstrap: c.bootstrap() }, topic, { partitions: 1 })));
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'plaintext', brokerPortCount: 16 }],
      adminToken: TOKEN,
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('a Fetch repeating the session and epoch of one still waiting on the connection is answered by the gateway, not refused by the broker', { timeout: 60_000 }, async () => {
    // @platformatic/kafka sends such pairs after a switch changed a broker's node id (its retried
    // fetch takes the session of the fetch loop running on that node); the broker answers the
    // first, moves the session on, and refuses the second INVALID_FETCH_SESSION_EPOCH (71): three
    // of those and the client gives up its consumer stream.
    const leader = await leaderOf(gw.bootstrap.orders, topic);
    const conn = await KafkaConnection.open(leader, PLAINTEXT, { requestTimeoutMs: 30_000 });
    try {
      const first = await conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(topic, 0, 0, 0));
      assert.equal(first.errorCode, 0);
      assert.notEqual(first.sessionId, 0);
      const [a, b] = await Promise.all([
        conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(topic, first.sessionId, 1, 300)),
        conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(topic, first.sessionId, 1, 300)),
      ]);
      assert.equal(a.errorCode, 0, 'the first goes to the broker');
      assert.equal(a.sessionId, first.sessionId);
      assert.equal(b.errorCode, 0, 'the second is not refused INVALID_FETCH_SESSION_EPOCH');
      assert.equal(b.sessionId, 0, 'it ends the client\'s session: its next Fetch is a full one');
      assert.deepEqual(b.responses.map((t) => t.topic), [topic], 'it lists what was asked, without records');
    } finally {
      conn.close();
    }
  });
});
