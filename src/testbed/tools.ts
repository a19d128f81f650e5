// Kafka's own command line tools (console producer and consumer, perf and verifiable clients,
// consumer-groups, get-offsets, ...) of one Kafka version, run as `java -cp <libs>/* <MainClass>`
// in the calling process. They only need the jar classpath, so a test process runs them itself.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBedError, TestBedErrorCode } from './errors.ts';
import { type KafkaJars, resolveKafka } from './jars.ts';
import { Heap, spawnJvm, writeLogConfig } from './jvm.ts';
import type { ExitStatus, GroupProcess } from './processes.ts';
import { SASL_USERS } from './types.ts';
import { DEFAULT_KAFKA_VERSION, type KafkaLine, KafkaTool, type KafkaToolName, kafkaLine } from './versions.ts';

export interface ToolResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the tool's stdin, which is then closed (e.g. lines for the console producer). */
  readonly input?: string;
  /** Kill the tool and fail after this long (default 60 s). */
  readonly timeoutMs?: number;
}

/** A tool running in the background (e.g. a verifiable consumer); stopped with stop(), and killed
 *  when this process exits if still running. */
export class ToolProcess {
  readonly tool: KafkaToolName;
  readonly exited: Promise<ToolResult>;
  readonly #process: GroupProcess;
  #stdout = '';
  #stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(tool: KafkaToolName, process: GroupProcess) {
    this.tool = tool;
    this.#process = process;
    process.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.#stdout += d;
      for (const wake of this.#waiters) wake();
    });
    process.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.#stderr += d));
    process.child.stdin!.on('error', () => {}); // the tool may exit before reading its input
    // 'close' (not 'exit') so that all output has been read when the promise resolves.
    const closed = new Promise<void>((resolve) => process.child.once('close', () => resolve()));
    this.exited = Promise.all([process.exited, closed]).then(([status]) => this.#result(status));
    this.exited.catch(() => {});
  }

  get pid(): number {
    return this.#process.pid;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  isRunning(): boolean {
    return this.#process.isRunning();
  }

  write(text: string): void {
    this.#process.child.stdin!.write(text);
  }

  endInput(): void {
    this.#process.child.stdin!.end();
  }

  /** Resolves with stdout once it matches `pattern`; fails if the tool exits or time runs out. */
  async waitForOutput(pattern: RegExp | string, timeoutMs = 30_000): Promise<string> {
    const matches = () => (typeof pattern === 'string' ? this.#stdout.includes(pattern) : pattern.test(this.#stdout));
    if (matches()) return this.#stdout;
    return new Promise<string>((resolve, reject) => {
      const done = (err?: Error) => {
        this.#waiters.delete(wake);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(this.#stdout);
      };
      const wake = () => matches() && done();
      const timer = setTimeout(() => done(this.#error(`did not print ${pattern} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.add(wake);
      this.exited.then((r) => (matches() ? done() : done(this.#error(`exited (code ${r.exitCode}) before printing ${pattern}`))));
    });
  }

  /** Stops the tool (SIGTERM lets Java tools print their final summary) and returns its output. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ToolResult> {
    await this.#process.stop(signal, 5_000);
    return this.exited;
  }

  #result(status: ExitStatus): ToolResult {
    return { exitCode: status.code, signal: status.signal, stdout: this.#stdout, stderr: this.#stderr };
  }

  #error(what: string): TestBedError {
    return new TestBedError(
      TestBedErrorCode.ToolTimeout,
      `${this.tool} ${what}.\nstdout (end):\n${this.#stdout.slice(-2000)}\nstderr (end):\n${this.#stderr.slice(-2000)}`,
    );
  }
}

export class KafkaTools {
  readonly version: string;
  readonly #jars: KafkaJars;
  readonly #line: KafkaLine;
  readonly #dir: string;
  readonly #logConfigFlag: string;
  readonly #running = new Set<ToolProcess>();

  constructor(jars: KafkaJars, dir: string) {
    this.version = jars.version;
    this.#jars = jars;
    this.#line = kafkaLine(jars.version);
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    this.#logConfigFlag = writeLogConfig(jars.version, dir, { stderr: true });
  }

  mainClass(tool: KafkaToolName): string {
    return this.#line.tools[tool];
  }

  /** Starts a tool in the background. */
  spawn(tool: KafkaToolName, args: readonly string[]): ToolProcess {
    return this.#start(tool, args, false);
  }

  /** Runs a tool to completion and returns its exit code and output; a non-zero exit is returned,
   *  not thrown, so tests can assert on failures. Throws TESTBED_TOOL_TIMEOUT on timeout. */
  async run(tool: KafkaToolName, args: readonly string[], options: RunOptions = {}): Promise<ToolResult> {
    const proc = this.#start(tool, args, true);
    if (options.input !== undefined) proc.write(options.input);
    proc.endInput();
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(async () => {
        const r = await proc.stop('SIGKILL');
        reject(
          new TestBedError(
            TestBedErrorCode.ToolTimeout,
            `${tool} ${args.join(' ')} did not finish within ${timeoutMs} ms and was killed.\n` +
              `stdout (end):\n${r.stdout.slice(-2000)}\nstderr (end):\n${r.stderr.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([proc.exited, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Arguments that point `tool` at a cluster: the bootstrap servers and, for SASL or other client
   *  settings, a client .properties file, using the flag names of this Kafka version. */
  connectionArgs(tool: KafkaToolName, bootstrap: string, clientConfigFile?: string): string[] {
    const args =
      tool === KafkaTool.ProducerPerformance && !this.#line.perfTestHasBootstrapFlag
        ? ['--producer-props', `bootstrap.servers=${bootstrap}`]
        : ['--bootstrap-server', bootstrap];
    if (clientConfigFile) args.push(this.#line.clientConfigFlag[tool], clientConfigFile);
    return args;
  }

  /** Writes a client .properties file for SASL_PLAINTEXT with SASL/PLAIN and returns its path. */
  saslClientConfig(
    user: string = 'alice',
    password: string = SASL_USERS[user as keyof typeof SASL_USERS] ?? '',
    extra: Readonly<Record<string, string>> = {},
  ): string {
    const path = join(this.#dir, `client-${user}-${Math.random().toString(36).slice(2, 8)}.properties`);
    writeSaslClientProperties(path, user, password, extra);
    return path;
  }

  /** End offset of every partition of `topic` (GetOffsetShell --time -1). */
  async endOffsets(bootstrap: string, topic: string, clientConfigFile?: string): Promise<Map<number, number>> {
    const r = await this.run(KafkaTool.GetOffsets, [
      ...this.connectionArgs(KafkaTool.GetOffsets, bootstrap, clientConfigFile),
      '--topic',
      topic,
      '--time',
      '-1',
    ]);
    if (r.exitCode !== 0) throw toolFailed(KafkaTool.GetOffsets, r);
    const offsets = new Map<number, number>();
    for (const line of r.stdout.split('\n')) {
      const m = /^(.*):(\d+):(\d+)$/.exec(line.trim());
      if (m && m[1] === topic) offsets.set(Number(m[2]), Number(m[3]));
    }
    return offsets;
  }

  /** Committed offsets of consumer group `group`, keyed "topic:partition" (consumer-groups --describe). */
  async groupOffsets(bootstrap: string, group: string): Promise<Map<string, number>> {
    const r = await this.run(KafkaTool.ConsumerGroups, [...this.connectionArgs(KafkaTool.ConsumerGroups, bootstrap), '--describe', '--group', group]);
    const offsets = new Map<string, number>();
    if (r.exitCode !== 0) return offsets; // an unknown group is "no offsets yet" to callers that poll
    let columns: string[] | undefined;
    for (const line of r.stdout.split('\n')) {
      const cells = line.trim().split(/\s+/);
      if (cells[0] === 'GROUP') columns = cells;
      else if (columns && cells[0] === group) {
        const cell = (name: string) => cells[columns!.indexOf(name)];
        const offset = Number(cell('CURRENT-OFFSET'));
        if (Number.isInteger(offset)) offsets.set(`${cell('TOPIC')}:${cell('PARTITION')}`, offset);
      }
    }
    return offsets;
  }

  /** Stops every tool this object started that is still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((p) => p.stop('SIGKILL')));
  }

  #start(tool: KafkaToolName, args: readonly string[], holdsProcessOpen: boolean): ToolProcess {
    const proc = new ToolProcess(
      tool,
      spawnJvm({ jars: this.#jars, main: this.mainClass(tool), args, heap: Heap.tool, logConfigFlag: this.#logConfigFlag, cwd: this.#dir, holdsProcessOpen }),
    );
    this.#running.add(proc);
    proc.exited.finally(() => this.#running.delete(proc)).catch(() => {});
    return proc;
  }
}

export function writeSaslClientProperties(path: string, user: string, password: string, extra: Readonly<Record<string, string>> = {}): void {
  const lines = [
    'security.protocol=SASL_PLAINTEXT',
    'sasl.mechanism=PLAIN',
    `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}";`,
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`),
  ];
  writeFileSync(path, `${lines.join('\n')}\n`);
}

export function toolFailed(tool: KafkaToolName, r: ToolResult): TestBedError {
  return new TestBedError(
    TestBedErrorCode.ProcessExited,
    `${tool} failed (exit ${r.exitCode}).\nstdout (end):\n${r.stdout.slice(-2000)}\nstderr (end):\n${r.stderr.slice(-2000)}`,
  );
}

// One tools object per version per process, with one scratch folder for client config files
// that is removed when the process exits.
const perVersion = new Map<string, Promise<KafkaTools>>();
let scratch: string | undefined;

/** The Kafka tools of `version` for this process (jars resolved on first use). */
export function kafkaTools(version: string = DEFAULT_KAFKA_VERSION): Promise<KafkaTools> {
  let tools = perVersion.get(version);
  if (!tools) {
    tools = resolveKafka(version).then((jars) => {
      if (!scratch) {
        const dir = mkdtempSync(join(tmpdir(), 'turnout-tools-'));
        scratch = dir;
        process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      }
      return new KafkaTools(jars, join(scratch, `kafka-${version}`));
    });
    perVersion.set(version, tools);
    tools.catch(() => perVersion.delete(version));
  }
  return tools;
}
