// ${VAR} substitution: happens on parsed values (so a variable cannot inject YAML), supports
// defaults and an escape, reports unset variables at their path, and feeds numbers and booleans.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { substituteEnv } from '../../../src/config/env.ts';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

const sub = (s: string, env: Record<string, string | undefined>) => {
  const r = substituteEnv({ v: s }, env);
  return { value: (r.value as { v: string }).v, problems: r.problems };
};

test('a set variable replaces ${VAR}, also several in one value and inside other text', () => {
  assert.deepEqual(sub('${HOST}:${PORT}', { HOST: 'kafka-1', PORT: '9092' }), { value: 'kafka-1:9092', problems: [] });
  assert.deepEqual(sub('a-${X}-b', { X: '' }), { value: 'a--b', problems: [] });
});

test('${VAR:-default} uses the default when VAR is unset or empty, and the variable when set', () => {
  assert.equal(sub('${X:-fallback}', {}).value, 'fallback');
  assert.equal(sub('${X:-fallback}', { X: '' }).value, 'fallback');
  assert.equal(sub('${X:-fallback}', { X: 'set' }).value, 'set');
  assert.equal(sub('${X:-}', {}).value, '');
  assert.equal(sub('${X:-a:b-c}', {}).value, 'a:b-c');
});

test('$${ is a literal ${ and is not substituted', () => {
  assert.deepEqual(sub('$${NOT_A_VAR} and ${X}', { X: '1', NOT_A_VAR: 'oops' }), { value: '${NOT_A_VAR} and 1', problems: [] });
  assert.equal(sub('cost: $5 $$', {}).value, 'cost: $5 $$');
});

test('an unset variable without default is a problem naming the variable, at the path and line of its value', () => {
  const problems = problemsOf(MINIMAL.replace('"localhost:19092"', '"localhost:${ROUTE_PORT}"'));
  assert.equal(problems.length, 1, 'the unusable endpoint is not reported a second time');
  const p = problemAt(problems, 'routes[0].endpoint');
  assert.match(p.message, /environment variable ROUTE_PORT is not set/);
  assert.match(p.hint ?? '', /\$\{ROUTE_PORT:-/);
  assert.deepEqual([p.line, p.column], [19, 5]);
});

test('malformed and unterminated references are problems', () => {
  assert.match(sub('${1BAD}', {}).problems[0].message, /malformed/);
  assert.match(sub('${OPEN', {}).problems[0].message, /without a closing/);
  assert.match(sub('${}', {}).problems[0].message, /malformed/);
});

test("a variable's value stays one string even if it looks like YAML", () => {
  const config = configOf(MINIMAL.replace('name: kafka-cluster-1', 'name: ${CLUSTER}'), { CLUSTER: 'x\nroutes: []\n{a: [b' });
  assert.equal(config.streamingDomains[0].kafkaCluster.name, 'x\nroutes: []\n{a: [b');
  assert.equal(config.routes.length, 1);
});

test('numbers and booleans given through variables are used as numbers and booleans', () => {
  const config = configOf(
    `gateway:
  admin:
    enabled: \${ADMIN:-true}
    listen: "127.0.0.1:\${ADMIN_PORT}"
  limits:
    maxFrameBytes: \${MAX_FRAME}
  shutdownTimeoutMs: "\${SHUTDOWN:-2500}"
${MINIMAL.replace('    endpoint: "localhost:19092"\n', '    endpoint: "localhost:19092"\n    brokerPorts: { base: "${BASE}", count: "${COUNT}" }\n')}`,
    { ADMIN_PORT: '9999', MAX_FRAME: '2048', BASE: '20000', COUNT: '4' },
  );
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9999 });
  assert.equal(config.limits.maxFrameBytes, 2048);
  assert.equal(config.shutdownTimeoutMs, 2500);
  assert.deepEqual(config.routes[0].brokerPorts, { base: 20000, count: 4 });
  assert.equal(configOf(`gateway:\n  admin: { enabled: "\${ADMIN}" }\n${MINIMAL}`, { ADMIN: 'false' }).admin, null);
});

test('a variable that does not hold a number where one is expected is a problem', () => {
  const p = problemAt(problemsOf(`gateway:\n  shutdownTimeoutMs: \${T}\n${MINIMAL}`, { T: 'soon' }), 'gateway.shutdownTimeoutMs');
  assert.match(p.message, /whole number/);
});

test('keys are not substituted, only values', () => {
  const p = problemAt(problemsOf(`gateway:\n  \${KEY}: 1\n${MINIMAL}`, { KEY: 'shutdownTimeoutMs' }), 'gateway["${KEY}"]');
  assert.match(p.message, /unknown key/);
});
