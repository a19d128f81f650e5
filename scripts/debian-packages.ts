// Debian packages the client-driver tests run (test/support/clients/librdkafka.ts): kcat, on top
// of the system librdkafka. (confluent-kafka-python comes from PyPI instead, into a virtualenv in
// the test cache: test/support/clients/python-venv.ts; Debian's is 1.7 on librdkafka 2.0.2.) The
// test runner calls ensureDebianPackages() before the integration tests; it installs what is
// missing with apt-get (through `sudo -n` when not root) and otherwise stays silent.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';

interface DebianPackage {
  readonly name: string;
  /** A command that succeeds when the package is usable. */
  readonly check: readonly [string, ...string[]];
}

export const DEBIAN_PACKAGES: readonly DebianPackage[] = [{ name: 'kcat', check: ['kcat', '-V'] }];

export class DebianPackagesError extends Error {}

function run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

const isUsable = (p: DebianPackage) => run(p.check[0], p.check.slice(1)).status === 0;

/** Installs the packages that are missing; throws DebianPackagesError (saying which package and
 *  what to run) when that is not possible. `write` gets at most one line. */
export function ensureDebianPackages(write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const missing = DEBIAN_PACKAGES.filter((p) => !isUsable(p)).map((p) => p.name);
  if (missing.length === 0) return;

  const started = Date.now();
  const asRoot = process.getuid?.() === 0;
  const manual = `${asRoot ? '' : 'sudo '}apt-get update && ${asRoot ? '' : 'sudo '}apt-get install -y ${missing.join(' ')}`;
  write(`installing Debian packages ${missing.join(', ')} for the kcat client tests (apt-get)... `);
  const apt = (args: string[]) => {
    const [command, argv] = asRoot ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]];
    const r = run(command, argv, { DEBIAN_FRONTEND: 'noninteractive' });
    if (r.status === 0) return;
    const why = r.error ? `${command} could not be started (${r.error.message})` : `${command} ${argv.join(' ')} exited with ${r.status}`;
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    write('failed\n');
    throw new DebianPackagesError(
      `the client-driver tests need the Debian package(s) ${missing.join(', ')}, and installing them failed: ${why}.\n` +
        `${output ? `${output}\n` : ''}Install them yourself: ${manual}`,
    );
  };
  apt(['update']);
  apt(['install', '-y', ...missing]);
  const still = DEBIAN_PACKAGES.filter((p) => missing.includes(p.name) && !isUsable(p));
  if (still.length > 0) {
    write('failed\n');
    throw new DebianPackagesError(
      `apt-get installed ${still.map((p) => p.name).join(', ')}, but "${still.map((p) => p.check.join(' ')).join('" and "')}" still fails. ` +
        `Check the installation: ${manual}`,
    );
  }
  write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/** For the test runner: ensureDebianPackages(), or the reason on stderr and exit code 2. */
export function ensureDebianPackagesOrExit(): void {
  try {
    ensureDebianPackages();
  } catch (err) {
    if (!(err instanceof DebianPackagesError)) throw err;
    process.stderr.write(`test runner: ${err.message}\n`);
    process.exit(2);
  }
}
