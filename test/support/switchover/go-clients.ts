// The Go clients of the switchover tests (test/support/go: franz-go and sarama, versions pinned in
// its go.mod / go.sum), built with the local Go toolchain and the Go module proxy into the test
// cache, once per source hash (the test runner builds them before the tests; a test run on its
// own builds them at first use). Each program is a long-running client speaking the JSON-lines
// protocol of rdkafka_switch_client.py (see long-running.ts).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../../src/testbed/jars.ts';
import { ClientError, ClientErrorCode, type ClientTarget, runChild } from '../clients/common.ts';
import { librdkafkaConfig } from '../clients/librdkafka.ts';
import { LongRunningClient } from './long-running.ts';

export const GO_MODULE_DIR = fileURLToPath(new URL('../go/', import.meta.url));
export const GoProgram = { Franz: 'franz-switch', Sarama: 'sarama-switch', FranzCollision: 'franz-collision' } as const;
export type GoProgram = (typeof GoProgram)[keyof typeof GoProgram];

const HINT = 'The Go clients need Go (go on PATH, /usr/local/go/bin/go, or TURNOUT_GO) and the Go module proxy.';

/** The go command: TURNOUT_GO, go on PATH, or the official tarball's place. */
export function goExecutable(): string {
  if (process.env.TURNOUT_GO) return process.env.TURNOUT_GO;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0) return 'go';
  return '/usr/local/go/bin/go';
}

/** The pinned module versions (from go.mod), e.g. { 'github.com/twmb/franz-go': 'v1.22.3' }. */
export function goModuleVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of readFileSync(join(GO_MODULE_DIR, 'go.mod'), 'utf8').matchAll(/^\s*(github\.com\/(?:twmb\/franz-go|IBM\/sarama))\s+(v\S+)\s*$/gm))
    out[m[1]] = m[2];
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /(^|\/)(go\.mod|go\.sum)$|\.go$/.test(f) && statSync(join(dir, f)).isFile())
    .sort();
}

let built: Promise<string> | undefined;

/** Builds every program (once per process; reused from the cache when the sources are unchanged)
 *  and resolves to the folder holding them. `write` gets one line when something is built. */
export function buildGoClients(write: (text: string) => void = () => {}): Promise<string> {
  built ??= buildUncached(write);
  built.catch(() => (built = undefined));
  return built;
}

async function buildUncached(write: (text: string) => void): Promise<string> {
  const go = goExecutable();
  const version = spawnSync(go, ['version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    throw new ClientError(ClientErrorCode.NotInstalled, 'go', 'build', `${go} version failed (${version.error?.message ?? version.stderr}). ${HINT}`);
  }
  const hash = createHash('sha256').update(version.stdout);
  for (const f of sourceFiles(GO_MODULE_DIR)) hash.update(`${f}\0`).update(readFileSync(join(GO_MODULE_DIR, f)));
  const dir = join(cacheDir(), 'test-clients', `go-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(join(dir, 'built'))) return dir;

  const started = Date.now();
  const versions = Object.entries(goModuleVersions())
    .map(([m, v]) => `${m.split('/').pop()} ${v}`)
    .join(', ');
  write(`building the Go clients (${versions}; ${version.stdout.trim()}) into ${dir}... `);
  // Built into a private folder and renamed into place: concurrent runs never see half a build.
  const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(staging, { recursive: true });
    await runChild({
      client: 'go',
      step: `build ${relative(process.cwd(), GO_MODULE_DIR) || GO_MODULE_DIR}`,
      command: go,
      args: ['build', '-trimpath', '-o', `${staging}/`, './cmd/...'],
      cwd: GO_MODULE_DIR,
      // -mod=readonly: go.mod and go.sum are the pins; a build never rewrites them. No cgo: no C
      // compiler needed. GOTOOLCHAIN=local: never download another Go.
      env: { ...process.env, GOFLAGS: '-mod=readonly', CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
      timeoutMs: 900_000,
      installHint: HINT,
    });
    await writeFile(join(staging, 'built'), `${new Date().toISOString()}\n`);
    await rename(staging, dir).catch((err) => {
      if (!existsSync(join(dir, 'built'))) throw err;
    });
  } catch (err) {
    write('failed\n');
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return dir;
}

export async function goProgram(program: GoProgram): Promise<string> {
  return join(await buildGoClients(), program);
}

/** Starts franz-switch or sarama-switch: a producer and a group consumer on `topic`. `config`:
 *  the program's -X settings (group.protocol=consumer for franz-go, enable.idempotence=true for sarama). */
export async function startGoSwitchClient(
  program: typeof GoProgram.Franz | typeof GoProgram.Sarama,
  target: ClientTarget,
  topic: string,
  group: string,
  intervalMs: number,
  config: Readonly<Record<string, string>> = {},
): Promise<LongRunningClient> {
  return new LongRunningClient(program, await goProgram(program), [
    '--bootstrap',
    target.bootstrap,
    '--topic',
    topic,
    '--group',
    group,
    '--interval-ms',
    String(intervalMs),
    ...librdkafkaConfig(target),
    ...Object.entries(config).flatMap(([k, v]) => ['-X', `${k}=${v}`]),
  ]);
}

export interface CollisionOptions {
  readonly partition?: number;
  readonly records?: number;
  /** The clusters' own PLAINTEXT bootstraps: make the producer ids meet (see franz-collision's comment). */
  readonly align?: { readonly blue: string; readonly green: string };
}

/** Starts franz-collision: it prints {"ready":true} once producer A has its producer id, and goes
 *  on when told "switched". */
export async function startCollision(target: ClientTarget, topic: string, o: CollisionOptions = {}): Promise<LongRunningClient> {
  return new LongRunningClient(GoProgram.FranzCollision, await goProgram(GoProgram.FranzCollision), [
    '--bootstrap',
    target.bootstrap,
    '--topic',
    topic,
    '--partition',
    String(o.partition ?? 0),
    '--records',
    String(o.records ?? 50),
    ...(o.align ? ['--align-blue', o.align.blue, '--align-green', o.align.green] : []),
    ...librdkafkaConfig(target),
  ]);
}
