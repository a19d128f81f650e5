// What /routes shows when several worker processes serve a route: connections add up, the route
// is ready only if it is on every worker, domain and epoch are the newest worker's, and workers
// that disagree or do not answer are said.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteStatus } from '../../../src/admin/server.ts';
import { mergeRouteStatus, type WorkerAnswer } from '../../../src/cluster/merge.ts';

function route(over: Partial<RouteStatus> = {}): RouteStatus {
  return {
    name: 'orders',
    endpoint: '127.0.0.1:19092',
    brokerPorts: '19093-19108',
    domain: 'blue',
    listener: 'sasl',
    clusterId: 'c',
    epoch: 3,
    lastSwitch: null,
    connectionsByDomain: { blue: 2 },
    ready: true,
    lastError: null,
    connections: 2,
    brokers: [{ nodeId: 1, gateway: '127.0.0.1:19094', upstream: '10.0.0.1:9092' }],
    ...over,
  };
}

const answer = (worker: number, routes: RouteStatus[] | null, error?: string): WorkerAnswer => ({
  worker,
  instance: `gw-w${worker}`,
  pid: 100 + worker,
  routes,
  ...(error !== undefined ? { error } : {}),
});

test('connections add up per domain and in total; ready when every worker is', () => {
  const [m] = mergeRouteStatus([
    answer(1, [route({ connections: 3, connectionsByDomain: { blue: 2, green: 1 } })]),
    answer(2, [route({ connections: 5, connectionsByDomain: { blue: 5 } })]),
  ]);
  assert.equal(m.connections, 8);
  assert.deepEqual(m.connectionsByDomain, { blue: 7, green: 1 });
  assert.equal(m.ready, true);
  assert.equal(m.lastError, null);
  assert.equal(m.disagreement, undefined);
  assert.deepEqual(
    m.workers?.map((w) => [w.worker, w.instance, w.pid, w.domain, w.epoch, w.ready, w.connections]),
    [
      [1, 'gw-w1', 101, 'blue', 3, true, 3],
      [2, 'gw-w2', 102, 'blue', 3, true, 5],
    ],
  );
});

test("a worker not ready makes the route not ready, with that worker's error", () => {
  const [m] = mergeRouteStatus([answer(1, [route()]), answer(2, [route({ ready: false, lastError: 'cannot reach streaming domain "blue"' })])]);
  assert.equal(m.ready, false);
  assert.equal(m.lastError, 'worker 2: cannot reach streaming domain "blue"');
});

test('domain, epoch, last switch and brokers are those of the worker on the highest epoch; a disagreement is said', () => {
  const switched = { epoch: 4, from: 'blue', to: 'green', listener: 'sasl', by: 'me', at: '2026-01-01T00:00:00Z', switchId: 's4' };
  const [m] = mergeRouteStatus([answer(1, [route()]), answer(2, [route({ domain: 'green', epoch: 4, lastSwitch: switched, brokers: [] })])]);
  assert.deepEqual([m.domain, m.epoch, m.lastSwitch, m.brokers], ['green', 4, switched, []]);
  assert.match(m.disagreement ?? '', /worker 1 blue#3, worker 2 green#4/);
});

test('a worker that did not answer counts as not ready and is listed with why', () => {
  const [m] = mergeRouteStatus([answer(1, [route()]), answer(2, null, 'worker 2 did not answer "routes" within 5000 ms')]);
  assert.equal(m.ready, false);
  assert.equal(m.connections, 2);
  assert.match(m.lastError ?? '', /^worker 2 did not answer/);
  assert.deepEqual(m.workers?.[1], {
    worker: 2,
    instance: 'gw-w2',
    pid: 102,
    domain: null,
    epoch: null,
    ready: false,
    connections: 0,
    error: 'did not answer: worker 2 did not answer "routes" within 5000 ms',
  });
});

test('one worker shows its route as it is, plus its worker entry', () => {
  const r = route({ ready: false, lastError: null, connections: 1 });
  const [m] = mergeRouteStatus([answer(1, [r])]);
  const { workers, ...rest } = m;
  assert.deepEqual(rest, r);
  assert.equal(workers?.length, 1);
});

test('routes keep their order; no answer at all gives no routes', () => {
  const two = [route(), route({ name: 'payments' })];
  assert.deepEqual(
    mergeRouteStatus([answer(1, two), answer(2, two)]).map((r) => r.name),
    ['orders', 'payments'],
  );
  assert.deepEqual(mergeRouteStatus([answer(1, null, 'gone')]), []);
});
