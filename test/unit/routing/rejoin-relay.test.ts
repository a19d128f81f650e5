// Rejoin holds across worker processes: a Route tells its relay about rejoins it expects or sees
// itself, and not about those it was told of (which would echo between workers forever).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/index.ts';
import { createLogger } from '../../../src/observability/log.ts';
import { GatewayMetrics } from '../../../src/observability/metrics.ts';
import { type FenceableConnection, type RejoinEvent, Route } from '../../../src/routing/route.ts';

function route(): Route {
  const file = new URL('../../../examples/gateway.yaml', import.meta.url);
  const parsed = parseConfig(readFileSync(file, 'utf8'), { file: file.pathname, env: { TURNOUT_ADMIN_TOKEN: 'x'.repeat(32), KAFKA_PASSWORD: 'unused' } });
  assert.ok('config' in parsed, JSON.stringify((parsed as { problems?: unknown }).problems));
  const c = parsed.config;
  const rc = c.routes[0];
  const domain = c.streamingDomains.find((d) => d.name === rc.streamingDomain.name)!;
  return new Route(rc, domain, createLogger('fatal'), new GatewayMetrics({ defaultMetrics: false }).forRoute(rc.name), 1000);
}

test('local rejoin events go to the relay; relayed ones release held fetches without echoing', () => {
  const r = route();
  const events: RejoinEvent[] = [];
  r.rejoinRelay = (e) => events.push(e);
  r.expectRejoin('127.0.0.1|c1', 15_000);
  assert.deepEqual(events, [{ route: r.name, key: '127.0.0.1|c1', holdMs: 15_000 }]);
  r.expectRejoin('127.0.0.1|c2', 15_000, true);
  assert.equal(events.length, 1, 'a relayed expectation is not sent back');

  let released = 0;
  const conn = { releaseHeld: () => released++ } as unknown as FenceableConnection;
  assert.equal(r.holdFetch('127.0.0.1|c2', conn), true, 'a fetch of a member expected by another worker waits');
  r.rejoined('127.0.0.1|c2', true);
  assert.equal(released, 1, 'the relayed rejoin releases it');
  assert.equal(events.length, 1);

  assert.equal(r.holdFetch('127.0.0.1|c1', conn), true);
  r.rejoined('127.0.0.1|c1');
  assert.equal(released, 2);
  assert.deepEqual(events[1], { route: r.name, key: '127.0.0.1|c1', holdMs: null }, 'a rejoin seen here is told to the others');
  assert.equal(r.awaitingRejoin, false);
});

test('members whose connection the client closed are handed, once, to a connection of their epoch to the same broker', () => {
  const r = route();
  const member = (id: string) => ({ protocol: 'classic' as const, memberId: id, groupInstanceId: null, clientId: 'c' });
  r.orphanMembers(0, '2', [{ groupId: 'g', member: member('m1') }]);
  r.orphanMembers(0, '2', [
    { groupId: 'g', member: member('m1') },
    { groupId: 'h', member: member('m2') },
  ]);
  assert.deepEqual(r.takeOrphanedMembers(0, '1'), [], 'another broker');
  assert.deepEqual(r.takeOrphanedMembers(1, '2'), [], 'another epoch');
  assert.deepEqual(
    r.takeOrphanedMembers(0, '2').map((o) => `${o.groupId}/${o.member.memberId}`),
    ['g/m1', 'h/m2'],
  );
  assert.deepEqual(r.takeOrphanedMembers(0, '2'), [], 'handed out once');
});
