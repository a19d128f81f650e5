// The house style is checked by the test command: Biome's linter (and, once enabled, its
// formatter) over the repository, as configured in biome.json; generated code is left out.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

// Stryker's sandbox (stryker.config.mjs) holds instrumented sources: nothing there is in the house style.
const inSandbox = process.env.TURNOUT_MUTATION_SANDBOX === '1';

test('biome ci finds nothing to fix (npx biome check --write fixes what it can)', { skip: inSandbox && 'instrumented sources (mutation testing)' }, () => {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['ci', '--colors=off', '--error-on-warnings', '--max-diagnostics=50', '.'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.error, undefined, `biome did not run: ${r.error?.message}`);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});
