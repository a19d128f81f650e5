// Command line of `npm run bench`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_KAFKA_VERSION } from '../../src/testbed/index.ts';

export interface BenchOptions {
  readonly rounds: number;
  /** Records per maximum-throughput run (fixed-rate runs send half as many at half the rate). */
  readonly records: number;
  readonly recordSize: number;
  readonly quick: boolean;
  readonly out: string;
  readonly kafkaVersion: string;
  readonly brokers: number;
  readonly partitions: number;
  /** Idle connection counts to measure, each on a fresh gateway process. */
  readonly idleConnections: number[];
  /** How long idle connections are held before they are counted again, in seconds. */
  readonly idleHoldSeconds: number;
  /** Before each direct/gateway pair, wait up to this many seconds for the machine to be quiet. */
  readonly quietWaitSeconds: number;
  /** Run the gateway once more under --cpu-prof and summarise the profile. */
  readonly profile: boolean;
  /** gateway.workers of the gateway under test: a count or "auto" (one per core). */
  readonly workers: number | 'auto';
  /** Pin the Kafka JVMs (and this process) to CPU 0 and the gateway to CPU 1. */
  readonly pin: boolean;
  /** The arguments as given, for the report's "exact command". */
  readonly argv: readonly string[];
}

export const USAGE = `usage: npm run bench -- [options]

Runs each workload directly against the brokers and through the gateway, interleaved, for several
rounds, and writes a Markdown report.

  --rounds N            rounds of interleaved direct/gateway runs (default 3; 1 with --quick)
  --records N           records per maximum-throughput run (default 1000000; 30000 with --quick)
  --record-size BYTES   record size (default 1024)
  --quick               a small smoke run (one round, few records, 1,000 idle connections, no profile)
  --out FILE            report file (default docs/benchmarks.md; with --quick a file in the temp folder)
  --kafka-version V     Kafka version of brokers and tools (default ${DEFAULT_KAFKA_VERSION})
  --brokers N           brokers in the cluster (default 1)
  --partitions N        partitions per benchmark topic (default 6)
  --idle LIST           idle connection counts, comma-separated, or none (default 1000,10000)
  --idle-hold SECONDS   how long idle connections are held (default 10)
  --quiet-wait SECONDS  before each direct/gateway pair, wait up to this long for other processes to use
                        under 25% of the CPU (default 45; 0 with --quick)
  --workers N|auto      the gateway's worker processes (gateway.workers; default auto, one per core,
                        as the gateway itself defaults to)
  --no-profile          skip the CPU-profiled gateway run
  --pin                 pin the broker and tool JVMs to CPU 0 and the gateway to CPU 1 (taskset), so the
                        gateway does not take CPU from them: as if it ran on its own machine
  -h, --help            this text
`;

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not "${text}"`);
  return n;
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string' },
      records: { type: 'string' },
      'record-size': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'kafka-version': { type: 'string' },
      brokers: { type: 'string' },
      partitions: { type: 'string' },
      idle: { type: 'string' },
      'idle-hold': { type: 'string' },
      'quiet-wait': { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  const quick = values.quick;
  const idle =
    values.idle === undefined
      ? quick
        ? [1000]
        : [1000, 10_000]
      : values.idle === 'none'
        ? []
        : values.idle
            .split(',')
            .filter(Boolean)
            .map((s) => positiveInt('idle', s, 0));
  return {
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 3),
    records: positiveInt('records', values.records, quick ? 30_000 : 1_000_000),
    recordSize: positiveInt('record-size', values['record-size'], 1024),
    quick,
    out: values.out ?? (quick ? join(tmpdir(), 'turnout-bench-quick.md') : 'docs/benchmarks.md'),
    kafkaVersion: values['kafka-version'] ?? DEFAULT_KAFKA_VERSION,
    brokers: positiveInt('brokers', values.brokers, 1),
    partitions: positiveInt('partitions', values.partitions, 6),
    idleConnections: idle,
    idleHoldSeconds: positiveInt('idle-hold', values['idle-hold'], quick ? 2 : 10),
    quietWaitSeconds: values['quiet-wait'] === '0' ? 0 : positiveInt('quiet-wait', values['quiet-wait'], quick ? 0 : 45),
    profile: !values['no-profile'] && !quick,
    pin: values.pin,
    workers: values.workers === undefined || values.workers === 'auto' ? 'auto' : positiveInt('workers', values.workers, 1),
    argv,
  };
}
