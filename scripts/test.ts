// The test runner behind `npm test`: type check, resolve the Kafka jars (so downloads happen
// before any test starts), host the test bed service that owns every Kafka JVM of the run, run all
// test files in ONE `node --test` invocation, stop everything, and print a summary.
//
//   node scripts/test.ts [--only unit|integration] [--fuzz-iterations N] [--keep-logs]
//                        [file or substring ...] [other --flags passed to node --test]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, globSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestBed } from '../src/testbed/bed.ts';
import { cacheDir, isKafkaCached, resolveKafka } from '../src/testbed/jars.ts';
import { registerGroup } from '../src/testbed/processes.ts';
import { startTestBedService, TESTBED_URL_ENV, type TestBedService } from '../src/testbed/service.ts';
import { TESTED_KAFKA_VERSIONS } from '../src/testbed/versions.ts';
import { ClientError } from '../test/support/clients/common.ts';
import { rdkafkaPython } from '../test/support/clients/python-venv.ts';
import { buildGoClients } from '../test/support/switchover/go-clients.ts';
import { ensureDebianPackagesOrExit } from './debian-packages.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PER_TEST_TIMEOUT_MS = 180_000;
// A run that goes on longer than this is stuck somewhere (the whole suite takes ~7 min on 2
// cores): it is stopped with the list of unfinished files, rather than left to CI's own limit.
const RUN_DEADLINE_S = Number(process.env.TURNOUT_TEST_DEADLINE_S ?? 2700);
const SUITES = { unit: 'test/unit/**/*.test.ts', integration: 'test/integration/**/*.test.ts' } as const;
type Suite = keyof typeof SUITES;

interface Options {
  suites: Suite[];
  filters: string[];
  nodeTestFlags: string[];
  env: Record<string, string>;
  keepLogs: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { suites: ['unit', 'integration'], filters: [], nodeTestFlags: [], env: {}, keepLogs: !!process.env.TURNOUT_KEEP_LOGS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined) fail(`${arg} needs a value`);
      return v;
    };
    if (arg.startsWith('--only')) {
      const suite = value();
      if (suite !== 'unit' && suite !== 'integration') fail(`--only takes "unit" or "integration", not "${suite}"`);
      o.suites = [suite];
    } else if (arg.startsWith('--fuzz-iterations')) o.env.TURNOUT_FUZZ_ITERATIONS = value();
    else if (arg === '--keep-logs') o.keepLogs = true;
    else if (arg.startsWith('-')) o.nodeTestFlags.push(arg);
    else o.filters.push(arg);
  }
  return o;
}

function fail(message: string): never {
  process.stderr.write(`test runner: ${message}\n`);
  process.exit(2);
}

/** Test files of the chosen suites; a filter is a file path or a substring of one. */
function testFiles(o: Options): { suite: Suite; file: string }[] {
  const all = o.suites.flatMap((suite) =>
    globSync(SUITES[suite], { cwd: ROOT })
      .sort()
      .map((file) => ({ suite, file })),
  );
  if (o.filters.length === 0) return all;
  const wanted = o.filters.map((f) => (existsSync(f) ? relative(ROOT, resolve(f)) : f));
  return all.filter(({ file }) => wanted.some((w) => file === w || file.includes(w)));
}

function typeCheck(): void {
  const started = Date.now();
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stdout.write(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}\n`);
    fail('type check failed (tsc -p tsconfig.json); fix the errors above first');
  }
  process.stdout.write(`type check passed in ${seconds(Date.now() - started)}\n`);
}

/** The client programs the integration tests run that the repository builds or installs: the
 *  librdkafka virtualenv (confluent-kafka from PyPI) and the Go clients (franz-go, sarama). Cached
 *  across runs; done here so that no test pays for it inside its own time limit. */
async function prepareClients(): Promise<void> {
  const write = (t: string) => process.stdout.write(t);
  try {
    rdkafkaPython(write);
    await buildGoClients(write);
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    fail(err.message);
  }
}

async function resolveJars(): Promise<void> {
  for (const version of TESTED_KAFKA_VERSIONS) {
    const started = Date.now();
    if (!isKafkaCached(version)) {
      process.stdout.write(`resolving the Kafka ${version} jars from Maven Central into ${cacheDir()} (first run only; ~150 MB)...\n`);
    }
    await resolveKafka(version, (line) => process.stdout.write(`  ${line}\n`));
    process.stdout.write(`Kafka ${version} jars ready in ${seconds(Date.now() - started)}\n`);
  }
}

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Counts the test points of node's TAP output whose YAML block says `type: 'test'` (suites are
 *  test points too). Counting points rather than reading the final "# pass N" comments keeps the
 *  count right when a run is interrupted before node writes its summary. */
function parseTap(path: string): Counts {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [];
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (let i = 0; i < lines.length; i++) {
    const point = /^\s*(not ok|ok) \d+ - .*?(?: # (SKIP|TODO)\b.*)?$/.exec(lines[i]);
    if (!point) continue;
    let type = '';
    for (let j = i + 1; j < lines.length && !/^\s*\.\.\.$/.test(lines[j]); j++) {
      type = /^\s*type: '(\w+)'/.exec(lines[j])?.[1] ?? type;
    }
    if (type !== 'test') continue;
    if (point[2]) counts.skipped++;
    else if (point[1] === 'ok') counts.passed++;
    else counts.failed++;
  }
  return counts;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const runStarted = Date.now();
  const o = parseArgs(process.argv.slice(2));
  typeCheck();
  const files = testFiles(o);
  if (files.length === 0) {
    process.stdout.write(`no test files match (${o.suites.map((s) => SUITES[s]).join(', ')}${o.filters.length ? `; filter ${o.filters.join(' ')}` : ''})\n`);
    process.stdout.write('tests: 0 passed, 0 failed, 0 skipped\n');
    // A filter that matches nothing is a mistake (a typo, a renamed file), not a pass.
    process.exitCode = 1;
    return;
  }

  const needsKafka = files.some((f) => f.suite === 'integration');
  let bed: TestBed | undefined;
  let service: TestBedService | undefined;
  if (needsKafka) {
    ensureDebianPackagesOrExit();
    await prepareClients();
    await resolveJars();
    bed = new TestBed();
    service = await startTestBedService(bed);
  }
  const reportDir = bed?.runDir ?? mkdtempSync(join(tmpdir(), 'turnout-test-'));
  const tapFile = join(reportDir, 'results.tap');

  const args = [
    '--test',
    '--test-concurrency=2',
    // In every test process: a test that passes without running an assertion fails.
    '--import',
    join(ROOT, 'scripts', 'assertion-guard.ts'),
    `--test-timeout=${PER_TEST_TIMEOUT_MS}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...o.nodeTestFlags,
    ...files.map((f) => f.file),
  ];
  const env = { ...process.env, ...o.env, ...(service ? { [TESTBED_URL_ENV]: service.url } : {}) };
  // Its own process group, registered with the reaper: if this runner is killed, the test
  // processes go too. Terminal signals therefore reach only us, and we forward them.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit', detached: true });
  if (child.pid) registerGroup(child.pid);

  let interrupted: string | undefined;
  const signalTests = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const interrupt = (why: string) => {
    if (interrupted) return;
    interrupted = why;
    process.stdout.write(`\ntest runner: ${why}, stopping the tests and the test bed...\n`);
    signalTests('SIGTERM');
    setTimeout(() => signalTests('SIGKILL'), 30_000).unref();
  };
  process.on('SIGINT', () => interrupt('SIGINT'));
  process.on('SIGTERM', () => interrupt('SIGTERM'));
  const deadline = setTimeout(() => interrupt(`the run exceeded ${RUN_DEADLINE_S} s (TURNOUT_TEST_DEADLINE_S)`), RUN_DEADLINE_S * 1000);

  const exitCode = await new Promise<number>((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0))));
  clearTimeout(deadline);

  const timings = (await bed?.timings()) ?? [];
  await bed?.stop();
  await service?.close();

  const counts = parseTap(tapFile);
  const failed = exitCode !== 0 || counts.failed > 0 || interrupted !== undefined;
  for (const t of timings) {
    const what = t.kind === 'cluster' ? 'cluster' : 'MirrorMaker 2';
    process.stdout.write(`start-up: ${what} "${t.name}" (Kafka ${t.version}) ready in ${seconds(t.startupMs)}\n`);
  }
  if (bed) {
    if (failed || o.keepLogs) process.stdout.write(`broker and MirrorMaker logs: ${bed.runDir}\n`);
    else bed.removeRunDir();
  }
  if (exitCode !== 0 && counts.failed === 0 && !interrupted) {
    process.stdout.write(`node --test exited with code ${exitCode} although no test reported a failure (see its output above)\n`);
  }
  process.stdout.write(`wall time: ${seconds(Date.now() - runStarted)}\n`);
  process.stdout.write(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  process.exitCode = interrupted === 'SIGINT' || interrupted === 'SIGTERM' ? 130 : failed ? 1 : 0;
}

await main();
