// Topics in use through a route: internal topics never count, use refreshes a topic, and a topic
// nobody used for the idle time leaves the set (so one produced to once stops blocking preflight).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TOPIC_IDLE_MS, TopicUsage } from '../../../src/routing/topic-usage.ts';
import { configOf, MINIMAL, problemAt, problemsOf } from '../config/support.ts';

test('a topic unused for the idle time leaves the set; use keeps it in', () => {
  const u = new TopicUsage(60_000);
  u.note('orders', 1_000);
  u.note('payments', 1_000);
  u.note('orders', 50_000);
  assert.deepEqual([...u.names(60_000)].sort(), ['orders', 'payments']);
  assert.deepEqual([...u.names(61_001)], ['orders'], 'payments idle for more than 60 s');
  assert.deepEqual(u.list(61_001), [{ topic: 'orders', lastUsed: new Date(50_000).toISOString() }]);
  assert.deepEqual([...u.names(110_001)], []);
  u.note('payments', 120_000);
  assert.deepEqual([...u.names(120_000)], ['payments'], 'used again: back in');
});

test('Kafka\'s, MirrorMaker 2\'s and the gateway\'s own topics are never in use', () => {
  const u = new TopicUsage(DEFAULT_TOPIC_IDLE_MS, new Set(['_turnout_state']));
  for (const t of ['__consumer_offsets', '__transaction_state', 'heartbeats', 'blue.heartbeats', 'mm2-offset-syncs.green.internal',
    'mm2-configs.blue.internal', 'mm2-offsets.blue.internal', 'mm2-status.blue.internal', 'blue.checkpoints.internal', '_turnout_state']) u.note(t, 1);
  u.note('orders', 1);
  assert.deepEqual(u.list(2).map((t) => t.topic), ['orders']);
});

test('the default idle time is an hour, and gateway.switchover.topicIdleMs changes it', () => {
  assert.equal(DEFAULT_TOPIC_IDLE_MS, 3_600_000);
  assert.equal(configOf(MINIMAL).switchover.topicIdleMs, 3_600_000);
  assert.equal(configOf(`gateway:\n  switchover: { topicIdleMs: 600000 }\n${MINIMAL}`).switchover.topicIdleMs, 600_000);
  assert.match(problemAt(problemsOf(`gateway:\n  switchover: { topicIdleMs: 5 }\n${MINIMAL}`), 'gateway.switchover.topicIdleMs').message, /1000/);
});
