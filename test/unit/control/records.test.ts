// The switch state records: what an instance concludes from records read from several clusters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeRecord, encodeRecord, keyOf, latestRouteStates, liveInstances,
  type HeartbeatRecord, type RouteStateRecord, type StateRecord,
} from '../../../src/control/records.ts';

const state = (route: string, epoch: number, domain: string): RouteStateRecord => ({
  type: 'route', route, epoch, domain, listener: 'sasl', switchId: `s-${route}-${epoch}`, from: 'x', by: 'test', at: new Date(0).toISOString(),
});

test('the newest epoch per route wins, whatever order and however many copies the clusters hold', () => {
  const records: StateRecord[] = [state('orders', 2, 'green'), state('orders', 1, 'green'), state('payments', 1, 'blue'), state('orders', 3, 'blue'), state('orders', 2, 'green')];
  const latest = latestRouteStates(records);
  assert.equal(latest.get('orders')?.epoch, 3);
  assert.equal(latest.get('orders')?.domain, 'blue');
  assert.equal(latest.get('payments')?.domain, 'blue');
  assert.equal(latest.size, 2);
});

test('records round-trip; tombstones, foreign and broken values are ignored rather than fatal', () => {
  const r = state('orders', 7, 'green');
  const { key, value } = encodeRecord(r);
  assert.equal(key, 'route/orders');
  assert.deepEqual(decodeRecord(value), r);
  assert.equal(decodeRecord(null), null);
  assert.equal(decodeRecord('{"type":"something-newer"}'), null);
  assert.equal(decodeRecord('not json'), null);
  assert.equal(decodeRecord('42'), null);
});

test('audit records get a key per switch, so compaction keeps every one of them', () => {
  const base = { type: 'audit', route: 'orders', from: 'blue', to: 'green', listener: 'sasl', by: 't', at: '', durationMs: 1, outcome: 'switched', forced: false, message: '', instances: [] as never[] } as const;
  const a = keyOf({ ...base, switchId: 'a', epoch: 1 });
  const b = keyOf({ ...base, switchId: 'b', epoch: 2 });
  const c = keyOf({ ...base, switchId: 'c', epoch: 2 });
  assert.equal(new Set([a, b, c]).size, 3);
});

test('an instance is live while its last heartbeat is within the window', () => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  const hb = (instance: string, at: string): HeartbeatRecord => ({ type: 'instance', instance, at, admin: null, routes: {} });
  const live = liveInstances([hb('b', '2026-01-01T00:00:09Z'), hb('a', '2026-01-01T00:00:04Z'), hb('c', '2026-01-01T00:00:01Z'), hb('d', 'garbage')], now, 7000);
  assert.deepEqual(live, ['a', 'b']);
});
