// The filters that keep clients consistent across switches, driven through a fake connection:
// producer ids (tagged on the way out, rewritten on the way in with a valid CRC), KIP-848
// heartbeats of members from the old cluster, and topic ids translated both ways with a lookup
// when the gateway meets one it cannot place.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import { defaultConsumerGroupHeartbeatRequest } from '../../../src/protocol/generated/messages/consumer-group-heartbeat-request.ts';
import { defaultInitProducerIdRequest } from '../../../src/protocol/generated/messages/init-producer-id-request.ts';
import type { ProduceRequest } from '../../../src/protocol/generated/messages/produce-request.ts';
import { defaultShareGroupHeartbeatRequest } from '../../../src/protocol/generated/messages/share-group-heartbeat-request.ts';
import { ApiKey, apiCodec, decodeRequest, encodeRequest } from '../../../src/protocol/index.ts';
import { BATCH_PRODUCER_ID_OFFSET, scanProduceRequest } from '../../../src/protocol/produce-scan.ts';
import { decodeRecordBatches, encodeRecordBatch } from '../../../src/protocol/records.ts';
import type { FilterContext } from '../../../src/proxy/filter.ts';
import { GroupMembersFilter, groupMembers } from '../../../src/proxy/filters/group-members.ts';
import { ProducerIdFilter } from '../../../src/proxy/filters/producer-ids.ts';
import { TopicIdFilter } from '../../../src/proxy/filters/topic-ids.ts';
import { TopicUsageFilter } from '../../../src/proxy/filters/topic-usage.ts';
import { clientProducerId, rewrittenProducerId } from '../../../src/routing/producer-ids.ts';
import type { Route } from '../../../src/routing/route.ts';
import { RouteTopicIds, routeTopicId } from '../../../src/routing/topic-ids.ts';

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

function fakeContext(epoch: number, internal?: (apiKey: number, body: object) => object) {
  const rejoined: string[] = [];
  const noted: string[] = [];
  const route = {
    name: 'main',
    topicIds: new RouteTopicIds('main'),
    rejoined: (key: string) => rejoined.push(key),
    noteTopic: (name: string) => noted.push(name),
    epoch,
    previous: null,
    producerLookup: null,
  } as unknown as Route;
  const ctx: FilterContext = {
    id: 1,
    route,
    log: silent as never,
    state: new Map(),
    clientHost: '10.0.0.1',
    epoch,
    domain: 'green',
    expectRawSaslTokens() {},
    internalRequest: async <T extends object>(apiKey: number, _v: number, body: object) => {
      if (internal === undefined) throw new Error('no internal requests expected');
      return internal(apiKey, body) as T;
    },
  };
  return { ctx, rejoined, noted };
}

function batchWithProducer(producerId: bigint, values: string[]): Buffer {
  const b = encodeRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v) })));
  b.writeBigInt64BE(producerId, BATCH_PRODUCER_ID_OFFSET);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

function produceFrame(version: number, batches: { topic: string; partition: number; records: Buffer }[], transactionalId: string | null = null): Buffer {
  const topics = [...new Set(batches.map((b) => b.topic))].map((name) => ({
    name,
    topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
    partitionData: batches.filter((b) => b.topic === name).map((b) => ({ index: b.partition, records: b.records })),
  }));
  return encodeRequest(
    { requestApiKey: ApiKey.Produce, requestApiVersion: version, correlationId: 1, clientId: 'p', _unknownTaggedFields: undefined },
    { transactionalId, acks: -1, timeoutMs: 30000, topicData: topics },
  );
}

function producerIdsIn(frame: Buffer): bigint[] {
  const out: bigint[] = [];
  for (const t of decodeRequest<ProduceRequest>(frame).body.topicData) {
    for (const p of t.partitionData) {
      const r = Buffer.from(p.records!);
      out.push(r.readBigInt64BE(BATCH_PRODUCER_ID_OFFSET));
      decodeRecordBatches(r); // throws on a bad CRC
    }
  }
  return out;
}

test('InitProducerId answers for idempotent producers carry the epoch tag; transactional ones are untouched', () => {
  const f = new ProducerIdFilter();
  const { ctx } = fakeContext(3);
  const init = (txn: string | null) =>
    encodeRequest(
      { requestApiKey: ApiKey.InitProducerId, requestApiVersion: 4, correlationId: 1, clientId: 'p', _unknownTaggedFields: undefined },
      { ...defaultInitProducerIdRequest(), transactionalId: txn, transactionTimeoutMs: 60000 },
    );
  f.onRequest(ctx, init(null), ApiKey.InitProducerId, 4);
  f.onRequest(ctx, init('tx'), ApiKey.InitProducerId, 4);
  const r1 = { header: { correlationId: 1 }, headerVersion: 1, body: { throttleTimeMs: 0, errorCode: 0, producerId: 7n, producerEpoch: 0 } };
  const r2 = { header: { correlationId: 1 }, headerVersion: 1, body: { throttleTimeMs: 0, errorCode: 0, producerId: 8n, producerEpoch: 0 } };
  assert.equal(f.onResponse(ctx, ApiKey.InitProducerId, 4, r1 as never), true);
  assert.equal(r1.body.producerId, clientProducerId(7n, 3));
  assert.equal(f.onResponse(ctx, ApiKey.InitProducerId, 4, r2 as never), false);
  assert.equal(r2.body.producerId, 8n);
});

test('a producer from an earlier epoch is written under a rewritten id with a valid CRC, in every batch', () => {
  for (const version of [3, 8, 9, 12]) {
    const f = new ProducerIdFilter();
    const { ctx } = fakeContext(2);
    const old = clientProducerId(0n, 0); // id 0 from blue, before the first switch
    const frame = produceFrame(version, [
      { topic: 'orders', partition: 0, records: batchWithProducer(old, ['a', 'b']) },
      { topic: 'orders', partition: 1, records: batchWithProducer(old, ['c']) },
      { topic: 'audit', partition: 0, records: batchWithProducer(old, ['d']) },
    ]);
    assert.equal(f.cutThrough(ctx), false, 'the first request is read whole');
    const action = f.onRequest(ctx, frame, ApiKey.Produce, version);
    assert.ok(action !== undefined && 'replace' in action, `v${version}`);
    assert.deepEqual(producerIdsIn(action.replace), [rewrittenProducerId(old, 2), rewrittenProducerId(old, 2), rewrittenProducerId(old, 2)]);
    assert.equal(f.cutThrough(ctx), false, 'such a producer is read whole every time');
  }
});

test('a producer of the current epoch, a non-idempotent and a transactional one pass untouched and then cut through', () => {
  for (const [label, id, txn] of [
    ['current', clientProducerId(5n, 4), null],
    ['non-idempotent', -1n, null],
    ['untagged', 12n, null],
  ] as const) {
    const f = new ProducerIdFilter();
    const { ctx } = fakeContext(4);
    const frame = produceFrame(9, [{ topic: 't', partition: 0, records: batchWithProducer(id, ['x']) }], txn);
    const copy = Buffer.from(frame);
    assert.equal(f.onRequest(ctx, frame, ApiKey.Produce, 9), undefined, label);
    assert.deepEqual(frame, copy, `${label}: not modified`);
    assert.equal(f.cutThrough(ctx), true, `${label}: later requests cut through`);
  }
});

test('a KIP-848 member from the old cluster is told it is unknown (not the fatal GROUP_ID_NOT_FOUND); its join releases its fetches', () => {
  const f = new GroupMembersFilter();
  const { ctx, rejoined } = fakeContext(1);
  const hb = (epoch: number) =>
    encodeRequest(
      { requestApiKey: ApiKey.ConsumerGroupHeartbeat, requestApiVersion: 0, correlationId: 1, clientId: 'c1', _unknownTaggedFields: undefined },
      {
        ...defaultConsumerGroupHeartbeatRequest(),
        groupId: 'g',
        memberId: 'm1',
        memberEpoch: epoch,
        subscribedTopicNames: epoch === 0 ? ['orders'] : null,
      },
    );
  const response = (errorCode: number, epoch: number) => ({
    header: { correlationId: 1 },
    headerVersion: 1,
    body: {
      throttleTimeMs: 0,
      errorCode,
      errorMessage: null as string | null,
      memberId: 'm1',
      memberEpoch: epoch,
      heartbeatIntervalMs: 5000,
      assignment: null,
    },
  });
  f.onRequest(ctx, hb(17), ApiKey.ConsumerGroupHeartbeat);
  const stale = response(69, -1);
  assert.equal(f.onResponse(ctx, ApiKey.ConsumerGroupHeartbeat, 0, stale as never), true);
  assert.equal(stale.body.errorCode, 25);
  f.onRequest(ctx, hb(0), ApiKey.ConsumerGroupHeartbeat);
  assert.equal(f.onResponse(ctx, ApiKey.ConsumerGroupHeartbeat, 0, response(0, 1) as never), false);
  assert.deepEqual(rejoined, ['10.0.0.1|c1']);
});

test('topic ids: responses get the route id, requests the cluster id, and an unknown cluster waits for a listing', async () => {
  const listings: number[] = [];
  const { ctx } = fakeContext(1, (apiKey) => {
    listings.push(apiKey);
    const topics = [{ errorCode: 0, name: 'orders', topicId: 'GREENGREENGREENGREENGA', isInternal: false, partitions: [], topicAuthorizedOperations: 0 }];
    if (listings.length > 1) topics.push({ ...topics[0], name: 'created-later', topicId: 'NEWNEWNEWNEWNEWNEWNEWA' });
    return { throttleTimeMs: 0, brokers: [], clusterId: null, controllerId: 1, topics, clusterAuthorizedOperations: 0 };
  });
  const f = new TopicIdFilter();
  const routeId = routeTopicId('main', 'orders');
  // A KIP-848 heartbeat naming its owned partitions by the route's id, before the gateway knows green's ids.
  const frame = encodeRequest(
    { requestApiKey: ApiKey.ConsumerGroupHeartbeat, requestApiVersion: 0, correlationId: 1, clientId: 'c', _unknownTaggedFields: undefined },
    {
      ...defaultConsumerGroupHeartbeatRequest(),
      groupId: 'g',
      memberId: 'm',
      memberEpoch: 3,
      topicPartitions: [{ topicId: routeId, partitions: [0] }],
    },
  );
  ctx.route.topicIds.routeId('orders');
  const first = f.onRequest(ctx, frame, ApiKey.ConsumerGroupHeartbeat, 0);
  assert.ok(first !== undefined && 'defer' in first);
  await first.defer;
  assert.deepEqual(listings, [ApiKey.Metadata]);
  const second = f.onRequest(ctx, frame, ApiKey.ConsumerGroupHeartbeat, 0);
  assert.ok(second !== undefined && 'replace' in second);
  const sent = decodeRequest<{ topicPartitions: { topicId: string }[] }>(second.replace).body;
  assert.equal(sent.topicPartitions[0].topicId, 'GREENGREENGREENGREENGA');
  // The answer's assignment comes back with the route's id.
  const res = {
    header: { correlationId: 1 },
    headerVersion: 1,
    body: {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      memberId: 'm',
      memberEpoch: 4,
      heartbeatIntervalMs: 5000,
      assignment: { topicPartitions: [{ topicId: 'GREENGREENGREENGREENGA', partitions: [0, 1] }] },
    },
  };
  assert.equal(f.onResponse(ctx, ApiKey.ConsumerGroupHeartbeat, 0, res as never), true);
  assert.equal(res.body.assignment.topicPartitions[0].topicId, routeId);
  // An assignment naming a topic created since the listing waits for a new listing (a few seconds later).
  const fresh = {
    header: { correlationId: 1 },
    headerVersion: 1,
    body: { ...res.body, assignment: { topicPartitions: [{ topicId: 'NEWNEWNEWNEWNEWNEWNEWA', partitions: [0] }] } },
  };
  assert.equal(f.prepareResponse(ctx, ApiKey.ConsumerGroupHeartbeat, 0, fresh as never), undefined, 'not listed again within a few seconds');
  (ctx.route.topicIds as unknown as { clusters: Map<string, { loadedAt: number }> }).clusters.get('green')!.loadedAt = 0;
  const wait = f.prepareResponse(ctx, ApiKey.ConsumerGroupHeartbeat, 0, fresh as never);
  assert.ok(wait !== undefined);
  await wait;
  assert.equal(listings.length, 2);
  assert.equal(f.onResponse(ctx, ApiKey.ConsumerGroupHeartbeat, 0, fresh as never), true);
  assert.equal(fresh.body.assignment.topicPartitions[0].topicId, routeTopicId('main', 'created-later'));
  // Metadata: the route's id whatever the cluster's.
  const md = {
    header: { correlationId: 1 },
    headerVersion: 1,
    body: { topics: [{ errorCode: 0, name: 'payments', topicId: 'BLUEBLUEBLUEBLUEBLUEBA', isInternal: false, partitions: [] }] },
  };
  assert.equal(f.onResponse(ctx, ApiKey.Metadata, 12, md as never), true);
  assert.equal(md.body.topics[0].topicId, routeTopicId('main', 'payments'));
});

test('topics in use come from Produce requests, whole or passing in pieces', () => {
  const f = new TopicUsageFilter();
  const { ctx, noted } = fakeContext(0);
  const frame = produceFrame(9, [
    { topic: 'orders', partition: 0, records: batchWithProducer(-1n, ['a']) },
    { topic: 'audit', partition: 0, records: batchWithProducer(-1n, ['b'.repeat(20_000)]) },
  ]);
  f.onRequest(ctx, frame, ApiKey.Produce, 9);
  assert.deepEqual(noted, ['orders', 'audit']);
  const other = fakeContext(0);
  const observe = f.cutThrough(other.ctx);
  for (let i = 0; i < frame.length; i += 1000) observe(frame.subarray(i, i + 1000));
  assert.deepEqual(other.noted, ['orders', 'audit']);
  // The connection's next cut-through request is read from its start again.
  const next = produceFrame(9, [{ topic: 'later', partition: 0, records: batchWithProducer(-1n, ['c'.repeat(20_000)]) }]);
  const observeNext = f.cutThrough(other.ctx);
  for (let i = 0; i < next.length; i += 1000) observeNext(next.subarray(i, i + 1000));
  assert.deepEqual(other.noted, ['orders', 'audit', 'later']);
  scanProduceRequest(frame, {}); // the frame is intact
});

test('a KIP-932 share group member from the old cluster is told it is unknown too, and is remembered for leaving', () => {
  const f = new GroupMembersFilter();
  const { ctx } = fakeContext(1);
  const v = apiCodec(ApiKey.ShareGroupHeartbeat)!.minVersion;
  const hb = (epoch: number) =>
    encodeRequest(
      { requestApiKey: ApiKey.ShareGroupHeartbeat, requestApiVersion: v, correlationId: 1, clientId: 's1', _unknownTaggedFields: undefined },
      {
        ...defaultShareGroupHeartbeatRequest(),
        groupId: 'sg',
        memberId: 'sm',
        memberEpoch: epoch,
        subscribedTopicNames: epoch === 0 ? ['orders'] : null,
      },
    );
  const response = (errorCode: number, epoch: number) => ({
    header: { correlationId: 1 },
    headerVersion: 1,
    body: {
      throttleTimeMs: 0,
      errorCode,
      errorMessage: null as string | null,
      memberId: 'sm',
      memberEpoch: epoch,
      heartbeatIntervalMs: 5000,
      assignment: null,
    },
  });
  f.onRequest(ctx, hb(0), ApiKey.ShareGroupHeartbeat);
  assert.equal(f.onResponse(ctx, ApiKey.ShareGroupHeartbeat, v, response(0, 1) as never), false);
  assert.equal(groupMembers(ctx)?.get('sg')?.protocol, 'share');
  f.onRequest(ctx, hb(4), ApiKey.ShareGroupHeartbeat);
  const stale = response(69, -1);
  assert.equal(f.onResponse(ctx, ApiKey.ShareGroupHeartbeat, v, stale as never), true);
  assert.equal(stale.body.errorCode, 25);
});

test("the producer-ids filter holds a replaced producer's batch that would reach the new cluster ahead of the next one", async () => {
  const issued = clientProducerId(3n, 1); // given out on green in epoch 1; the route is in epoch 2 (blue)
  const asked: string[] = [];
  let blueHolds = false;
  const route = {
    name: 'main',
    epoch: 2,
    domainName: 'blue',
    log: silent,
    topicIds: new RouteTopicIds('main'),
    noteTopic() {},
    previous: { domain: { name: 'green' }, listener: { id: 'x' }, epoch: 1 },
    upstream: { domain: { name: 'blue' }, listener: { id: 'x' } },
    metrics: { producerBatchesHeldBack() {} },
    producerLookup: async (domain: { name: string }, _l: unknown, id: bigint, keys: readonly string[]) => {
      asked.push(`${domain.name} ${id === issued ? 'issued id' : id === rewrittenProducerId(issued, 2) ? 'rewritten id' : String(id)} ${keys.join(',')}`);
      if (domain.name === 'green') return new Map([['orders:0', { epoch: 0, lastSequence: 4 }]]);
      return new Map([['orders:0', blueHolds ? { epoch: 0, lastSequence: 9 } : null]]);
    },
  } as unknown as Route;
  const ctx: FilterContext = {
    id: 7,
    route,
    log: silent as never,
    state: new Map(),
    clientHost: '10.0.0.1',
    epoch: 2,
    domain: 'blue',
    expectRawSaslTokens() {},
    internalRequest: async () => {
      throw new Error('none expected');
    },
  };
  const batch = (baseSequence: number) => {
    const b = batchWithProducer(issued, ['x', 'y', 'z', 'u', 'v']);
    b.writeInt16BE(0, 51);
    b.writeInt32BE(baseSequence, 53);
    b.writeUInt32BE(crc32c(b.subarray(21)), 17);
    return produceFrame(9, [{ topic: 'orders', partition: 0, records: b }]);
  };
  const f = new ProducerIdFilter();
  const run = async (frame: Buffer, on: FilterContext = ctx) => {
    for (let i = 0; i < 5; i++) {
      const action = f.onRequest(on, Buffer.from(frame), ApiKey.Produce, 9);
      if (action === undefined || !('defer' in action)) return action;
      await action.defer;
    }
    throw new Error('still deferred');
  };

  const ahead = await run(batch(10));
  assert.ok(ahead !== undefined && 'respond' in ahead, 'sequence 10 while 5 is next: answered by the gateway');
  const { decodeResponse } = await import('../../../src/protocol/index.ts');
  const answer = decodeResponse<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(ahead.respond, ApiKey.Produce, 9).body;
  assert.equal(answer.responses[0].partitionResponses[0].errorCode, 6, 'NOT_LEADER_OR_FOLLOWER: retried after the batches before it');
  assert.deepEqual(asked, ['green issued id orders:0', 'blue rewritten id orders:0'], 'green (where it was issued) by its own id, blue by the replaced one');

  const next = await run(batch(5));
  assert.ok(next !== undefined && 'replace' in next, 'sequence 5 goes on');
  assert.deepEqual(producerIdsIn(next.replace), [rewrittenProducerId(issued, 2)]);

  // Sequence 10 retried on another connection: it waits until blue holds the producer.
  const other: FilterContext = { ...ctx, id: 8, state: new Map() };
  const early = await run(batch(10), other);
  assert.ok(early !== undefined && 'respond' in early, 'while blue has not written 5-9, still held back');
  blueHolds = true; // blue wrote 5-9: the broker keeps the order from here
  const retried = await run(batch(10), other);
  assert.ok(retried !== undefined && 'replace' in retried, 'sequence 10, retried, goes on');
});
