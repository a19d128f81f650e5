// Topic ids through a route: one id per (route, topic) on every cluster, translated both ways,
// and the list of fields that carry topic ids comes from the message definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTopicIds, routeTopicId } from '../../../src/routing/topic-ids.ts';
import { apiKeysCarryingTopicIds, carriesTopicIds, forEachTopicId } from '../../../src/protocol/topic-id-fields.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { isInternalTopic } from '../../../src/routing/internal-topics.ts';

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
  for (const k of [ApiKey.Metadata, ApiKey.ConsumerGroupHeartbeat, ApiKey.OffsetCommit, ApiKey.OffsetFetch, ApiKey.Fetch, ApiKey.Produce, ApiKey.DeleteTopics]) assert.ok(req.includes(k), `request ${k}`);
  for (const k of [ApiKey.Metadata, ApiKey.CreateTopics, ApiKey.DescribeTopicPartitions, ApiKey.ConsumerGroupDescribe, ApiKey.ConsumerGroupHeartbeat]) assert.ok(res.includes(k), `response ${k}`);
  assert.equal(carriesTopicIds(ApiKey.Metadata, 'response', 9), false);
  assert.equal(carriesTopicIds(ApiKey.Metadata, 'response', 10), true);
  assert.equal(carriesTopicIds(ApiKey.Fetch, 'request', 12), false);
  assert.equal(carriesTopicIds(ApiKey.OffsetCommit, 'request', 9), false);
  const body = {
    throttleTimeMs: 0, errorCode: 0, errorMessage: null, memberId: 'm', memberEpoch: 3, heartbeatIntervalMs: 5000,
    assignment: { topicPartitions: [{ topicId: 'aaaaaaaaaaaaaaaaaaaaaA', partitions: [0, 1] }, { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [2] }] },
  };
  const seen: string[] = [];
  forEachTopicId(ApiKey.ConsumerGroupHeartbeat, 'response', 0, body, (h) => {
    seen.push(h.holder[h.idProp] as string);
    assert.equal(h.nameProp, null);
  });
  assert.deepEqual(seen, ['aaaaaaaaaaaaaaaaaaaaaA'], 'zero ids are no topic');
});

test('internal topics of Kafka, MirrorMaker 2 and the gateway are never in use', () => {
  for (const t of ['__consumer_offsets', '__transaction_state', 'heartbeats', 'blue.heartbeats', 'green.checkpoints.internal', 'mm2-offset-syncs.blue.internal', 'mm2-configs.blue.internal', 'mm2-status.green.internal', 'mm2-offsets.green.internal']) {
    assert.ok(isInternalTopic(t), t);
  }
  assert.ok(isInternalTopic('_turnout_state', new Set(['_turnout_state'])));
  for (const t of ['orders', 'blue.orders', 'heartbeat-events', 'mm2-data']) assert.ok(!isInternalTopic(t), t);
});
