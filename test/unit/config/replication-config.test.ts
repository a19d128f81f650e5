// routes[].replication (how a route's topics are copied between its clusters, which decides what
// a planned switch does) and gateway.switchover.fenceTimeoutMs (a planned switch's budget).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblems } from '../../../src/config/index.ts';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

/** MINIMAL with `lines` appended to its route (indented as route keys). */
const withReplication = (lines: string) => MINIMAL + lines;

test('a MirrorMaker 2 replication with topic and group patterns is read as written', () => {
  const c = configOf(withReplication('    replication: { type: mirrormaker2, topics: "orders|payments", groups: "app-.*" }\n'));
  assert.deepEqual(c.routes[0].replication, { type: 'mirrormaker2', topics: 'orders|payments', groups: 'app-.*', checkpoints: false });
});

test('replication in block style, and each type on its own', () => {
  const c = configOf(withReplication('    replication:\n      type: offset-preserving\n      groups: "app-.*"\n'));
  assert.deepEqual(c.routes[0].replication, { type: 'offset-preserving', topics: null, groups: 'app-.*', checkpoints: false });
  for (const type of ['mirrormaker2', 'offset-preserving', 'none']) {
    assert.deepEqual(configOf(withReplication(`    replication: { type: ${type} }\n`)).routes[0].replication, {
      type,
      topics: null,
      groups: null,
      checkpoints: false,
    });
  }
});

test('without replication a route has none, and no patterns', () => {
  assert.deepEqual(configOf(MINIMAL).routes[0].replication, { type: 'none', topics: null, groups: null, checkpoints: false });
  assert.deepEqual(configOf(withReplication('    replication:\n')).routes[0].replication, { type: 'none', topics: null, groups: null, checkpoints: false });
});

test('replication.checkpoints turns on MirrorMaker 2 checkpoints as evidence; anything but true or false is a problem', () => {
  assert.equal(configOf(withReplication('    replication: { type: mirrormaker2, checkpoints: true }\n')).routes[0].replication.checkpoints, true);
  const p = problemAt(problemsOf(withReplication('    replication: { type: mirrormaker2, checkpoints: sometimes }\n')), 'routes[0].replication.checkpoints');
  assert.match(p.message, /must be true or false/);
});

test('an unknown replication type is reported at routes[0].replication.type, listing the known types', () => {
  const problems = problemsOf(withReplication('    replication: { type: mm2 }\n'));
  const p = problemAt(problems, 'routes[0].replication.type');
  assert.equal(p.message, 'unknown replication type "mm2"');
  for (const known of ['mirrormaker2', 'offset-preserving', 'none']) assert.match(p.hint ?? '', new RegExp(known));
  assert.equal(p.line, 23);
  assert.match(formatProblems('gateway.yaml', problems), /^gateway\.yaml:23:\d+ routes\[0\]\.replication\.type: unknown replication type "mm2"/);
});

test('a near miss of a replication type gets a did-you-mean', () => {
  const p = problemAt(problemsOf(withReplication('    replication: { type: mirrormaker }\n')), 'routes[0].replication.type');
  assert.match(p.hint ?? '', /did you mean "mirrormaker2"\?/);
});

test('replication without a type is reported as a missing type', () => {
  const p = problemAt(problemsOf(withReplication('    replication: { topics: orders }\n')), 'routes[0].replication.type');
  assert.equal(p.message, 'is required');
});

test('an invalid topic or group regular expression is reported at its key', () => {
  const topics = problemAt(problemsOf(withReplication('    replication: { type: mirrormaker2, topics: "(" }\n')), 'routes[0].replication.topics');
  assert.match(topics.message, /^"\(" is not a valid regular expression: /);
  assert.match(topics.hint ?? '', /regular expression of topic names/);
  assert.equal(topics.line, 23);
  const groups = problemAt(problemsOf(withReplication('    replication: { type: mirrormaker2, groups: "app-[" }\n')), 'routes[0].replication.groups');
  assert.match(groups.message, /^"app-\[" is not a valid regular expression: /);
});

test('an unknown key under replication gets a did-you-mean', () => {
  const p = problemAt(problemsOf(withReplication('    replication: { type: mirrormaker2, topic: orders }\n')), 'routes[0].replication.topic');
  assert.equal(p.message, 'unknown key "topic"');
  assert.equal(p.hint, 'did you mean "topics"?');
});

test("the planned switch's fence budget defaults to 10 s and takes a written value", () => {
  assert.equal(configOf(MINIMAL).switchover.fenceTimeoutMs, 10_000);
  const c = configOf(`gateway:\n  switchover: { fenceTimeoutMs: 2500 }\n${MINIMAL}`);
  assert.equal(c.switchover.fenceTimeoutMs, 2500);
  assert.equal(c.switchover.drainTimeoutMs, configOf(MINIMAL).switchover.drainTimeoutMs, 'the other switchover values keep their defaults');
  assert.equal(configOf(`gateway:\n  switchover: { fenceTimeoutMs: 100 }\n${MINIMAL}`).switchover.fenceTimeoutMs, 100, 'the minimum');
});

test('a fence budget under 100 ms is a problem at gateway.switchover.fenceTimeoutMs', () => {
  const p = problemAt(problemsOf(`gateway:\n  switchover: { fenceTimeoutMs: 50 }\n${MINIMAL}`), 'gateway.switchover.fenceTimeoutMs');
  assert.match(p.message, /^must be a whole number from 100 to \d+, not 50$/);
  assert.equal(p.line, 2);
});
