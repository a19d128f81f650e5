// The python that runs the librdkafka tests: a virtualenv in the test cache with confluent-kafka
// from PyPI at the version pinned in test/support/python/requirements.txt (its wheel bundles a
// current librdkafka; Debian's python3-confluent-kafka is 1.7 on librdkafka 2.0.2). Created once
// per machine, keyed by the requirements and the base interpreter, so a changed pin or python
// makes a new one. The test runner calls rdkafkaPython() before the tests start; a test run on
// its own installs it at first use (synchronously: the drivers' start functions are synchronous).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../../src/testbed/jars.ts';
import { ClientError, ClientErrorCode, tail } from './common.ts';

export const REQUIREMENTS = fileURLToPath(new URL('../python/requirements.txt', import.meta.url));
const CLIENT = 'confluent-kafka-python';
const HINT =
  "The librdkafka tests need python3 with the venv module (pyenv's, or Debian's python3-venv) and access to PyPI; " +
  'TURNOUT_PYTHON names another base interpreter.';

let resolved: string | undefined;

/** The base interpreter the virtualenv is made from. */
function basePython(): string {
  return process.env.TURNOUT_PYTHON ?? 'python3';
}

/** The virtualenv's folder: its name says what it holds and hashes what it was made from. */
export function rdkafkaVenvDir(): string {
  const base = spawnSync(basePython(), ['-c', 'import sys; print(sys.version); print(sys.base_prefix)'], { encoding: 'utf8' });
  if (base.status !== 0) {
    throw new ClientError(
      ClientErrorCode.NotInstalled,
      CLIENT,
      'install',
      `${basePython()} could not be run (${base.error?.message ?? tail(base.stderr)}). ${HINT}`,
    );
  }
  const requirements = readFileSync(REQUIREMENTS, 'utf8');
  const hash = createHash('sha256').update(requirements).update(base.stdout).digest('hex').slice(0, 12);
  const pin = /^confluent-kafka==(\S+)/m.exec(requirements)?.[1] ?? 'unpinned';
  return join(cacheDir(), 'test-clients', `python-confluent-kafka-${pin}-${hash}`);
}

/**
 * The virtualenv's python, after creating the virtualenv when it does not exist yet. `write`
 * gets one line when something is installed. Throws ClientError (CLIENT_NOT_INSTALLED) with
 * pip's output when that fails.
 */
export function rdkafkaPython(write: (text: string) => void = () => {}): string {
  if (resolved !== undefined) return resolved;
  const dir = rdkafkaVenvDir();
  const python = join(dir, 'bin', 'python');
  if (!existsSync(join(dir, 'installed'))) install(dir, write);
  resolved = python;
  return python;
}

function install(dir: string, write: (text: string) => void): void {
  const started = Date.now();
  write(
    `installing ${readFileSync(REQUIREMENTS, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .join(' ')} from PyPI into ${dir}... `,
  );
  // Made in a private folder and renamed into place: concurrent test processes never use half a
  // virtualenv (nothing in it depends on its path but the pip scripts, which are not used).
  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const run = (command: string, args: string[]) => {
    const r = spawnSync(command, args, { encoding: 'utf8', timeout: 600_000, env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' } });
    if (r.status === 0) return;
    rmSync(staging, { recursive: true, force: true });
    write('failed\n');
    throw new ClientError(
      ClientErrorCode.NotInstalled,
      CLIENT,
      'install',
      `${command} ${args.join(' ')} ${r.error ? `could not run: ${r.error.message}` : `exited with ${r.status ?? r.signal}`}\n${tail(`${r.stdout}${r.stderr}`)}\n${HINT}`,
    );
  };
  run(basePython(), ['-m', 'venv', staging]);
  run(join(staging, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--requirement', REQUIREMENTS]);
  writeFileSync(join(staging, 'installed'), `${new Date().toISOString()}\n`);
  try {
    renameSync(staging, dir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, 'installed'))) throw err;
  }
  write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/** librdkafka's and confluent-kafka-python's versions in the virtualenv; null when it cannot say. */
export function rdkafkaVersions(): { librdkafka: string; confluentKafkaPython: string } | null {
  let python: string;
  try {
    python = rdkafkaPython();
  } catch {
    return null;
  }
  const r = spawnSync(python, ['-c', 'import confluent_kafka as c; v = c.version(); print(c.libversion()[0]); print(v if isinstance(v, str) else v[0])'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return null;
  const [librdkafka, confluentKafkaPython] = r.stdout.trim().split('\n');
  return { librdkafka, confluentKafkaPython };
}
