// gateway.state's fleet key: inline (usually from the environment) or from a file, the key being
// rotated out, and problems that say what is wrong without ever quoting a key.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

const KEY = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
const OLD = 'b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0x';

function withState(state: string): string {
  return `gateway:\n  state:\n${state
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n${MINIMAL}`;
}

test('no key: state records are neither signed nor checked', () => {
  const c = configOf(MINIMAL);
  assert.equal(c.state?.signing?.key ?? null, null);
});

test('a key from the environment and the previous key from a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'turnout-key-'));
  const file = join(dir, 'old.key');
  writeFileSync(file, `${OLD}\n`);
  const c = configOf(withState(`key: \${TURNOUT_STATE_KEY}\npreviousKeyFile: ${file}\nacceptUnsigned: true`), { TURNOUT_STATE_KEY: KEY });
  assert.equal(c.state?.signing?.key?.reveal(), KEY);
  assert.deepEqual(
    c.state?.signing?.previousKeys.map((k) => k.reveal()),
    [OLD],
  );
  assert.equal(c.state?.signing?.acceptUnsigned, true);
  assert.equal(JSON.stringify(c).includes(KEY), false);
});

test('short keys, unreadable files, both forms, and previousKey alone are problems that never quote a key', () => {
  const short = 'tooshort-but-secret';
  const all = [
    ...problemsOf(withState(`key: ${short}`)),
    ...problemsOf(withState('keyFile: /nonexistent/turnout.key')),
    ...problemsOf(withState(`key: ${KEY}\nkeyFile: /nonexistent/turnout.key`)),
    ...problemsOf(withState(`previousKey: ${OLD}`)),
    ...problemsOf(withState(`key: ${KEY}\npreviousKey: ${KEY}`)),
  ];
  assert.match(problemAt(problemsOf(withState(`key: ${short}`)), 'gateway.state.key').message, /shorter than 32 characters/);
  assert.match(
    problemAt(problemsOf(withState('keyFile: /nonexistent/turnout.key')), 'gateway.state.keyFile').message,
    /cannot read \/nonexistent\/turnout.key: ENOENT/,
  );
  assert.match(problemAt(problemsOf(withState(`previousKey: ${OLD}`)), 'gateway.state.previousKey').message, /without key/);
  assert.match(problemAt(problemsOf(withState(`key: ${KEY}\npreviousKey: ${KEY}`)), 'gateway.state.previousKey').message, /same key/);
  const printed = JSON.stringify(all);
  for (const secret of [short, KEY, OLD]) assert.equal(printed.includes(secret), false, 'a problem quotes a key');
});

test('turnout validate says whether state records are signed, by key id and never the key', async () => {
  const { summary } = await import('../../../src/cli/validate.ts');
  const unsigned = summary(configOf(MINIMAL));
  assert.match(unsigned, /switch state: topic _turnout_state, records NOT signed/);
  const signed = summary(configOf(withState(`key: ${KEY}\npreviousKey: ${OLD}`)));
  assert.match(signed, /records signed with key [0-9a-f]{8}, also accepting key [0-9a-f]{8}/);
  assert.equal(signed.includes(KEY) || signed.includes(OLD), false);
});

test('each key problem says exactly what is wrong and what to do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'turnout-key-'));
  const both = problemAt(problemsOf(withState(`key: ${KEY}\nkeyFile: /nonexistent/turnout.key`)), 'gateway.state.key');
  assert.deepEqual([both.message, both.hint], ['both key and keyFile are set', 'keep one of them']);
  const unreadable = problemAt(problemsOf(withState('keyFile: /nonexistent/turnout.key')), 'gateway.state.keyFile');
  assert.deepEqual(
    [unreadable.message, unreadable.hint],
    ['cannot read /nonexistent/turnout.key: ENOENT', 'give the path of a readable file that holds the key'],
  );
  const shortFile = join(dir, 'short.key');
  writeFileSync(shortFile, `${'k'.repeat(31)}\n`);
  const short = problemAt(problemsOf(withState(`keyFile: ${shortFile}`)), 'gateway.state.keyFile');
  assert.deepEqual(
    [short.message, short.hint],
    [`the key in ${shortFile} is shorter than 32 characters`, 'use a random key, e.g. the output of `openssl rand -base64 32`'],
  );
  const alone = problemAt(problemsOf(withState(`previousKey: ${OLD}`)), 'gateway.state.previousKey');
  assert.deepEqual([alone.message, alone.hint], ['previousKey is set without key', 'set key (the new key) too; previousKey is only accepted while reading']);
  const same = problemAt(problemsOf(withState(`key: ${KEY}\npreviousKey: ${KEY}`)), 'gateway.state.previousKey');
  assert.deepEqual([same.message, same.hint], ['previousKey is the same key as key', 'remove previousKey, or give the key being rotated out']);
});

test('a key file of exactly 32 characters is long enough; a key file that cannot be used is the only problem reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'turnout-key-'));
  const file = join(dir, 'exact.key');
  writeFileSync(file, `${'k'.repeat(32)}\n`);
  assert.equal(configOf(withState(`keyFile: ${file}`)).state?.signing?.key?.reveal(), 'k'.repeat(32));
  // The key is set (as a file): previousKey is not "set without key", even though the file is unreadable.
  const problems = problemsOf(withState(`keyFile: /nonexistent/turnout.key\npreviousKey: ${OLD}`));
  assert.deepEqual(
    problems.map((p) => p.path),
    ['gateway.state.keyFile'],
  );
});

test('a key that is set but unusable is its own problem: previousKey is not reported as "without key" as well', () => {
  const unreadable = problemsOf(withState(`keyFile: /nonexistent/turnout.key\npreviousKey: ${OLD}`));
  assert.deepEqual(
    unreadable.map((p) => p.path),
    ['gateway.state.keyFile'],
  );
  const both = problemsOf(withState(`key: ${KEY}\nkeyFile: /nonexistent/turnout.key\npreviousKey: ${OLD}`));
  assert.deepEqual(
    both.map((p) => p.path),
    ['gateway.state.key'],
  );
});
