// The real Java client (kafka-clients) of a chosen Kafka version: JavaClient.java (produce, group
// consume, read-to-end, metadata) and test/support/java/TransactionalProducer.java (the
// transactions seed scenario), compiled on first use against that version's jars and cached
// outside the git tree. Each step is one JVM, killed on its deadline and by stopAllClients().
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, javaExecutable, resolveKafka } from '../../../src/testbed/jars.ts';
import { Heap, javaCommandLine, writeLogConfig } from '../../../src/testbed/jvm.ts';
import { DEFAULT_KAFKA_VERSION } from '../../../src/testbed/versions.ts';
import {
  type ChildOutput,
  type ClientDriver,
  ClientError,
  ClientErrorCode,
  type ClientTarget,
  type ClusterMetadata,
  type ConsumedRecord,
  DEFAULT_TIMEOUT_MS,
  jsonLines,
  type ProduceMessage,
  runChild,
  sortMetadata,
} from './common.ts';

const CLIENT = 'java';
const SOURCES = [fileURLToPath(new URL('./JavaClient.java', import.meta.url)), fileURLToPath(new URL('../java/TransactionalProducer.java', import.meta.url))];
// A JVM needs about a second to start; on top of a step's own deadline it gets this long to report.
const GRACE_MS = 10_000;

export interface JavaOptions {
  /** kafka-clients version (default: the test bed's default Kafka version). */
  readonly version?: string;
  readonly timeoutMs?: number;
  /** Extra client properties, e.g. { 'group.protocol': 'consumer' }. */
  readonly config?: Readonly<Record<string, string>>;
}

/** Client properties that connect to `target`. */
export function javaClientConfig(target: ClientTarget): Record<string, string> {
  const config: Record<string, string> = { 'bootstrap.servers': target.bootstrap };
  if (target.sasl) {
    config['security.protocol'] = 'SASL_PLAINTEXT';
    config['sasl.mechanism'] = 'PLAIN';
    config['sasl.jaas.config'] =
      `org.apache.kafka.common.security.plain.PlainLoginModule required username="${target.sasl.username}" password="${target.sasl.password}";`;
  }
  return config;
}

// ---- compiling, once per Kafka version and source content ----

interface Compiled {
  readonly classpath: string;
  readonly logConfigFlag: string;
  readonly version: string;
  readonly libDir: string;
}

const compiled = new Map<string, Promise<Compiled>>();

function compile(version: string): Promise<Compiled> {
  let pending = compiled.get(version);
  if (!pending) {
    pending = compileUncached(version);
    compiled.set(version, pending);
    pending.catch(() => compiled.delete(version));
  }
  return pending;
}

async function compileUncached(version: string): Promise<Compiled> {
  const jars = await resolveKafka(version);
  const hash = createHash('sha256');
  for (const source of SOURCES) hash.update(readFileSync(source));
  const dir = join(cacheDir(), 'test-clients', `java-kafka-${version}-${hash.digest('hex').slice(0, 12)}`);
  const done = join(dir, 'compiled');
  if (!existsSync(done)) {
    // Compile into a private folder and rename it into place, so concurrent test processes never
    // see half-written classes (the loser of the race discards its copy).
    const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(staging, { recursive: true });
      await runChild({
        client: CLIENT,
        step: `compile (Kafka ${version})`,
        command: 'javac',
        args: ['--release', '17', '-nowarn', '-cp', jars.classpath, '-d', staging, ...SOURCES],
        timeoutMs: 120_000,
        installHint: 'Install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless).',
      });
      await mkdir(join(staging, 'compiled'));
      await rename(staging, dir).catch((err) => {
        if (!existsSync(done)) throw err;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  // Warnings and errors to stderr, where a failed step's error shows them. The log config lives in
  // this process's scratch folder: rewriting a shared file could be read half-written by a JVM.
  const logDir = join(scratchDir(), `kafka-${version}`);
  mkdirSync(logDir, { recursive: true });
  return { classpath: `${dir}${delimiter}${jars.classpath}`, logConfigFlag: writeLogConfig(version, logDir, { stderr: true }), version, libDir: jars.libDir };
}

let scratch: string | undefined;

function scratchDir(): string {
  if (!scratch) {
    const dir = mkdtempSync(join(tmpdir(), 'turnout-java-clients-'));
    scratch = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

async function runJava(step: string, main: string, args: string[], timeoutMs: number, version: string, input?: string): Promise<ChildOutput> {
  const c = await compile(version);
  const env = { ...process.env };
  delete env.JAVA_TOOL_OPTIONS; // as the test bed does: a developer's setting must not change the JVM
  return runChild({
    client: `${CLIENT} ${version}`,
    step,
    command: javaExecutable(),
    env,
    input,
    args: javaCommandLine({ jars: { version, libDir: c.libDir, classpath: c.classpath }, main, args, heap: Heap.tool, logConfigFlag: c.logConfigFlag }),
    timeoutMs: timeoutMs + GRACE_MS,
    timeoutExitCode: 3,
  });
}

function configArgs(target: ClientTarget, ...maps: (Readonly<Record<string, string>> | undefined)[]): string[] {
  return Object.entries(Object.assign(javaClientConfig(target), ...maps)).map(([k, v]) => `${k}=${v}`);
}

/** Settings that make the producer give up within `timeoutMs` instead of its 1-2 minute defaults. */
function producerDeadline(timeoutMs: number): Record<string, string> {
  const request = Math.max(1_000, Math.min(30_000, Math.floor(timeoutMs / 2)));
  return {
    'max.block.ms': String(timeoutMs),
    'request.timeout.ms': String(request),
    'delivery.timeout.ms': String(Math.max(timeoutMs, request + 100)),
  };
}

// ---- the common driver shape ----

export async function produce(target: ClientTarget, topic: string, messages: readonly ProduceMessage[], options: JavaOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const input = messages.map((m) => `${m.key === undefined ? '-' : b64(m.key)}\t${b64(m.value)}\n`).join('');
  const out = await runJava(
    'produce',
    'JavaClient',
    ['produce', topic, ...configArgs(target, { acks: 'all' }, producerDeadline(timeoutMs), options.config)],
    timeoutMs,
    options.version ?? DEFAULT_KAFKA_VERSION,
    input,
  );
  const [summary] = jsonLines<{ acked: number }>(CLIENT, 'produce', out);
  if (summary?.acked !== messages.length) {
    throw new ClientError(ClientErrorCode.Failed, CLIENT, 'produce', `acknowledged ${summary?.acked} of ${messages.length} records`);
  }
}

interface JavaRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

function toRecord(r: JavaRecord): ConsumedRecord {
  return { ...(r.key !== null ? { key: r.key } : {}), value: r.value ?? '', partition: r.partition, offset: BigInt(r.offset) };
}

export async function consumeGroup(
  target: ClientTarget,
  topic: string,
  group: string,
  count: number,
  timeoutMs: number,
  options: JavaOptions = {},
): Promise<ConsumedRecord[]> {
  const out = await runJava(
    'consumeGroup',
    'JavaClient',
    ['consume', topic, group, String(count), String(timeoutMs), ...configArgs(target, options.config)],
    timeoutMs,
    options.version ?? DEFAULT_KAFKA_VERSION,
  );
  return jsonLines<JavaRecord>(CLIENT, 'consumeGroup', out).map(toRecord);
}

export async function listMetadata(target: ClientTarget, options: JavaOptions = {}): Promise<ClusterMetadata> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const out = await runJava(
    'listMetadata',
    'JavaClient',
    ['metadata', String(timeoutMs), ...configArgs(target, options.config)],
    timeoutMs,
    options.version ?? DEFAULT_KAFKA_VERSION,
  );
  const [metadata] = jsonLines<ClusterMetadata>(CLIENT, 'listMetadata', out);
  return sortMetadata(metadata);
}

/** The Java client of one Kafka version in the common driver shape. */
export function javaDriver(version: string = DEFAULT_KAFKA_VERSION): ClientDriver {
  return {
    name: `java-${version}`,
    produce: (target, topic, messages, o) => produce(target, topic, messages, { ...o, version }),
    consumeGroup: (target, topic, group, count, timeoutMs) => consumeGroup(target, topic, group, count, timeoutMs, { version }),
    listMetadata: (target, o) => listMetadata(target, { ...o, version }),
  };
}

// ---- transactions and idempotence ----

export interface TransactionRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  readonly value: string;
}

export interface TransactionOutcome {
  readonly round: number;
  readonly outcome: 'committed' | 'aborted';
  readonly records: readonly TransactionRecord[];
}

export interface TransactionsResult {
  readonly transactionalId: string;
  /** In the order they happened: round 1 committed, round 1 aborted, round 2 committed, ... */
  readonly transactions: readonly TransactionOutcome[];
  readonly committed: readonly TransactionRecord[];
  readonly aborted: readonly TransactionRecord[];
}

export interface TransactionsOptions extends JavaOptions {
  /** Default: a fresh unique id. */
  readonly transactionalId?: string;
}

/** The transactions seed scenario with the Java producer of `version`: `rounds` times, one
 *  transaction writing to topicA and topicB that commits, then one that aborts (its records are
 *  flushed to the log first). Values are `r<round>-<committed|aborted>-<a|b>`, keys `r<round>`. */
export async function runTransactions(
  target: ClientTarget,
  version: string,
  topicA: string,
  topicB: string,
  rounds: number,
  options: TransactionsOptions = {},
): Promise<TransactionsResult> {
  const transactionalId = options.transactionalId ?? `turnout-test-txn-${randomBytes(4).toString('hex')}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const out = await runJava(
    'runTransactions',
    'TransactionalProducer',
    [topicA, topicB, String(rounds), transactionalId, ...configArgs(target, producerDeadline(timeoutMs), options.config)],
    timeoutMs,
    version,
  );
  type Line = { round?: number; outcome?: 'committed' | 'aborted'; records?: (Omit<TransactionRecord, 'offset'> & { offset: number })[]; done?: boolean };
  const lines = jsonLines<Line>(CLIENT, 'runTransactions', out);
  if (!lines.some((l) => l.done)) {
    throw new ClientError(
      ClientErrorCode.Failed,
      CLIENT,
      'runTransactions',
      `exited without finishing its ${rounds} rounds; stdout:\n${out.stdout.slice(-2000)}`,
    );
  }
  const transactions = lines
    .filter((l) => l.outcome)
    .map((l): TransactionOutcome => ({ round: l.round!, outcome: l.outcome!, records: l.records!.map((r) => ({ ...r, offset: BigInt(r.offset) })) }));
  const of = (outcome: string) => transactions.filter((t) => t.outcome === outcome).flatMap((t) => t.records);
  return { transactionalId, transactions, committed: of('committed'), aborted: of('aborted') };
}

/** Every record of `topic` a read_committed consumer (no group) sees, reading each partition from
 *  the beginning to its last stable offset; sorted by partition and offset. */
export async function readCommitted(target: ClientTarget, version: string, topic: string, options: JavaOptions = {}): Promise<ConsumedRecord[]> {
  return readAll(target, version, topic, 'read_committed', options);
}

/** Like readCommitted but read_uncommitted: aborted records are visible too. */
export async function readUncommitted(target: ClientTarget, version: string, topic: string, options: JavaOptions = {}): Promise<ConsumedRecord[]> {
  return readAll(target, version, topic, 'read_uncommitted', options);
}

async function readAll(target: ClientTarget, version: string, topic: string, isolation: string, options: JavaOptions): Promise<ConsumedRecord[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const out = await runJava(
    `read (${isolation})`,
    'JavaClient',
    ['read', topic, String(timeoutMs), ...configArgs(target, { 'isolation.level': isolation }, options.config)],
    timeoutMs,
    version,
  );
  return jsonLines<JavaRecord>(CLIENT, `read (${isolation})`, out)
    .map(toRecord)
    .sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}

/** Produces with the idempotent Java producer (enable.idempotence=true, acks=all, 5 requests in
 *  flight: the settings whose ordering and dedup guarantees depend on producer ids and sequence
 *  numbers passing through unchanged). */
export async function produceIdempotent(
  target: ClientTarget,
  version: string,
  topic: string,
  messages: readonly ProduceMessage[],
  options: JavaOptions = {},
): Promise<void> {
  await produce(target, topic, messages, {
    ...options,
    version,
    config: { 'enable.idempotence': 'true', acks: 'all', 'max.in.flight.requests.per.connection': '5', ...options.config },
  });
}
