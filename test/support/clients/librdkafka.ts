// librdkafka, through two programs:
//   - confluent-kafka-python from PyPI (its wheel bundles a current librdkafka), in a virtualenv
//     in the test cache (python-venv.ts), driven by rdkafka_client.py;
//   - kcat, Debian's package on the system librdkafka (scripts/debian-packages.ts).
// Both are child processes, killed on their deadline and by stopAllClients().
import { fileURLToPath } from 'node:url';
import {
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
  type StepOptions,
  sortMetadata,
} from './common.ts';
import { rdkafkaPython } from './python-venv.ts';

const SCRIPT = fileURLToPath(new URL('./rdkafka_client.py', import.meta.url));
const PYTHON = 'confluent-kafka-python';
const KCAT = 'kcat';
const PYTHON_HINT = 'scripts/test.ts installs confluent-kafka into a virtualenv before the tests (test/support/clients/python-venv.ts).';
const KCAT_HINT = 'Install it with: apt-get install -y kcat (scripts/test.ts does this before the tests).';
// Time a child gets beyond its own deadline to report it (and print what it has) before we kill it.
const GRACE_MS = 5_000;

/** librdkafka properties (`-X key=value` for both programs) that connect to `target`. */
export function librdkafkaConfig(target: ClientTarget): string[] {
  if (!target.sasl) return [];
  return [
    'security.protocol=SASL_PLAINTEXT',
    'sasl.mechanisms=PLAIN',
    `sasl.username=${target.sasl.username}`,
    `sasl.password=${target.sasl.password}`,
  ].flatMap((kv) => ['-X', kv]);
}

// ---- confluent-kafka-python ----

function python(step: string, args: string[], timeoutMs: number, input?: string) {
  return runChild({
    client: PYTHON,
    step,
    command: rdkafkaPython(),
    args: [SCRIPT, ...args, '--timeout-ms', String(timeoutMs)],
    input,
    timeoutMs: timeoutMs + GRACE_MS,
    installHint: PYTHON_HINT,
    timeoutExitCode: 3,
  });
}

interface PythonRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

export async function produce(target: ClientTarget, topic: string, messages: readonly ProduceMessage[], options: StepOptions = {}): Promise<void> {
  const input = `${messages.map((m) => JSON.stringify({ key: m.key ?? null, value: m.value })).join('\n')}\n`;
  const out = await python(
    'produce',
    ['produce', '--bootstrap', target.bootstrap, '--topic', topic, ...librdkafkaConfig(target)],
    options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    input,
  );
  const [summary] = jsonLines<{ acked: number }>(PYTHON, 'produce', out);
  if (summary?.acked !== messages.length) {
    throw new ClientError(
      ClientErrorCode.Failed,
      PYTHON,
      'produce',
      `acknowledged ${summary?.acked} of ${messages.length} records; stdout: ${out.stdout.slice(0, 500)}`,
    );
  }
}

export interface ConsumeOptions {
  /** Extra librdkafka properties (`-X key=value`), e.g. { 'isolation.level': 'read_uncommitted' }. */
  readonly config?: Readonly<Record<string, string>>;
}

/** `-X key=value` arguments for extra librdkafka properties. */
function extraConfig(config: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(config ?? {}).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
}

export async function consumeGroup(
  target: ClientTarget,
  topic: string,
  group: string,
  count: number,
  timeoutMs: number,
  options: ConsumeOptions = {},
): Promise<ConsumedRecord[]> {
  const out = await python(
    'consumeGroup',
    [
      'consume',
      '--bootstrap',
      target.bootstrap,
      '--topic',
      topic,
      '--group',
      group,
      '--count',
      String(count),
      ...librdkafkaConfig(target),
      ...extraConfig(options.config),
    ],
    timeoutMs,
  );
  return jsonLines<PythonRecord>(PYTHON, 'consumeGroup', out).map(toRecord);
}

export interface TransactionsOutcome {
  /** Values of the committed transactions' records, in the order they were produced. */
  readonly committed: readonly string[];
  /** Values of the aborted transactions' records (written to the log, then aborted). */
  readonly aborted: readonly string[];
  /** Where every record was written, as its delivery report said. */
  readonly records: readonly { readonly value: string; readonly partition: number; readonly offset: bigint; readonly outcome: 'committed' | 'aborted' }[];
}

export interface TransactionsOptions extends StepOptions {
  /** Round robin over this many partitions (record i of transaction t to (t * perTransaction + i) % partitions); default: by key. */
  readonly partitions?: number;
  /** Default: a fresh unique id. */
  readonly transactionalId?: string;
  /** Extra librdkafka properties. */
  readonly config?: Readonly<Record<string, string>>;
}

/** `count` transactions of `perTransaction` records each with one librdkafka transactional producer
 *  (confluent-kafka-python); transaction t (from 0) aborts when t % abortEvery === 0 (abortEvery 0:
 *  none does), the others commit. Records are flushed before each transaction ends, so aborted
 *  records are in the log. Values are `T-<t>-<i>`, keys `<t>-<i>`. */
export async function produceTransactions(
  target: ClientTarget,
  topic: string,
  count: number,
  perTransaction: number,
  abortEvery: number,
  options: TransactionsOptions = {},
): Promise<TransactionsOutcome> {
  const out = await python(
    'transactions',
    [
      'transactions',
      '--bootstrap',
      target.bootstrap,
      '--topic',
      topic,
      '--count',
      String(count),
      '--per-transaction',
      String(perTransaction),
      '--abort-every',
      String(abortEvery),
      ...(options.partitions !== undefined ? ['--partitions', String(options.partitions)] : []),
      ...(options.transactionalId !== undefined ? ['--transactional-id', options.transactionalId] : []),
      ...librdkafkaConfig(target),
      ...extraConfig(options.config),
    ],
    options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  );
  type Line = { committed: string[]; aborted: string[]; records: { value: string; partition: number; offset: number; outcome: 'committed' | 'aborted' }[] };
  const [r] = jsonLines<Line>(PYTHON, 'transactions', out);
  if (r === undefined || r.committed.length + r.aborted.length !== count * perTransaction || r.records.length !== count * perTransaction) {
    throw new ClientError(ClientErrorCode.Failed, PYTHON, 'transactions', `expected ${count * perTransaction} records; stdout: ${out.stdout.slice(0, 500)}`);
  }
  return { committed: r.committed, aborted: r.aborted, records: r.records.map((x) => ({ ...x, offset: BigInt(x.offset) })) };
}

export async function listMetadata(target: ClientTarget, options: StepOptions = {}): Promise<ClusterMetadata> {
  const out = await python('listMetadata', ['metadata', '--bootstrap', target.bootstrap, ...librdkafkaConfig(target)], options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const [metadata] = jsonLines<ClusterMetadata>(PYTHON, 'listMetadata', out);
  return sortMetadata(metadata);
}

export const pythonDriver: ClientDriver = { name: PYTHON, produce, consumeGroup, listMetadata };

// ---- kcat ----

function kcat(step: string, args: string[], timeoutMs: number, input?: string) {
  return runChild({ client: KCAT, step, command: 'kcat', args, input, timeoutMs, installHint: KCAT_HINT });
}

/** kcat -P reads one record per line, the key before the first tab (no tab: null key). */
export async function kcatProduce(target: ClientTarget, topic: string, messages: readonly ProduceMessage[], options: StepOptions = {}): Promise<void> {
  const lines = messages.map((m, i) => {
    if (/[\n\r]/.test(m.value) || (m.key !== undefined && /[\t\n\r]/.test(m.key)) || (m.key === undefined && m.value.includes('\t'))) {
      throw new ClientError(ClientErrorCode.BadInput, KCAT, 'produce', `message ${i} has a newline or tab that kcat's line format cannot carry`);
    }
    return m.key === undefined ? m.value : `${m.key}\t${m.value}`;
  });
  // kcat exits non-zero when a record is not delivered within message.timeout.ms.
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  await kcat(
    'produce',
    ['-P', '-b', target.bootstrap, '-t', topic, '-K', '\t', '-X', 'acks=all', '-X', `message.timeout.ms=${timeoutMs}`, ...librdkafkaConfig(target)],
    timeoutMs + GRACE_MS,
    `${lines.join('\n')}\n`,
  );
}

interface KcatRecord {
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
}

/** kcat -G: a balanced consumer. It must NOT get `-o beginning`: in -G mode that offset is applied
 *  on every assignment and overrides the group's committed offsets. auto.offset.reset=earliest
 *  gives "from the start when the group has no offsets"; offsets are auto-committed when kcat
 *  closes the consumer after -c records. */
export async function kcatConsumeGroup(target: ClientTarget, topic: string, group: string, count: number, timeoutMs: number): Promise<ConsumedRecord[]> {
  if (count === 0) return [];
  const out = await kcat(
    'consumeGroup',
    ['-b', target.bootstrap, '-G', group, '-X', 'auto.offset.reset=earliest', '-c', String(count), '-J', ...librdkafkaConfig(target), topic],
    timeoutMs,
  );
  return jsonLines<KcatRecord>(KCAT, 'consumeGroup', out).map((r) => toRecord({ ...r, value: r.payload }));
}

interface KcatMetadata {
  brokers: { id: number; name: string }[];
  topics: { topic: string }[];
}

export async function kcatListMetadata(target: ClientTarget, options: StepOptions = {}): Promise<ClusterMetadata> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const out = await kcat(
    'listMetadata',
    ['-L', '-J', '-b', target.bootstrap, '-m', String(Math.max(1, Math.floor(timeoutMs / 1000))), ...librdkafkaConfig(target)],
    timeoutMs + GRACE_MS,
  );
  const [m] = jsonLines<KcatMetadata>(KCAT, 'listMetadata', out);
  return sortMetadata({
    brokers: m.brokers.map((b) => {
      const colon = b.name.lastIndexOf(':');
      return { nodeId: b.id, host: b.name.slice(0, colon), port: Number(b.name.slice(colon + 1)) };
    }),
    topics: m.topics.map((t) => t.topic),
  });
}

export const kcatDriver: ClientDriver = { name: KCAT, produce: kcatProduce, consumeGroup: kcatConsumeGroup, listMetadata: kcatListMetadata };

function toRecord(r: { partition: number; offset: number; key: string | null; value: string | null }): ConsumedRecord {
  return { ...(r.key !== null ? { key: r.key } : {}), value: r.value ?? '', partition: r.partition, offset: BigInt(r.offset) };
}
