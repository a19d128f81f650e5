// gateway.state's fleet key: inline (usually from the environment) or from a file, the key being
// rotated out, and problems that say what is wrong without ever quoting a key.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MINIMAL, configOf, problemAt, problemsOf } from './support.ts';

const KEY = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
const OLD = 'b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0x';

function withState(state: string): string {
  return `gateway:\n  state:\n${state.split('\n').map((l) => `    ${l}`).join('\n')}\n${MINIMAL}`;
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
  assert.deepEqual(c.state?.signing?.previousKeys.map((k) => k.reveal()), [OLD]);
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
  assert.match(problemAt(problemsOf(withState('keyFile: /nonexistent/turnout.key')), 'gateway.state.keyFile').message, /cannot read \/nonexistent\/turnout.key: ENOENT/);
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
