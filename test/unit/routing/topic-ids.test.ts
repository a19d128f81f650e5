// Topic ids through a route: one id per (route, topic) on every cluster, translated both ways,
// and the list of fields that carry topic ids comes from the message definitions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey } from '../../../src/protocol/index.ts';
import { apiKeysCarryingTopicIds, carriesTopicIds, forEachTopicId } from '../../../src/protocol/topic-id-fields.ts';
import { isInternalTopic, isOffsetTranslationEvidence } from '../../../src/routing/internal-topics.ts';
import { RouteTopicIds, routeTopicId } from '../../../src/routing/topic-ids.ts';

test('a topic has the same id on every gateway, whatever cluster the route points at', () => {
  const a = routeTopicId('main', 'orders');
  assert.equal(a, routeTopicId('main', 'orders'));
  assert.equal(a.length, 22);
  assert.notEqual(a, routeTopicId('main', 'payments'));
  assert.notEqual(a, routeTopicId('other', 'orders'));
  const ids = new RouteTopicIds('main');
  ids.learn('blue', 'orders', 'b1b1b1b1b1b1b1b1b1b1bA');
  ids.learn('green', 'orders', 'g2g2g2g2g2g2g2g2g2g2gA');
  assert.equal(ids.nameOfRouteId(a), 'orders');
  assert.equal(ids.clusterId('blue', 'orders'), 'b1b1b1b1b1b1b1b1b1b1bA');
  assert.equal(ids.clusterId('green', 'orders'), 'g2g2g2g2g2g2g2g2g2g2gA');
  assert.equal(ids.nameOfClusterId('green', 'g2g2g2g2g2g2g2g2g2g2gA'), 'orders');
  // Deleted and created again: the new id replaces the old.
  ids.learn('green', 'orders', 'g3g3g3g3g3g3g3g3g3g3gA');
  assert.equal(ids.nameOfClusterId('green', 'g2g2g2g2g2g2g2g2g2g2gA'), undefined);
});

test('reloads share one listing and never reject', async () => {
  const ids = new RouteTopicIds('main');
  let calls = 0;
  const list = async () => {
    calls++;
    return [{ name: 't', id: 'tttttttttttttttttttttA' }];
  };
  assert.equal(ids.loaded('blue'), false);
  await Promise.all([ids.reload('blue', list), ids.reload('blue', list)]);
  assert.equal(calls, 1);
  assert.equal(ids.loaded('blue'), true);
  assert.equal(ids.mayReload('blue'), false, 'not again within a few seconds');
  await ids.reload('red', async () => {
    throw new Error('no');
  });
  assert.equal(ids.loaded('red'), true);
});

test('the topic-id fields come from the message definitions', () => {
  const req = apiKeysCarryingTopicIds('request');
  const res = apiKeysCarryingTopicIds('response');
  for (const k of [ApiKey.Metadata, ApiKey.ConsumerGroupHeartbeat, ApiKey.OffsetCommit, ApiKey.OffsetFetch, ApiKey.Fetch, ApiKey.Produce, ApiKey.DeleteTopics])
    assert.ok(req.includes(k), `request ${k}`);
  for (const k of [ApiKey.Metadata, ApiKey.CreateTopics, ApiKey.DescribeTopicPartitions, ApiKey.ConsumerGroupDescribe, ApiKey.ConsumerGroupHeartbeat])
    assert.ok(res.includes(k), `response ${k}`);
  assert.equal(carriesTopicIds(ApiKey.Metadata, 'response', 9), false);
  assert.equal(carriesTopicIds(ApiKey.Metadata, 'response', 10), true);
  assert.equal(carriesTopicIds(ApiKey.Fetch, 'request', 12), false);
  assert.equal(carriesTopicIds(ApiKey.OffsetCommit, 'request', 9), false);
  const body = {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    memberId: 'm',
    memberEpoch: 3,
    heartbeatIntervalMs: 5000,
    assignment: {
      topicPartitions: [
        { topicId: 'aaaaaaaaaaaaaaaaaaaaaA', partitions: [0, 1] },
        { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [2] },
      ],
    },
  };
  const seen: string[] = [];
  forEachTopicId(ApiKey.ConsumerGroupHeartbeat, 'response', 0, body, (h) => {
    seen.push(h.holder[h.idProp] as string);
    assert.equal(h.nameProp, null);
  });
  assert.deepEqual(seen, ['aaaaaaaaaaaaaaaaaaaaaA'], 'zero ids are no topic');
});

test('internal topics of Kafka, MirrorMaker 2 and the gateway are never in use', () => {
  for (const t of [
    '__consumer_offsets',
    '__transaction_state',
    'heartbeats',
    'blue.heartbeats',
    'green.checkpoints.internal',
    'mm2-offset-syncs.blue.internal',
    'mm2-configs.blue.internal',
    'mm2-status.green.internal',
    'mm2-offsets.green.internal',
  ]) {
    assert.ok(isInternalTopic(t), t);
  }
  assert.ok(isInternalTopic('_turnout_state', new Set(['_turnout_state'])));
  for (const t of ['orders', 'blue.orders', 'heartbeat-events', 'mm2-data']) assert.ok(!isInternalTopic(t), t);
});

test('a route topic id is the SHA-256 of route and name; one that would read as an option takes the next salt', () => {
  // Every gateway version must give the same ids: clients hold them across restarts and upgrades.
  assert.equal(routeTopicId('main', 'orders'), 'dcNPTczXEiXZyC8_7U5yFQ');
  // Salt 0 gives "-IIcf2vuB1Xvd_5WuEGMYQ" for this name.
  assert.equal(routeTopicId('main', 'topic-10'), 'uja7dGzCkWnTY1P0JntHRg');
});

test("the zero id and the metadata topic's id name no client topic: they are never learned", () => {
  const ids = new RouteTopicIds('main');
  ids.learn('blue', 'a', 'AAAAAAAAAAAAAAAAAAAAAA');
  ids.learn('blue', '__cluster_metadata', 'AAAAAAAAAAAAAAAAAAAAAQ');
  assert.equal(ids.clusterId('blue', 'a'), undefined);
  assert.equal(ids.nameOfClusterId('blue', 'AAAAAAAAAAAAAAAAAAAAAQ'), undefined);
  assert.equal(ids.nameOfRouteId(routeTopicId('main', 'a')), undefined, 'nor given a route id');
});

test('a topic listing is fetched again at most every 5 s; whoever asks during a fetch joins it', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const ids = new RouteTopicIds('main');
  assert.equal(ids.mayReload('blue'), true, 'never fetched');
  await ids.reload('blue', async () => []);
  assert.equal(ids.mayReload('blue'), false);
  t.mock.timers.tick(4_999);
  assert.equal(ids.mayReload('blue'), false);
  t.mock.timers.tick(1);
  assert.equal(ids.mayReload('blue'), true, 'exactly 5 s later');
  await ids.reload('blue', async () => []);
  let release: (topics: { name: string; id: string }[]) => void = () => undefined;
  const pending = ids.reload('blue', () => new Promise((resolve) => (release = resolve)));
  assert.equal(ids.mayReload('blue'), true, 'a fetch is under way, however recent the last one');
  release([{ name: 'orders', id: 'o1o1o1o1o1o1o1o1o1o1oA' }]);
  await pending;
  assert.equal(ids.clusterId('blue', 'orders'), 'o1o1o1o1o1o1o1o1o1o1oA');
  assert.equal(ids.mayReload('blue'), false);
});

test("only the exact names of Kafka's and MirrorMaker 2's topics are internal, not client topics that contain one", () => {
  for (const t of ['orders.mm2-configs.blue', 'x-mm2-status.blue', 'mm2-offset-syncs.blue.internal.old', 'orders.heartbeats.v2', '_orders']) {
    assert.equal(isInternalTopic(t), false, t);
  }
  for (const t of ['backup-mm2-offset-syncs.blue.internal', 'blue.checkpoints.internal.old.internal', 'mm2-offset-syncs.blue.internal.old']) {
    assert.equal(isOffsetTranslationEvidence(t), false, t);
  }
  assert.equal(isOffsetTranslationEvidence('mm2-offset-syncs.blue.internal'), true);
  assert.equal(isOffsetTranslationEvidence('blue.checkpoints.internal'), true);
});
