// What every client driver shares: the target it connects to, the records it produces and
// consumes, the error it fails with, and the bookkeeping that makes sure no client (child process
// or in-process connection) outlives the test that started it.
//
// A driver knows nothing about brokers or gateways: a test points it at any bootstrap address, so
// the same driver runs against the test bed's brokers directly and, later, through Turnout.
import { GroupProcess } from '../../../src/testbed/processes.ts';

export interface ClientTarget {
  /** Comma-separated host:port list. */
  readonly bootstrap: string;
  /** SASL_PLAINTEXT with SASL/PLAIN when set, PLAINTEXT otherwise. */
  readonly sasl?: { readonly username: string; readonly password: string };
}

export interface ProduceMessage {
  readonly key?: string;
  readonly value: string;
}

export interface ConsumedRecord {
  /** Absent when the record has a null key. */
  readonly key?: string;
  readonly value: string;
  readonly partition: number;
  readonly offset: bigint;
}

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface ClusterMetadata {
  /** Sorted by node id. */
  readonly brokers: readonly BrokerAddress[];
  /** Every topic the client was told about (internal ones such as __consumer_offsets included), sorted. */
  readonly topics: readonly string[];
}

export interface StepOptions {
  /** Fail (and stop the client) after this long; default DEFAULT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

/** The shape every client family offers, so gateway tests can loop over clients. */
export interface ClientDriver {
  readonly name: string;
  /** acks=all; resolves when every message is acknowledged. */
  produce(target: ClientTarget, topic: string, messages: readonly ProduceMessage[], options?: StepOptions): Promise<void>;
  /** Joins `group`, reads `count` records (from the earliest offset when the group has no committed
   *  offsets), commits them, leaves the group. Records are in the order the client delivered them. */
  consumeGroup(target: ClientTarget, topic: string, group: string, count: number, timeoutMs: number): Promise<ConsumedRecord[]>;
  listMetadata(target: ClientTarget, options?: StepOptions): Promise<ClusterMetadata>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export const ClientErrorCode = {
  /** The step did not finish in time; the client was stopped. */
  Timeout: 'CLIENT_TIMEOUT',
  /** The client reported an error or exited non-zero. */
  Failed: 'CLIENT_FAILED',
  /** The client program (kcat, python3-confluent-kafka, javac) is not installed. */
  NotInstalled: 'CLIENT_NOT_INSTALLED',
  /** The driver cannot express this input with this client (e.g. a tab in a kcat key). */
  BadInput: 'CLIENT_BAD_INPUT',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A test client's failure (test support, not the gateway's: its codes are not in the gateway's registry). */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** Which client family ('kafkajs', 'kcat', ...) and which step ('produce', 'consumeGroup', ...). */
  readonly client: string;
  readonly step: string;

  constructor(code: ClientErrorCode, client: string, step: string, message: string, options?: { cause?: unknown }) {
    super(`${client} ${step}: ${message}`, options);
    this.code = code;
    this.name = 'ClientError';
    this.client = client;
    this.step = step;
  }
}

const TAIL_CHARS = 3000;

export function tail(text: string, chars = TAIL_CHARS): string {
  const t = text.trimEnd();
  return t.length > chars ? `...${t.slice(-chars)}` : t || '(empty)';
}

export function sortMetadata(m: ClusterMetadata): ClusterMetadata {
  return {
    brokers: [...m.brokers].sort((a, b) => a.nodeId - b.nodeId),
    topics: [...new Set(m.topics)].sort(),
  };
}

/** The offsets a consumer commits after `records`: one past the highest consumed offset of each
 *  partition. */
export function nextOffsets(records: readonly ConsumedRecord[]): Map<number, bigint> {
  const next = new Map<number, bigint>();
  for (const r of records) if ((next.get(r.partition) ?? -1n) < r.offset + 1n) next.set(r.partition, r.offset + 1n);
  return next;
}

// ---- cleanup: nothing a driver starts survives the test ----

const closers = new Set<() => Promise<void>>();

/** Registers a way to stop something a driver started; returns the function that unregisters it. */
export function track(close: () => Promise<void>): () => void {
  closers.add(close);
  return () => closers.delete(close);
}

/** Stops every client still running (child processes are killed, in-process clients closed). Tests
 *  call this in an `after` hook; drivers already clean up after themselves, so it only matters when
 *  something went wrong. */
export async function stopAllClients(): Promise<void> {
  const all = [...closers];
  closers.clear();
  await Promise.allSettled(all.map((close) => close()));
}

/** Closes an in-process client, giving up (silently) after `ms`: a close that hangs must not hang
 *  the test. */
async function closeQuietly(close: () => Promise<unknown>, ms = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([close().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export interface InProcessStep<T> {
  readonly client: string;
  readonly step: string;
  readonly timeoutMs: number;
  readonly work: () => Promise<T>;
  /** Disconnects the client; always called when the step ends, however it ends. */
  readonly close: () => Promise<unknown>;
  /** The client's log, shown in the error when the step fails. */
  readonly log: LogRing;
  /** How far the step got, for the timeout message (e.g. "3 of 20 records consumed"). */
  readonly progress?: () => string;
}

/** Runs one step of an in-process client (kafkajs, platformatic) with a deadline. It fails with
 *  CLIENT_TIMEOUT when the deadline passes, CLIENT_FAILED when the client throws or
 *  stopAllClients() stops it, and closes the client in every case. */
export async function runInProcess<T>(s: InProcessStep<T>): Promise<T> {
  const fail = (code: ClientErrorCode, what: string, cause?: unknown) =>
    new ClientError(code, s.client, s.step, `${what}\nclient log (end):\n${tail(s.log.text())}`, cause === undefined ? undefined : { cause });
  let timer: NodeJS.Timeout | undefined;
  let stop: (err: Error) => void = () => {};
  const ended = new Promise<never>((_, reject) => {
    stop = reject;
    timer = setTimeout(() => {
      const p = s.progress?.();
      reject(fail(ClientErrorCode.Timeout, `did not finish within ${s.timeoutMs} ms${p ? ` (${p})` : ''}`));
    }, s.timeoutMs);
  });
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const untrack = track(async () => {
    stop(fail(ClientErrorCode.Failed, 'stopped by stopAllClients() before it finished'));
    await closed;
  });
  try {
    return await Promise.race([s.work(), ended]);
  } catch (err) {
    if (err instanceof ClientError) throw err;
    throw fail(ClientErrorCode.Failed, errorText(err), err);
  } finally {
    clearTimeout(timer);
    await closeQuietly(s.close);
    untrack();
    markClosed();
  }
}

function errorText(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return String(err);
  // Clients wrap the error that matters: @platformatic/kafka nests AggregateErrors two deep
  // ("Producing messages failed" > "produce failed 6 times" > the broker's or socket's error).
  const nested = (e: unknown) => (depth < 3 ? errorText(e, depth + 1) : e instanceof Error ? e.message : String(e));
  const inner = (err as Error & { errors?: unknown[] }).errors;
  const cause = err.cause instanceof Error ? ` (cause: ${nested(err.cause)})` : '';
  const more = Array.isArray(inner) && inner.length ? ` [${[...new Set(inner.map(nested))].join('; ')}]` : '';
  return `${err.name}: ${err.message}${cause}${more}`;
}

// ---- child processes (python, kcat, java) ----

export interface ChildRun {
  readonly client: string;
  readonly step: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** What to tell the user when `command` does not exist. */
  readonly installHint?: string;
  /** The exit code with which the program reports that its own deadline passed. */
  readonly timeoutExitCode?: number;
}

export interface ChildOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a client program to completion in its own process group (registered with the test bed's
 *  reaper, so it dies with this process even on a crash). A non-zero exit, a spawn failure or the
 *  deadline throws ClientError with the tail of stderr; on the deadline the group is killed. */
export async function runChild(run: ChildRun): Promise<ChildOutput> {
  const proc = new GroupProcess(run.command, run.args, { cwd: run.cwd, env: run.env, holdsProcessOpen: true });
  let stdout = '';
  let stderr = '';
  proc.child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.child.stdin!.on('error', () => {}); // it may exit before reading its input
  proc.child.stdin!.end(run.input ?? '');
  const closed = new Promise<void>((resolve) => proc.child.once('close', () => resolve()));
  let stopped = false;
  const untrack = track(async () => {
    stopped = true;
    await proc.stop('SIGKILL', 1_000);
  });

  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), run.timeoutMs)));
  try {
    const outcome = await Promise.race([proc.exited.then(() => closed).then(() => 'exited' as const), expired]);
    if (outcome === 'timeout') {
      await proc.stop('SIGKILL', 1_000);
      throw new ClientError(
        ClientErrorCode.Timeout,
        run.client,
        run.step,
        `did not finish within ${run.timeoutMs} ms and was killed.\nstdout (end):\n${tail(stdout, 1000)}\nstderr (end):\n${tail(stderr)}`,
      );
    }
    const status = proc.status!;
    if (stopped) {
      throw new ClientError(ClientErrorCode.Failed, run.client, run.step, `stopped by stopAllClients() before it finished.\nstderr (end):\n${tail(stderr)}`);
    }
    if (status.code !== 0) {
      const timedOut = run.timeoutExitCode !== undefined && status.code === run.timeoutExitCode;
      throw new ClientError(
        timedOut ? ClientErrorCode.Timeout : ClientErrorCode.Failed,
        run.client,
        run.step,
        `${timedOut ? 'gave up at its deadline' : `${run.command} exited with ${status.code ?? status.signal}`}.\nstdout (end):\n${tail(stdout, 1000)}\nstderr (end):\n${tail(stderr)}`,
      );
    }
    return { stdout, stderr };
  } catch (err) {
    if (err instanceof ClientError) throw err;
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ClientError(
      missing ? ClientErrorCode.NotInstalled : ClientErrorCode.Failed,
      run.client,
      run.step,
      missing ? `${run.command} was not found. ${run.installHint ?? ''}`.trim() : `could not run ${run.command}: ${errorText(err)}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    untrack();
    if (proc.isRunning()) await proc.stop('SIGKILL', 1_000);
  }
}

/** Parses each non-empty stdout line as JSON; a line that is not JSON fails with the output. */
export function jsonLines<T>(client: string, step: string, out: ChildOutput): T[] {
  const lines = out.stdout.split('\n').filter((l) => l.trim().length > 0);
  return lines.map((line) => {
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new ClientError(ClientErrorCode.Failed, client, step, `printed a line that is not JSON: ${line.slice(0, 300)}\nstderr (end):\n${tail(out.stderr)}`);
    }
  });
}

/** Keeps a ring of the last log lines of an in-process client, shown only when a step fails. */
export class LogRing {
  readonly #lines: string[] = [];
  readonly #max: number;

  constructor(max = 200) {
    this.#max = max;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#max) this.#lines.shift();
  }

  text(): string {
    return this.#lines.join('\n');
  }
}

/** Random suffix for client ids, so logs on the broker side tell runs apart. */
export function clientId(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
