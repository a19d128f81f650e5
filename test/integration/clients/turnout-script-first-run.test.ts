// `./turnout` in a fresh checkout: installs its npm packages itself, says so with what it costs,
// and npm prints no engine warnings (EBADENGINE) even when the system Node is older than the
// packages want: npm runs on the pinned Node 24 that Turnout itself runs on.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('a fresh checkout installs on first run without engine warnings, then runs the CLI', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'turnout-fresh-'));
  const checkout = join(dir, 'checkout');
  try {
    // The tracked files only, as a clone has them (no node_modules).
    execFileSync(
      'sh',
      ['-c', `mkdir -p "${checkout}" && git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "${checkout}" && cp turnout "${checkout}/turnout"`],
      { cwd: ROOT },
    );
    // The system Node and npm from PATH, without the repository's node_modules/.bin.
    const path = (process.env.PATH ?? '')
      .split(':')
      .filter((p) => !p.includes('node_modules'))
      .join(':');
    const started = Date.now();
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        join(checkout, 'turnout'),
        ['--version'],
        { env: { ...process.env, PATH: path, TURNOUT_CACHE_DIR: join(dir, 'cache') }, encoding: 'utf8', timeout: 540_000 },
        (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
      );
    });
    t.diagnostic(
      `system Node ${execFileSync('node', ['-v'], { env: { ...process.env, PATH: path }, encoding: 'utf8' }).trim()}; first run took ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(r.stderr, /turnout: installing npm packages \(npm ci: about \d+ packages/);
    assert.match(r.stderr, /turnout: npm packages installed in \d+ s/);
    assert.doesNotMatch(r.stderr, /EBADENGINE|Unsupported engine/i, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
