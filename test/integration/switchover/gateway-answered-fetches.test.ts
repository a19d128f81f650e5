// 1. A Fetch the client sent to the old cluster before a switch is answered at once when the switch
// retires its connection, instead of waiting there for records that will not come. Before this,
// the retiring connection waited for the broker's long poll (the client's fetch.max.wait: 5 s for
// kafkajs, franz-go and @platformatic/kafka), or was cut at the drain timeout with no answer at
// all, and everything else the client had sent on it waited too: @platformatic/kafka counted the
// lost Fetch and the heartbeats behind it towards giving up its consumer (CI run of 86ec791:
// "fetch failed 4 times").
//
// 2. A Fetch that repeats the session id and epoch of a Fetch still waiting on the same connection
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

const TOKEN = 'retire-fetch-token';
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

describe('Fetches the gateway answers itself: at a switch, and repeats of one still waiting', () => {
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
      // Long enough that a Fetch cut at the drain timeout could not pass for one answered.
      switchover: { drainTimeoutMs: 20_000 },
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('a long-polling Fetch gets an answer without records and without a session, then the connection closes', { timeout: 120_000 }, async () => {
    const leader = await leaderOf(gw.bootstrap.orders, topic);
    const conn = await KafkaConnection.open(leader, PLAINTEXT, { requestTimeoutMs: 90_000 });
    let closed = false;
    try {
      // A full Fetch that opens a session, then one that continues it and waits up to 60 s for a
      // record that never comes (nothing writes to the topic).
      const first = await conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(topic, 0, 0, 0));
      assert.equal(first.errorCode, 0);
      assert.notEqual(first.sessionId, 0, 'blue opened a fetch session');

      const waiting = conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(topic, first.sessionId, 1, 60_000));
      const outcome = waiting.then((r) => ({ answer: r, at: Date.now() }), (err: Error) => ({ error: err.message, at: Date.now() }));
      await new Promise((r) => setTimeout(r, 500)); // on the broker, waiting

      const switchedAt = Date.now();
      const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'green', mode: 'hot', by: 'retire-answers-fetch test' }),
      });
      assert.equal(res.status, 200, await res.text());

      const got = await outcome;
      assert.ok('answer' in got, `the waiting Fetch was answered, not cut off (${'error' in got ? got.error : ''}, ${got.at - switchedAt} ms after the switch was asked)`);
      assert.equal(got.answer.errorCode, 0);
      assert.equal(got.answer.sessionId, 0, 'the session ends: the next Fetch is a full one, on the new cluster');
      assert.deepEqual(got.answer.responses, [], 'no records from the old cluster');

      // Then the connection closes: the client reconnects, to the new cluster.
      const next = await conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(topic, 0, 0, 0)).then(() => 'answered', (err: Error) => `failed: ${err.message}`);
      closed = next.startsWith('failed');
      assert.ok(closed, `a request after the retire is not served on the old connection (${next})`);
    } finally {
      if (!closed) conn.close();
    }
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
