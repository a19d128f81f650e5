// gateway.state.startup: what a starting instance does when it can read no state topic.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

const withStartup = (startup: string) => `gateway:\n  state:\n    startup: ${startup}\n${MINIMAL}`;

test('state.startup is absent unless written (the gateway then waits 60 s); a partial one gets the other default', () => {
  assert.equal(configOf(MINIMAL).state?.startup, undefined);
  assert.deepEqual(configOf(withStartup('{ mode: serve, timeoutMs: 5000 }')).state?.startup, { mode: 'serve', timeoutMs: 5000 });
  assert.deepEqual(configOf(withStartup('{ mode: serve }')).state?.startup, { mode: 'serve', timeoutMs: 60_000 });
  assert.deepEqual(configOf(withStartup('{ timeoutMs: 0 }')).state?.startup, { mode: 'wait', timeoutMs: 0 });
});

test('an unknown startup mode is reported where it is, with the known ones', () => {
  const p = problemAt(problemsOf(withStartup('{ mode: guess }')), 'gateway.state.startup.mode');
  assert.match(p.message, /unknown state startup mode "guess"/);
  assert.match(p.hint ?? '', /wait, serve/);
  problemAt(problemsOf(withStartup('{ timeoutMs: -1 }')), 'gateway.state.startup.timeoutMs');
});
