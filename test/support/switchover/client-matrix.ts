// The client matrix of issue 13: every client family the suite drives, in its DEFAULT
// configuration first, then with the settings production teams commonly turn on, each as a
// scenario pair (producer + group consumer on a topic of its own) of src/scenario/switchover.ts.
// test/integration/switchover/client-matrix.test.ts runs every cell through planned and hot
// switches; `npm run verify:switchover` runs some of them (VERIFICATION_CELLS) besides its four
// classic pairs. What each library's defaults are: /work/shared/notes/clients.md and each
// program's header (franz-switch, sarama-switch, rdkafka_switch_client.py, platformatic-clients.ts).
import type { ScenarioClient } from '../../../src/scenario/switchover.ts';
import { VerifiablePair } from '../../../src/scenario/verifiable-clients.ts';
import type { ClusterDescriptor, KafkaTools } from '../../../src/testbed/index.ts';
import { testBed } from '../../../src/testbed/index.ts';
import type { ClientTarget } from '../clients/common.ts';
import { GoProgram, goModuleVersions, startGoSwitchClient } from './go-clients.ts';
import { PlatformaticPair } from './platformatic-clients.ts';
import { ProcessPair } from './process-pair.ts';
import { KafkajsPair, RdkafkaPair, type ScenarioPairsOptions, scenarioPairs } from './scenario-clients.ts';

/** A scenario pair; pairs that can tell which of their errors were fatal say so. */
export type MatrixPair = ScenarioClient & { fatalErrors?(): string[] };

export interface CellContext {
  readonly tools: KafkaTools;
  readonly target: ClientTarget;
  readonly topic: string;
  readonly group: string;
  /** Records per second of each producer. */
  readonly rate: number;
}

export interface MatrixCell {
  /** Short and name-safe: part of topic, group and route names. */
  readonly id: string;
  /** Client family and settings, for tables. */
  readonly label: string;
  readonly make: (c: CellContext) => MatrixPair;
}

const interval = (rate: number) => Math.max(1, Math.round(1000 / rate));

const java = (id: string, label: string, groupProtocol: 'classic' | 'consumer'): MatrixCell => ({
  id,
  label,
  make: (c) =>
    new VerifiablePair({
      tools: c.tools,
      name: label,
      bootstrap: c.target.bootstrap,
      topic: c.topic,
      group: c.group,
      idempotent: true,
      autoCommit: true,
      groupProtocol,
      throughput: c.rate,
      user: c.target.sasl?.username,
    }),
});

/** Values of the compression cells: big enough that librdkafka's compressed batch is smaller than
 *  the plain one (otherwise it sends the batch uncompressed, and the cell tests nothing). */
const COMPRESSIBLE_VALUE_BYTES = 512;

const rdkafka = (id: string, label: string, config: Record<string, string>): MatrixCell => ({
  id,
  label,
  make: (c) => new RdkafkaPair(label, c.target, c.topic, c.group, interval(c.rate), config, config['compression.type'] ? COMPRESSIBLE_VALUE_BYTES : 0),
});

const go = (
  id: string,
  label: string,
  program: typeof GoProgram.Franz | typeof GoProgram.Sarama,
  config: Record<string, string>,
  about: string,
): MatrixCell => ({
  id,
  label,
  make: (c) =>
    new ProcessPair({
      name: label,
      topic: c.topic,
      group: c.group,
      valuePrefix: program === GoProgram.Franz ? 'f-' : 's-',
      description: `${about}; one record every ${interval(c.rate)} ms, one process`,
      start: () => startGoSwitchClient(program, c.target, c.topic, c.group, interval(c.rate), config),
    }),
});

const versions = () => goModuleVersions();
const franzAbout = (extra: string) =>
  `franz-go ${versions()['github.com/twmb/franz-go'] ?? ''} producer (library defaults: idempotent, acks=all, snappy) and group consumer (${extra})`;
const saramaAbout = (extra: string) =>
  `sarama ${versions()['github.com/IBM/sarama'] ?? ''} async producer (library defaults except acks=all: Metadata.Full=true, ${extra}) and consumer group (range, auto-commit every 1 s)`;

export const MATRIX_CELLS: readonly MatrixCell[] = [
  java('java', 'Java defaults (idempotent, auto-commit)', 'classic'),
  java('java-kip848', 'Java group.protocol=consumer', 'consumer'),
  rdkafka('rdkafka', 'librdkafka defaults (not idempotent)', {}),
  rdkafka('rdkafka-idem', 'librdkafka enable.idempotence=true', { 'enable.idempotence': 'true' }),
  rdkafka('rdkafka-lz4', 'librdkafka compression.type=lz4', { 'compression.type': 'lz4' }),
  rdkafka('rdkafka-zstd', 'librdkafka compression.type=zstd', { 'compression.type': 'zstd' }),
  rdkafka('rdkafka-kip848', 'librdkafka group.protocol=consumer', { 'group.protocol': 'consumer' }),
  go('franz', 'franz-go defaults (idempotent, snappy)', GoProgram.Franz, {}, franzAbout('classic, cooperative-sticky, autocommit')),
  go('franz-kip848', 'franz-go group.protocol=consumer', GoProgram.Franz, { 'group.protocol': 'consumer' }, franzAbout('KIP-848: ServerSideBalancer')),
  go('sarama', 'sarama defaults (full metadata)', GoProgram.Sarama, {}, saramaAbout('not idempotent, 3 retries')),
  go('sarama-idem', 'sarama idempotent', GoProgram.Sarama, { 'enable.idempotence': 'true' }, saramaAbout('Idempotent with MaxOpenRequests=1')),
  {
    id: 'kafkajs',
    label: 'kafkajs 2.2.4 defaults',
    make: (c) => new KafkajsPair('kafkajs 2.2.4 defaults', c.target, c.topic, c.group, interval(c.rate)),
  },
  {
    id: 'platformatic',
    label: '@platformatic/kafka defaults',
    make: (c) => new PlatformaticPair('@platformatic/kafka defaults', c.target, c.topic, c.group, interval(c.rate)),
  },
];

/** TURNOUT_MATRIX_CELLS=id,id,...: only those cells (to rerun a few while working on them); all by default. */
export function selectedCells(): readonly MatrixCell[] {
  const wanted = process.env.TURNOUT_MATRIX_CELLS?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return wanted === undefined || wanted.length === 0 ? MATRIX_CELLS : wanted.map(matrixCell);
}

/** The cells `npm run verify:switchover` adds to scenarioPairs()'s four pairs. */
export const VERIFICATION_CELLS: readonly string[] = ['java-kip848', 'rdkafka-idem', 'franz', 'sarama'];

export function matrixCell(id: string): MatrixCell {
  const cell = MATRIX_CELLS.find((c) => c.id === id);
  if (cell === undefined) throw new Error(`no client matrix cell "${id}" (cells: ${MATRIX_CELLS.map((c) => c.id).join(', ')})`);
  return cell;
}

/** The topics and groups of a cell: `${prefix}-${id}-${suffix}` (MirrorMaker must replicate `${prefix}-.*`). */
export function cellNames(cell: MatrixCell, prefix: string, suffix: string): { topic: string; group: string } {
  return { topic: `${prefix}-${cell.id}-${suffix}`, group: `${prefix}-${cell.id}-group-${suffix}` };
}

/** The verification's pairs: scenarioPairs()'s four, then VERIFICATION_CELLS, all on one route. */
export function verificationPairs(o: ScenarioPairsOptions & { readonly matrixRate?: number }): ScenarioClient[] {
  const target: ClientTarget = { bootstrap: o.bootstrap, sasl: { username: 'alice', password: 'alice-secret' } };
  return [
    ...scenarioPairs(o),
    ...VERIFICATION_CELLS.map((id) => {
      const cell = matrixCell(id);
      return cell.make({ tools: o.tools, target, ...cellNames(cell, o.prefix, o.suffix), rate: o.matrixRate ?? 25 });
    }),
  ];
}

/** The fatal errors of a pair: what it reported as fatal, or, for pairs that cannot tell, its
 *  problems once it stopped by itself. */
export function fatalErrorsOf(pair: MatrixPair): string[] {
  if (pair.fatalErrors) return pair.fatalErrors();
  return pair.alive() ? [] : pair.problems();
}

export interface TwoWayClusters {
  readonly blue: ClusterDescriptor;
  readonly green: ClusterDescriptor;
  readonly tools: KafkaTools;
}

/**
 * The test bed of the switchover scenario tests: clusters "vs-blue" (one broker, id 1) and
 * "vs-green" (one broker, id 401) with MirrorMaker 2 both ways for topics `vs-.*`, the same
 * names and settings for every file (client-matrix.test.ts, verify-scenario.test.ts), so the test
 * bed service starts them once per run and every file that asks shares them.
 */
export async function twoWayClusters(): Promise<TwoWayClusters> {
  const bed = await testBed();
  const [blue, green] = await Promise.all([
    bed.cluster({ name: 'vs-blue', brokers: 1, nodeIdBase: 1 }),
    bed.cluster({ name: 'vs-green', brokers: 1, nodeIdBase: 401 }),
  ]);
  await Promise.all([
    bed.mirrorMaker({ name: 'vs-blue-to-green', source: 'vs-blue', target: 'vs-green', topics: 'vs-.*', bothWays: true }),
    bed.mirrorMaker({ name: 'vs-green-to-blue', source: 'vs-green', target: 'vs-blue', topics: 'vs-.*', bothWays: true }),
  ]);
  return { blue, green, tools: await bed.tools() };
}
