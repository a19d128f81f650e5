// The microsecond latency probe (LatencyProbe.java): compiled once per Kafka version and source
// content against that version's kafka-clients, cached outside the git tree, run as one JVM per
// measurement with the same JVM flags as the test bed's Kafka tools.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, resolveKafka } from '../../src/testbed/jars.ts';
import { Heap, spawnJvm, writeLogConfig } from '../../src/testbed/jvm.ts';

const SOURCE = fileURLToPath(new URL('./LatencyProbe.java', import.meta.url));

export interface LatencyStats {
  readonly count: number;
  readonly avgUs: number;
  readonly p50Us: number;
  readonly p95Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export interface ProbeResult {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly errors: number;
  readonly produce: LatencyStats;
  readonly e2e: LatencyStats | null;
}

export interface ProbeSpec {
  readonly bootstrap: string;
  readonly topic: string;
  readonly records: number;
  readonly recordSize: number;
  readonly recordsPerSec: number;
  readonly acks: 'all' | '1';
  readonly warmupRecords: number;
  /** Also consume the records in the same JVM and measure send-to-receipt latency. */
  readonly endToEnd: boolean;
  readonly timeoutMs: number;
}

export class LatencyProbe {
  readonly version: string;
  readonly #classpath: string;
  readonly #libDir: string;
  readonly #logConfigFlag: string;
  readonly #dir: string;

  private constructor(version: string, classpath: string, libDir: string, logConfigFlag: string, dir: string) {
    this.version = version;
    this.#classpath = classpath;
    this.#libDir = libDir;
    this.#logConfigFlag = logConfigFlag;
    this.#dir = dir;
  }

  static async compile(version: string): Promise<LatencyProbe> {
    const jars = await resolveKafka(version);
    const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
    const dir = join(cacheDir(), 'bench', `latency-probe-kafka-${version}-${hash}`);
    if (!existsSync(join(dir, 'LatencyProbe.class'))) {
      const staging = `${dir}.tmp-${process.pid}`;
      mkdirSync(staging, { recursive: true });
      const r = spawnSync('javac', ['--release', '17', '-nowarn', '-cp', jars.classpath, '-d', staging, SOURCE], { encoding: 'utf8' });
      if (r.status !== 0) {
        rmSync(staging, { recursive: true, force: true });
        throw new Error(`compiling ${SOURCE} failed (is a JDK 17+ with javac installed?):\n${r.error?.message ?? ''}${r.stderr}`);
      }
      rmSync(dir, { recursive: true, force: true });
      renameSync(staging, dir);
    }
    const scratch = mkdtempSync(join(tmpdir(), 'turnout-bench-probe-'));
    process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
    return new LatencyProbe(version, `${dir}${delimiter}${jars.classpath}`, jars.libDir, writeLogConfig(version, scratch, { stderr: true }), scratch);
  }

  /** The probe's arguments, as printed in the report. */
  static args(s: ProbeSpec): string[] {
    return [s.bootstrap, s.topic, String(s.records), String(s.recordSize), String(s.recordsPerSec), s.acks, String(s.warmupRecords), String(s.endToEnd)];
  }

  async run(s: ProbeSpec): Promise<ProbeResult> {
    const jvm = spawnJvm({
      jars: { version: this.version, libDir: this.#libDir, classpath: this.#classpath },
      main: 'LatencyProbe',
      args: LatencyProbe.args(s),
      heap: Heap.tool,
      logConfigFlag: this.#logConfigFlag,
      cwd: this.#dir,
      holdsProcessOpen: true,
    });
    let stdout = '';
    let stderr = '';
    jvm.child.stdin!.end();
    jvm.child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    jvm.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<void>((resolve) => jvm.child.once('close', () => resolve()));
    const timer = setTimeout(() => void jvm.stop('SIGKILL'), s.timeoutMs);
    try {
      const [status] = await Promise.all([jvm.exited, closed]);
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (status.code !== 0 || line === undefined) {
        const why = status.signal === 'SIGKILL' ? `did not finish within ${s.timeoutMs} ms` : `failed (exit ${status.code})`;
        throw new Error(`LatencyProbe ${why}:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
      }
      return JSON.parse(line) as ProbeResult;
    } finally {
      clearTimeout(timer);
    }
  }
}
