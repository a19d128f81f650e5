// Two fixes of the data path at switches, against real brokers through the gateway. Clusters
// sw-blue / sw-green as in hot-switch.test.ts (shared by name in a run); route "orders" on blue.
//
// 1. A Fetch that repeats the session id and epoch of a Fetch still waiting on the same connection
// is answered by the gateway (no records, session id 0) instead of reaching the broker, which
// would refuse it INVALID_FETCH_SESSION_EPOCH. @platformatic/kafka sends such pairs after a switch
// changed a broker's node id, and three refusals end its consumer stream (the other half of that
// CI failure; traced by a helper: its retried fetch took the session of the fetch loop already
// running on the new node).
//
// 2. An idempotent producer's batches reach the cluster a route switched to in sequence order
// (src/proxy/sequence-gate.ts). The race it closes, seen once in ~7 CI runs of
// clients-across-switch ("green p1: i-267@11 then i-272@0"): after a switch, a client's retried
// batch goes to a broker that no longer leads the partition while its next batch already reaches
// the new leader; the new cluster has never seen the producer's (replaced) id, so it takes that
// later batch as the start, refuses the earlier one OUT_OF_ORDER_SEQUENCE_NUMBER, and Java bumps
// its epoch and writes the earlier records after the later ones.
//
// Here the race is made on purpose with raw requests through the gateway: an idempotent producer
// writes sequences 0-4 on blue; after a hot switch to green, it sends 10-14 (as if 5-9 were in
// flight elsewhere) and then 5-9. Without the gate green writes 10-14 first and refuses 5-9.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import {
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultFetchRequestFetchTopic,
  type FetchRequest,
} from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { defaultInitProducerIdRequest } from '../../../src/protocol/generated/messages/init-producer-id-request.ts';
import type { InitProducerIdResponse } from '../../../src/protocol/generated/messages/init-producer-id-response.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import {
  defaultProduceRequest,
  defaultProduceRequestPartitionProduceData,
  defaultProduceRequestTopicProduceData,
} from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { BATCH_BASE_SEQUENCE_OFFSET, BATCH_CRC_OFFSET, BATCH_PRODUCER_EPOCH_OFFSET, BATCH_PRODUCER_ID_OFFSET } from '../../../src/protocol/produce-scan.ts';
import { decodeRecordBatches, encodeRecordBatch } from '../../../src/protocol/records.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import { createTopic } from '../../support/clients/kafkajs.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'data-path-switch-token';
const PLAINTEXT = { protocol: 'PLAINTEXT' } as const;
const NOT_LEADER_OR_FOLLOWER = 6;

/** An idempotent batch of `count` records "v<seq>" from `baseSequence` on. */
function idempotentBatch(producerId: bigint, epoch: number, baseSequence: number, count: number): Buffer {
  const b = encodeRecordBatch(Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${baseSequence + i}`) })));
  b.writeBigInt64BE(producerId, BATCH_PRODUCER_ID_OFFSET);
  b.writeInt16BE(epoch, BATCH_PRODUCER_EPOCH_OFFSET);
  b.writeInt32BE(baseSequence, BATCH_BASE_SEQUENCE_OFFSET);
  b.writeUInt32BE(crc32c(b.subarray(BATCH_CRC_OFFSET + 4)), BATCH_CRC_OFFSET);
  return b;
}

async function leaderAddress(bootstrap: string, topic: string): Promise<{ host: string; port: number }> {
  const [host, port] = bootstrap.split(':');
  const c = await KafkaConnection.open({ host, port: Number(port) }, PLAINTEXT);
  try {
    for (let i = 0; ; i++) {
      const md = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
        topics: [{ name: topic, topicId: ZERO_UUID }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      const t = md.topics.find((x) => x.name === topic);
      const leaderId = t?.partitions[0]?.leaderId ?? -1;
      const b = md.brokers.find((x) => x.nodeId === leaderId);
      if (t?.errorCode === 0 && b !== undefined) return { host: b.host, port: b.port };
      if (i > 50) throw new Error(`no leader for ${topic}-0 through ${bootstrap}: ${JSON.stringify(t)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    c.close();
  }
}

/** A Fetch of `topic`-0 from offset 0 in session (id, epoch), waiting up to maxWaitMs for a record. */
const fetchBody = (topic: string, sessionId: number, sessionEpoch: number, maxWaitMs: number): FetchRequest => ({
  ...defaultFetchRequest(),
  maxWaitMs,
  minBytes: 1,
  maxBytes: 1 << 20,
  sessionId,
  sessionEpoch,
  topics: [
    {
      ...defaultFetchRequestFetchTopic(),
      topic,
      partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
    },
  ],
});

describe('the data path at switches: repeated fetch sessions, idempotent producers in order', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let gw: TestGateway;
  const topic = uniqueName('io-orders');
  const fetchTopic = uniqueName('rf-idle');

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'sw-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'sw-green', brokers: 3, nodeIdBase: 401 }),
    ]);
    await Promise.all([blue, green].flatMap((c) => [topic, fetchTopic].map((name) => createTopic({ bootstrap: c.bootstrap() }, name, { partitions: 1 }))));
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'plaintext', brokerPortCount: 16 }],
      adminToken: TOKEN,
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('a Fetch repeating the session and epoch of one still waiting on the connection is answered by the gateway, not refused by the broker', {
    timeout: 60_000,
  }, async () => {
    // @platformatic/kafka sends such pairs after a switch changed a broker's node id (its retried
    // fetch takes the session of the fetch loop running on that node); the broker answers the
    // first, moves the session on, and refuses the second INVALID_FETCH_SESSION_EPOCH (71): three
    // of those and the client gives up its consumer stream.
    const leader = await leaderAddress(gw.bootstrap.orders, fetchTopic);
    const conn = await KafkaConnection.open(leader, PLAINTEXT, { requestTimeoutMs: 30_000 });
    try {
      const first = await conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(fetchTopic, 0, 0, 0));
      assert.equal(first.errorCode, 0);
      assert.notEqual(first.sessionId, 0);
      const [a, b] = await Promise.all([
        conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(fetchTopic, first.sessionId, 1, 300)),
        conn.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody(fetchTopic, first.sessionId, 1, 300)),
      ]);
      assert.equal(a.errorCode, 0, 'the first goes to the broker');
      assert.equal(a.sessionId, first.sessionId);
      assert.equal(b.errorCode, 0, 'the second is not refused INVALID_FETCH_SESSION_EPOCH');
      assert.equal(b.sessionId, 0, "it ends the client's session: its next Fetch is a full one");
      assert.deepEqual(
        b.responses.map((t) => t.topic),
        [fetchTopic],
        'it lists what was asked, without records',
      );
    } finally {
      conn.close();
    }
  });

  test('a batch sent ahead of the next one is refused for a retry; the next one is written first', { timeout: 120_000 }, async () => {
    const [host, port] = gw.bootstrap.orders.split(':');
    const boot = await KafkaConnection.open({ host, port: Number(port) }, PLAINTEXT);
    let init: InitProducerIdResponse;
    for (let i = 0; ; i++) {
      // A fresh cluster may answer COORDINATOR_LOAD_IN_PROGRESS (14) or NOT_COORDINATOR for a while.
      init = await boot.request<InitProducerIdResponse>(ApiKey.InitProducerId, 4, {
        ...defaultInitProducerIdRequest(),
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      if (init.errorCode === 0 || i > 100) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    boot.close();
    assert.equal(init.errorCode, 0);
    const { producerId, producerEpoch } = init;

    const produce = async (conn: KafkaConnection, baseSequence: number, count: number) => {
      const res = await conn.request<ProduceResponse>(ApiKey.Produce, 9, {
        ...defaultProduceRequest(),
        acks: -1,
        timeoutMs: 10_000,
        topicData: [
          {
            ...defaultProduceRequestTopicProduceData(),
            name: topic,
            partitionData: [
              { ...defaultProduceRequestPartitionProduceData(), index: 0, records: idempotentBatch(producerId, producerEpoch, baseSequence, count) },
            ],
          },
        ],
      });
      return res.responses[0].partitionResponses[0].errorCode;
    };

    const onBlue = await KafkaConnection.open(await leaderAddress(gw.bootstrap.orders, topic), PLAINTEXT, { requestTimeoutMs: 30_000 });
    assert.equal(await produce(onBlue, 0, 5), 0, 'sequences 0-4 written on blue');

    const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green', mode: 'hot', by: 'idempotent-order test' }),
    });
    assert.equal(res.status, 200, await res.text());
    onBlue.close();

    const onGreen = await KafkaConnection.open(await leaderAddress(gw.bootstrap.orders, topic), PLAINTEXT, { requestTimeoutMs: 30_000 });
    try {
      assert.equal(await produce(onGreen, 10, 5), NOT_LEADER_OR_FOLLOWER, 'sequences 10-14 arrive ahead of 5-9: refused for a retry, not written');
      assert.equal(await produce(onGreen, 5, 5), 0, 'sequences 5-9 written');
      assert.equal(await produce(onGreen, 10, 5), 0, 'sequences 10-14, retried after them, written');
    } finally {
      onGreen.close();
    }

    // On green, in sequence order.
    const direct = await KafkaConnection.open(await leaderAddress(green.bootstrap().split(',')[0], topic), PLAINTEXT);
    try {
      const f = await direct.request<FetchResponse>(ApiKey.Fetch, 12, {
        ...defaultFetchRequest(),
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            ...defaultFetchRequestFetchTopic(),
            topic,
            partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
          },
        ],
      });
      const values = decodeRecordBatches(f.responses[0].partitions[0].records ?? new Uint8Array(0)).map((r) => r.value?.toString());
      assert.deepEqual(values, ['v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12', 'v13', 'v14']);
    } finally {
      direct.close();
    }

    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /turnout_producer_batches_held_back_total\{route="orders"\} 1\b/);
  });
});
