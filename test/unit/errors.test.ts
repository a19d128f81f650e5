// The registry of Turnout's error codes (src/errors.ts) holds exactly the codes the code raises:
// the compiler refuses an unregistered one, and this test a registered one nothing raises.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorReport, isTurnoutErrorCode, TURNOUT_ERRORS, TurnoutError } from '../../src/errors.ts';

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'generated' ? [] : sources(p);
    return d.name.endsWith('.ts') && p !== join(SRC, 'errors.ts') ? [p] : [];
  });
}

test('every registered error code is raised somewhere in src, and says what it means', () => {
  const text = sources(SRC)
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const unused = Object.keys(TURNOUT_ERRORS).filter((code) => code !== 'TURNOUT_INTERNAL' && !text.includes(`'${code}'`));
  assert.deepEqual(unused, [], 'registered but never raised: remove them from src/errors.ts');
  for (const [code, meaning] of Object.entries(TURNOUT_ERRORS)) {
    assert.match(code, /^(TURNOUT|TESTBED)_[A-Z0-9_]+$/, code);
    assert.ok(meaning.length >= 10, `${code} says what it means`);
  }
});

test("an error report carries the code and the message; an error that is not Turnout's is TURNOUT_INTERNAL", () => {
  const cause = new Error('socket hang up');
  const err = new TurnoutError('TURNOUT_UPSTREAM_CLOSED', 'b-1:9092 closed the connection', { cause });
  assert.equal(err.name, 'TurnoutError');
  assert.equal(err.cause, cause);
  assert.deepEqual(errorReport(err), { code: 'TURNOUT_UPSTREAM_CLOSED', message: 'b-1:9092 closed the connection' });
  assert.deepEqual(errorReport(new RangeError('bad index')), { code: 'TURNOUT_INTERNAL', message: 'bad index' });
  assert.deepEqual(errorReport('a string'), { code: 'TURNOUT_INTERNAL', message: 'a string' });
  assert.equal(isTurnoutErrorCode('TURNOUT_NO_WORKER'), true);
  assert.equal(isTurnoutErrorCode('TURNOUT_NOT_A_CODE'), false);
  assert.equal(isTurnoutErrorCode('toString'), false, 'not a property of every object');
  assert.equal(isTurnoutErrorCode(7), false);
});
