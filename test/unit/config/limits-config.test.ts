// The limits that protect the gateway from bad clients (gateway.limits and routes[].limits): their
// defaults, the values written, and problems that say the allowed range.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS } from '../../../src/config/index.ts';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

test('left out, the client limits take the broker-like defaults', () => {
  const { limits, routes } = configOf(MINIMAL);
  assert.equal(limits.maxUnauthenticatedFrameBytes, 524288, "a broker's sasl.server.max.receive.size");
  assert.equal(limits.connectionsMaxIdleMs, 600_000, "a broker's connections.max.idle.ms");
  assert.equal(limits.maxBufferedBytes, 256 * 1024 * 1024);
  assert.equal(limits.maxConnections, 10_000);
  assert.equal(limits.maxConnectionsPerAddress, 1_000);
  assert.equal(limits.authenticationTimeoutMs, 30_000);
  assert.equal(DEFAULTS.maxUnauthenticatedFrameBytes, 524288);
  assert.deepEqual(routes[0].limits, { maxConnections: null }, 'no route limit unless written');
});

test("a route's own connection limit is read from routes[].limits", () => {
  const config = configOf(MINIMAL.replace('name: route-1', 'name: route-1\n    limits: { maxConnections: 25 }'));
  assert.deepEqual(config.routes[0].limits, { maxConnections: 25 });
});

test('client limits outside their ranges are problems that say the range and the default', () => {
  const problems = problemsOf(`gateway:
  limits:
    maxUnauthenticatedFrameBytes: 10
    maxBufferedBytes: 1000
    maxConnections: 0
    maxConnectionsPerAddress: -1
    authenticationTimeoutMs: 5
    connectionsMaxIdleMs: "soon"
${MINIMAL}`);
  assert.match(problemAt(problems, 'gateway.limits.maxUnauthenticatedFrameBytes').message, /from 1024 to 1073741824, not 10/);
  assert.match(problemAt(problems, 'gateway.limits.maxUnauthenticatedFrameBytes').hint ?? '', /524288 .*sasl\.server\.max\.receive\.size/);
  assert.match(problemAt(problems, 'gateway.limits.maxBufferedBytes').message, /from 1048576 /);
  assert.match(problemAt(problems, 'gateway.limits.maxBufferedBytes').hint ?? '', /per worker process/);
  assert.match(problemAt(problems, 'gateway.limits.maxConnections').message, /from 1 to 10000000, not 0/);
  assert.match(problemAt(problems, 'gateway.limits.maxConnectionsPerAddress').message, /not -1/);
  assert.match(problemAt(problems, 'gateway.limits.authenticationTimeoutMs').message, /from 100 /);
  assert.match(problemAt(problems, 'gateway.limits.connectionsMaxIdleMs').message, /not a string/);
  assert.match(problemAt(problems, 'gateway.limits.connectionsMaxIdleMs').hint ?? '', /connections\.max\.idle\.ms/);
});

test('a misspelt route limit gets a did-you-mean', () => {
  const problems = problemsOf(MINIMAL.replace('name: route-1', 'name: route-1\n    limits: { maxConnection: 25 }'));
  const p = problemAt(problems, 'routes[0].limits.maxConnection');
  assert.match(p.message, /unknown key "maxConnection"/);
  assert.match(p.hint ?? '', /did you mean "maxConnections"/);
});
