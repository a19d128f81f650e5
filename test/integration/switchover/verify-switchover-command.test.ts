// `npm run verify:switchover` as CI runs it: the script itself (scripts/verify-switchover.ts, a
// child process with this process's environment) at a small scale, 2 planned switches and 1 hot,
// the four original pairs, `--verdicts delivery`. Under the test runner it joins the shared
// vs-blue/vs-green clusters and MirrorMakers of twoWayClusters() and leaves them running. It must
// exit 0 (nothing lost, every switch switched, no pair crashed, no send failed, no re-reads by
// caught-up groups of pairs without a known gap), write its report where --out says (not over
// docs/switchover-verification.md), and say in the report and in its printed summary which
// verdicts decided the exit code; stalls are figures of the report, not verdicts.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ClusterDescriptor, ListenerKind, TESTBED_URL_ENV } from '../../../src/testbed/index.ts';
import { twoWayClusters } from '../../support/switchover/client-matrix.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'verify-switchover.ts');
const COMMITTED_REPORT = join(ROOT, 'docs', 'switchover-verification.md');
// Cluster start-up (when this file is first to ask), two runs of the pairs and the settle, on a busy machine.
const RUN_LIMIT_MS = 540_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let child: ChildProcess | undefined;

/** `node scripts/verify-switchover.ts ARGS` (what `npm run verify:switchover -- ARGS` runs), environment inherited. */
function verifySwitchover(args: readonly string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGTERM lets the script stop its clients and gateway; SIGKILL if that hangs.
    const term = setTimeout(() => c.kill('SIGTERM'), RUN_LIMIT_MS);
    const kill = setTimeout(() => c.kill('SIGKILL'), RUN_LIMIT_MS + 40_000);
    c.on('error', reject);
    c.on('close', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      child = undefined;
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('npm run verify:switchover at CI size with --verdicts delivery', () => {
  const shared = !!process.env[TESTBED_URL_ENV];
  const scratch = mkdtempSync(join(tmpdir(), 'turnout-verify-switchover-command-'));
  let blue: ClusterDescriptor | undefined;

  before(async () => {
    // The runner's shared clusters, started (or joined) before the command so that its time is the scenario's.
    if (shared) ({ blue } = await twoWayClusters());
  });

  after(() => {
    child?.kill('SIGTERM');
    rmSync(scratch, { recursive: true, force: true });
  });

  test('exits 0, writes its report to --out and names the verdicts that decided, in the report and the summary; the shared clusters keep running', {
    timeout: RUN_LIMIT_MS + 60_000,
  }, async (t) => {
    const out = join(scratch, 'report.md');
    const committedBefore = existsSync(COMMITTED_REPORT) ? statSync(COMMITTED_REPORT).mtimeMs : undefined;
    const run = await verifySwitchover(['--switches', '2', '--hot-switches', '1', '--pause', '3', '--classic-only', '--verdicts', 'delivery', '--out', out]);
    t.diagnostic(`verify:switchover exited ${run.code ?? run.signal} after ${(run.ms / 1000).toFixed(0)} s`);
    for (const line of run.stdout.trim().split('\n')) t.diagnostic(line);
    const shown = `exit ${run.code ?? run.signal} after ${run.ms} ms\nstdout:\n${run.stdout.slice(-6000)}\nstderr:\n${run.stderr.slice(-6000)}`;
    assert.equal(run.code, 0, shown);

    // The printed summary: what decided the exit code, what was only reported.
    assert.match(
      run.stdout,
      /^verdicts \(--verdicts delivery\) deciding the exit code: lost, caught-up re-reads, switched, crashed, send errors; reported only: caught-up re-reads of known gaps, producer stall p99$/m,
      shown,
    );
    assert.match(run.stdout, /^verdict {2}met {5}acknowledged but never consumed \(all pairs\): 0 /m, shown);
    assert.match(run.stdout, /^reported (met {4}|NOT MET) producer stall p99 over all pairs and switches: /m, shown);
    assert.match(run.stdout, /^every verdict met: exit 0$/m, shown);

    // The report, where --out said, and not over the committed one.
    assert.ok(existsSync(out), `no report at ${out}\n${shown}`);
    const report = readFileSync(out, 'utf8');
    assert.match(
      report,
      /^\*\*Verdicts met\*\* \(planned run; `--verdicts delivery`: .* decide the exit code; stalls and the known gaps' re-reads are reported only; exit code 0\)\.$/m,
    );
    assert.match(report, /^\| producer stall p99 over all pairs and switches \| <= 1000 ms \| .* \| no, reported only \|$/m);
    assert.match(report, /^\| acknowledged but never consumed \(all pairs\) \| 0 \| 0 \| met \| yes \|$/m);
    assert.match(report, /^\| switches that switched \| 2 \| 2 \| met \| yes \|$/m);
    assert.match(report, /^Generated by `npm run verify:switchover -- --switches 2 --hot-switches 1 --pause 3 --classic-only --verdicts delivery --out /m);
    assert.match(report, /switch state topic `_turnout_state-[0-9tz]+-[0-9a-f]{6}`/);
    assert.equal(existsSync(COMMITTED_REPORT) ? statSync(COMMITTED_REPORT).mtimeMs : undefined, committedBefore, `${COMMITTED_REPORT} was rewritten`);

    if (shared) {
      // It ran on the runner's vs-blue (same broker) and left it, and green and both MirrorMakers, running.
      assert.ok(report.includes(`vs-blue (node id 1, SASL ${blue!.bootstrap(ListenerKind.Sasl)})`), 'the report names another vs-blue than the shared one');
      assert.match(report, /were the test runner's shared ones .* left running/);
      const again = await twoWayClusters();
      assert.deepEqual([again.blue.bootstrap(ListenerKind.Sasl), again.blue.brokers.every((b) => b.running)], [blue!.bootstrap(ListenerKind.Sasl), true]);
    } else {
      assert.match(report, /The script started them and both MirrorMakers, and stopped them at the end\./);
    }
  });
});
