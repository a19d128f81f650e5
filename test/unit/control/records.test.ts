// The switch state records: what an instance concludes from records read from several clusters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeRecord,
  encodeRecord,
  type HeartbeatRecord,
  keyOf,
  latestRouteStates,
  liveInstances,
  orphanedSwitches,
  type PrepareRecord,
  prepareDeadline,
  type RouteStateRecord,
  type StateRecord,
} from '../../../src/control/records.ts';

const state = (route: string, epoch: number, domain: string): RouteStateRecord => ({
  type: 'route',
  route,
  epoch,
  domain,
  listener: 'sasl',
  switchId: `s-${route}-${epoch}`,
  from: 'x',
  by: 'test',
  at: new Date(0).toISOString(),
});

test('the newest epoch per route wins, whatever order and however many copies the clusters hold', () => {
  const records: StateRecord[] = [
    state('orders', 2, 'green'),
    state('orders', 1, 'green'),
    state('payments', 1, 'blue'),
    state('orders', 3, 'blue'),
    state('orders', 2, 'green'),
  ];
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
  const base = {
    type: 'audit',
    route: 'orders',
    from: 'blue',
    to: 'green',
    listener: 'sasl',
    by: 't',
    at: '',
    durationMs: 1,
    outcome: 'switched',
    forced: false,
    message: '',
    instances: [] as never[],
  } as const;
  const a = keyOf({ ...base, switchId: 'a', epoch: 1 });
  const b = keyOf({ ...base, switchId: 'b', epoch: 2 });
  const c = keyOf({ ...base, switchId: 'c', epoch: 2 });
  assert.equal(new Set([a, b, c]).size, 3);
});

test('an instance is live while its last heartbeat is within the window', () => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  const hb = (instance: string, at: string): HeartbeatRecord => ({ type: 'instance', instance, at, admin: null, routes: {} });
  const live = liveInstances(
    [hb('b', '2026-01-01T00:00:09Z'), hb('a', '2026-01-01T00:00:04Z'), hb('c', '2026-01-01T00:00:01Z'), hb('d', 'garbage')],
    now,
    7000,
  );
  assert.deepEqual(live, ['a', 'b']);
});

const beat = (instance: string, routes: string[], at: number): HeartbeatRecord => ({
  type: 'instance',
  instance,
  at: new Date(at).toISOString(),
  admin: null,
  routes: Object.fromEntries(routes.map((r) => [r, { epoch: 0, domain: 'blue' }])),
});

test('a switch of a route waits only for live instances that serve it; without a route, every live instance counts', () => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  const hbs = [beat('a-1', ['orders', 'shared'], now - 1000), beat('b-1', ['payments', 'shared'], now - 2000), beat('c-1', ['orders'], now - 60_000)];
  assert.deepEqual(liveInstances(hbs, now, 7000, 'orders'), ['a-1']);
  assert.deepEqual(liveInstances(hbs, now, 7000, 'payments'), ['b-1']);
  assert.deepEqual(liveInstances(hbs, now, 7000, 'shared'), ['a-1', 'b-1']);
  assert.deepEqual(liveInstances(hbs, now, 7000, 'unknown'), []);
  assert.deepEqual(liveInstances(hbs, now, 7000), ['a-1', 'b-1']);
});

test('a prepare without an outcome past the fleet timeout (plus the fence budget when planned) is orphaned; one with an outcome never is', () => {
  const at = Date.parse('2026-01-01T00:00:00Z');
  const prepare = (switchId: string, planned?: number): PrepareRecord => ({
    type: 'prepare',
    route: 'orders',
    epoch: 3,
    switchId,
    domain: 'green',
    listener: 'sasl',
    from: 'blue',
    by: 't',
    at: new Date(at).toISOString(),
    instances: ['a-1'],
    ...(planned !== undefined ? { planned: { fenceMs: planned } } : {}),
  });
  const hot = prepare('hot');
  const planned = prepare('planned', 10_000);
  const done = prepare('done');
  assert.equal(prepareDeadline(hot, 10_000), at + 15_000);
  assert.equal(prepareDeadline(planned, 10_000), at + 25_000);
  const ended = new Set(['done']);
  const seen = (p: PrepareRecord, seenAt = at) => ({ prepare: p, seenAt });
  const all = [seen(hot), seen(planned), seen(done)];
  assert.deepEqual(orphanedSwitches(all, ended, at + 15_000, 10_000), []);
  assert.deepEqual(
    orphanedSwitches(all, ended, at + 15_001, 10_000).map((p) => p.switchId),
    ['hot'],
  );
  assert.deepEqual(
    orphanedSwitches(all, ended, at + 30_000, 10_000).map((p) => p.switchId),
    ['hot', 'planned'],
  );
  // Seen late (a restart, or a prepare written long after the switch was asked): the deadline counts from then.
  assert.deepEqual(orphanedSwitches([seen(hot, at + 60_000)], ended, at + 70_000, 10_000), []);
  assert.deepEqual(
    orphanedSwitches([seen(hot, at + 60_000)], ended, at + 75_001, 10_000).map((p) => p.switchId),
    ['hot'],
  );
  assert.deepEqual(orphanedSwitches([seen({ ...hot, at: 'not a date' })], ended, at + 60_000, 10_000), [], 'an unreadable time is never judged');
});

test('every record type has its own key: one per route, per instance, and per switch for audits', () => {
  const at = new Date(0).toISOString();
  const records: StateRecord[] = [
    state('orders', 7, 'green'),
    { type: 'prepare', route: 'orders', epoch: 8, switchId: 's8', domain: 'blue', listener: 'sasl', from: 'green', by: 't', at, instances: ['a-1'] },
    { type: 'ack', route: 'orders', switchId: 's8', epoch: 8, instance: 'a-1', phase: 'prepared', ok: true, at },
    { type: 'abort', route: 'orders', switchId: 's8', epoch: 8, reason: 'timeout', at },
    { type: 'instance', instance: 'a-1', at, admin: null, routes: {} },
    {
      type: 'audit',
      switchId: 's8',
      route: 'orders',
      epoch: 8,
      from: 'green',
      to: 'blue',
      listener: 'sasl',
      by: 't',
      at,
      durationMs: 1,
      outcome: 'switched',
      forced: false,
      message: '',
      instances: [],
    },
  ];
  assert.deepEqual(records.map(keyOf), ['route/orders', 'prepare/orders', 'ack/orders/a-1', 'abort/orders', 'instance/a-1', 'audit/orders/0000000008/s8']);
  // Every type this version writes is read back as written.
  for (const r of records) assert.deepEqual(decodeRecord(encodeRecord(r).value), r, r.type);
  assert.equal(decodeRecord('null'), null);
  assert.equal(decodeRecord('"route"'), null);
  assert.equal(decodeRecord('{"type":7}'), null);
});

test('a heartbeat exactly the window old is still live; one a millisecond older is not', () => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  assert.deepEqual(liveInstances([beat('a-1', [], now - 7000), beat('b-1', [], now - 7001)], now, 7000), ['a-1']);
});

test("an orphaned switch needs both deadlines passed: from the prepare's time and from when this instance saw it", () => {
  const at = Date.parse('2026-01-01T00:00:00Z');
  const hot: PrepareRecord = {
    type: 'prepare',
    route: 'orders',
    epoch: 3,
    switchId: 'hot',
    domain: 'green',
    listener: 'sasl',
    from: 'blue',
    by: 't',
    at: new Date(at).toISOString(),
    instances: ['a-1'],
  };
  const none = new Set<string>();
  // This instance's clock is 10 s behind the initiator's: it saw the prepare "before" it was asked.
  const early = [{ prepare: hot, seenAt: at - 10_000 }];
  assert.deepEqual(orphanedSwitches(early, none, at + 10_000, 10_000), [], 'seen long enough ago, but not past the deadline from `at`');
  assert.deepEqual(orphanedSwitches(early, none, at + 15_000, 10_000), [], 'exactly at the deadline: not yet');
  assert.deepEqual(
    orphanedSwitches(early, none, at + 15_001, 10_000).map((p) => p.switchId),
    ['hot'],
  );
  // Seen 60 s late: the deadline counts from then, and exactly at it the switch is not yet orphaned.
  const late = [{ prepare: hot, seenAt: at + 60_000 }];
  assert.deepEqual(orphanedSwitches(late, none, at + 75_000, 10_000), []);
  assert.deepEqual(
    orphanedSwitches(late, none, at + 75_001, 10_000).map((p) => p.switchId),
    ['hot'],
  );
});
