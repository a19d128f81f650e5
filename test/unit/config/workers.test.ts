// gateway.workers: how many worker processes `turnout start` runs. A count from 1 to 256 or
// "auto" (the default: one per CPU); workers share route state through the state log, so more
// than one needs it, and "auto" without it means one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, formatProblems, resolveWorkers } from '../../../src/config/index.ts';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

test('workers defaults to "auto"', () => {
  assert.equal(DEFAULTS.workers, 'auto');
  assert.equal(configOf(MINIMAL).workers, 'auto');
  assert.equal(configOf(`gateway:\n  instanceId: gw-0\n${MINIMAL}`).workers, 'auto');
});

test('workers takes a count from 1 to 256, "auto", or a number from the environment', () => {
  assert.equal(configOf(`gateway:\n  workers: 1\n${MINIMAL}`).workers, 1);
  assert.equal(configOf(`gateway:\n  workers: 256\n${MINIMAL}`).workers, 256);
  assert.equal(configOf(`gateway:\n  workers: auto\n${MINIMAL}`).workers, 'auto');
  assert.equal(configOf(`gateway:\n  workers: "\${TURNOUT_WORKERS}"\n${MINIMAL}`, { TURNOUT_WORKERS: '4' }).workers, 4);
  assert.equal(configOf(`gateway:\n  workers: "\${TURNOUT_WORKERS:-auto}"\n${MINIMAL}`).workers, 'auto');
});

test('a worker count out of range, fractional or not a number is reported at gateway.workers with the allowed values', () => {
  for (const [value, what] of [
    ['0', '0'],
    ['257', '257'],
    ['-2', '-2'],
    ['1.5', 'not a whole number'],
    ['many', '"many"'],
    ['[2]', 'a list'],
    ['Auto', '"Auto"'],
  ]) {
    const p = problemAt(problemsOf(`gateway:\n  workers: ${value}\n${MINIMAL}`), 'gateway.workers');
    assert.equal(p.message, `must be a whole number from 1 to 256 or "auto", not ${what}`, value);
    assert.match(p.hint ?? '', /use "auto" \(one worker process per CPU\) or a number of worker processes from 1 to 256/);
    assert.deepEqual([p.line, p.column], [2, 3], value);
  }
});

test('more than one worker without the state log is a problem that says why and what to change', () => {
  for (const state of ['state: { enabled: false }', 'state: null']) {
    const problems = problemsOf(`gateway:\n  ${state}\n  workers: 2\n${MINIMAL}`);
    assert.equal(
      formatProblems('gateway.yaml', problems),
      'gateway.yaml:3:3 gateway.workers: workers share route state through the state log, and gateway.state disables it (workers: 2). Fix: enable gateway.state or set workers: 1.',
      state,
    );
  }
});

test('one worker, or "auto", without the state log is fine', () => {
  assert.equal(configOf(`gateway:\n  state: { enabled: false }\n  workers: 1\n${MINIMAL}`).workers, 1);
  const auto = configOf(`gateway:\n  state: { enabled: false }\n${MINIMAL}`);
  assert.deepEqual([auto.workers, auto.state], ['auto', null]);
});

test('"auto" resolves to the available CPUs, or to one worker without the state log, and says why', () => {
  const withState = configOf(MINIMAL);
  assert.deepEqual(resolveWorkers(withState, 8), { count: 8, why: 'gateway.workers is "auto": one worker per available CPU (8)' });
  assert.equal(resolveWorkers(withState, 1).count, 1);
  assert.equal(resolveWorkers(withState, 1000).count, 256, 'capped like a written count');
  assert.ok(resolveWorkers(withState).count >= 1, "without a CPU count: this machine's");

  const noState = resolveWorkers(configOf(`gateway:\n  state: { enabled: false }\n${MINIMAL}`), 8);
  assert.equal(noState.count, 1);
  assert.match(noState.why, /gateway\.state is disabled and workers share route state through the state log/);
});

test('a written worker count is used as is', () => {
  assert.deepEqual(resolveWorkers(configOf(`gateway:\n  workers: 3\n${MINIMAL}`), 64), { count: 3, why: 'gateway.workers: 3' });
  assert.equal(resolveWorkers({ state: null, workers: undefined }, 8).count, 1, 'configs built in code without workers count as "auto"');
});

test('workers is a known gateway key: a typo gets a did-you-mean', () => {
  const p = problemAt(problemsOf(`gateway:\n  worker: 2\n${MINIMAL}`), 'gateway.worker');
  assert.match(p.hint ?? '', /did you mean "workers"\?/);
});
