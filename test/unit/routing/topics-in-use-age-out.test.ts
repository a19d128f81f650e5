// Topics in use through a route: internal topics never count, use refreshes a topic, and a topic
// nobody used for the idle time leaves the set (so one produced to once stops blocking preflight).

import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test("Kafka's, MirrorMaker 2's and the gateway's own topics are never in use", () => {
  const u = new TopicUsage(DEFAULT_TOPIC_IDLE_MS, new Set(['_turnout_state']));
  for (const t of [
    '__consumer_offsets',
    '__transaction_state',
    'heartbeats',
    'blue.heartbeats',
    'mm2-offset-syncs.green.internal',
    'mm2-configs.blue.internal',
    'mm2-offsets.blue.internal',
    'mm2-status.blue.internal',
    'blue.checkpoints.internal',
    '_turnout_state',
  ])
    u.note(t, 1);
  u.note('orders', 1);
  assert.deepEqual(
    u.list(2).map((t) => t.topic),
    ['orders'],
  );
});

test('the default idle time is an hour, and gateway.switchover.topicIdleMs changes it', () => {
  assert.equal(DEFAULT_TOPIC_IDLE_MS, 3_600_000);
  assert.equal(configOf(MINIMAL).switchover.topicIdleMs, 3_600_000);
  assert.equal(configOf(`gateway:\n  switchover: { topicIdleMs: 600000 }\n${MINIMAL}`).switchover.topicIdleMs, 600_000);
  assert.match(problemAt(problemsOf(`gateway:\n  switchover: { topicIdleMs: 5 }\n${MINIMAL}`), 'gateway.switchover.topicIdleMs').message, /1000/);
});

test('the list is sorted by name and leaves out topics idle for longer than the idle time (exactly the idle time still counts)', () => {
  const u = new TopicUsage(60_000);
  for (const t of ['payments', 'audit', 'orders', 'zeta', 'billing']) u.note(t, 1_000);
  u.note('zeta', 2_000);
  assert.deepEqual(
    u.list(61_000).map((t) => t.topic),
    ['audit', 'billing', 'orders', 'payments', 'zeta'],
  );
  assert.deepEqual(u.list(61_001), [{ topic: 'zeta', lastUsed: new Date(2_000).toISOString() }]);
  assert.deepEqual([...u.names(62_000)], ['zeta']);
  assert.deepEqual([...u.names(62_001)], []);
});

test('at most 10,000 topics are tracked; idle ones make room first, and a tracked topic is always refreshed', () => {
  const u = new TopicUsage(1000);
  for (let i = 0; i < 10_000; i++) u.note(`t${i}`, 0);
  u.note('late', 500);
  const full = u.names(500);
  assert.equal(full.size, 10_000);
  assert.equal(full.has('late'), false, 'no room');
  u.note('t0', 600); // tracked: refreshed, also at the cap
  u.note('new', 1_001); // the others have been idle for more than 1000 ms: they make room for it
  assert.deepEqual([...u.names(1_001)].sort(), ['new', 't0']);
});

test('the topics in use are listed by name, whatever order they were used in', () => {
  const u = new TopicUsage(60_000);
  for (const t of ['orders', 'audit', 'payments', 'billing']) u.note(t, 1_000);
  assert.deepEqual(
    u.list(2_000).map((x) => x.topic),
    ['audit', 'billing', 'orders', 'payments'],
  );
});
