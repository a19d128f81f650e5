// Kafka's own ProducerPerformance and ConsumerPerformance, run through the test bed's tools and
// parsed. Both print their summary in a fixed format; these parsers fail loudly if it changes.
import { KafkaTool, type KafkaTools, kafkaLine } from '../../src/testbed/index.ts';
import { toolFailed } from '../../src/testbed/tools.ts';

export interface ProduceResult {
  readonly records: number;
  readonly recordsPerSec: number;
  /** MiB/s as the tool prints it ("MB/sec" is 1,048,576 bytes per second there). */
  readonly mibPerSec: number;
  readonly avgMs: number;
  readonly maxMs: number;
  /** ProducerPerformance reports percentiles in whole milliseconds. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** Whether the numbers exclude the warm-up records (Kafka 4.x --warmup-records). */
  readonly steadyState: boolean;
}

export interface ProduceSpec {
  readonly bootstrap: string;
  readonly topic: string;
  readonly records: number;
  readonly recordSize: number;
  readonly acks: 'all' | '1';
  /** Records per second, or -1 for as fast as possible. */
  readonly throughput: number;
  readonly timeoutMs: number;
}

/** The arguments of one ProducerPerformance run (also printed in the report). */
export function producerPerfArgs(tools: KafkaTools, s: ProduceSpec): string[] {
  const warmup = kafkaLine(tools.version).major >= 4 ? ['--warmup-records', String(Math.floor(s.records / 10))] : [];
  return [
    ...tools.connectionArgs(KafkaTool.ProducerPerformance, s.bootstrap),
    '--topic',
    s.topic,
    '--num-records',
    String(s.records),
    '--record-size',
    String(s.recordSize),
    '--throughput',
    String(s.throughput),
    ...warmup,
    '--producer-props',
    `acks=${s.acks}`,
  ];
}

// "1000 records sent, 99.8 records/sec (0.10 MB/sec), 3.21 ms avg latency, 120.00 ms max latency,
//  2 ms 50th, 5 ms 95th, 9 ms 99th, 120 ms 99.9th." — with " steady state" after the count when
// warm-up records were excluded.
const SUMMARY =
  /^(\d+)( steady state)? records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$/gm;

export function parseProducerPerf(stdout: string): ProduceResult {
  const lines = [...stdout.matchAll(SUMMARY)];
  const m = lines.find((l) => l[2] !== undefined) ?? lines.at(-1);
  if (!m) throw new Error(`ProducerPerformance printed no summary line:\n${stdout.slice(-2000)}`);
  return {
    records: Number(m[1]),
    recordsPerSec: Number(m[3]),
    mibPerSec: Number(m[4]),
    avgMs: Number(m[5]),
    maxMs: Number(m[6]),
    p50Ms: Number(m[7]),
    p95Ms: Number(m[8]),
    p99Ms: Number(m[9]),
    p999Ms: Number(m[10]),
    steadyState: m[2] !== undefined,
  };
}

export async function runProducerPerf(tools: KafkaTools, s: ProduceSpec): Promise<ProduceResult> {
  const r = await tools.run(KafkaTool.ProducerPerformance, producerPerfArgs(tools, s), { timeoutMs: s.timeoutMs });
  if (r.exitCode !== 0) throw toolFailed(KafkaTool.ProducerPerformance, r);
  return parseProducerPerf(r.stdout);
}

export interface ConsumeResult {
  readonly records: number;
  /** Throughput while fetching (fetch.MB.sec), i.e. without the group join; MiB/s. */
  readonly mibPerSec: number;
  readonly recordsPerSec: number;
  /** Whole run including joining the group (MB.sec). */
  readonly totalMibPerSec: number;
  readonly rebalanceMs: number;
}

export interface ConsumeSpec {
  readonly bootstrap: string;
  readonly topic: string;
  readonly records: number;
  readonly group: string;
  readonly timeoutMs: number;
}

export function consumerPerfArgs(tools: KafkaTools, s: ConsumeSpec): string[] {
  // 4.x renamed --messages to --num-records (the old name still works there, with a warning).
  const count = kafkaLine(tools.version).major >= 4 ? '--num-records' : '--messages';
  return [
    ...tools.connectionArgs(KafkaTool.ConsumerPerformance, s.bootstrap),
    '--topic',
    s.topic,
    count,
    String(s.records),
    '--group',
    s.group,
    '--timeout',
    '30000',
  ];
}

export function parseConsumerPerf(stdout: string): ConsumeResult {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const headerAt = lines.findIndex((l) => l.startsWith('start.time'));
  if (headerAt < 0 || headerAt + 1 >= lines.length) throw new Error(`ConsumerPerformance printed no summary:\n${stdout.slice(-2000)}`);
  const names = lines[headerAt].split(',').map((s) => s.trim());
  const cells = lines[headerAt + 1].split(',').map((s) => s.trim());
  const cell = (name: string) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`ConsumerPerformance summary has no column ${name}: ${lines[headerAt]}`);
    return Number(cells[i]);
  };
  return {
    records: cell('data.consumed.in.nMsg'),
    mibPerSec: cell('fetch.MB.sec'),
    recordsPerSec: cell('fetch.nMsg.sec'),
    totalMibPerSec: cell('MB.sec'),
    rebalanceMs: cell('rebalance.time.ms'),
  };
}

export async function runConsumerPerf(tools: KafkaTools, s: ConsumeSpec): Promise<ConsumeResult> {
  const r = await tools.run(KafkaTool.ConsumerPerformance, consumerPerfArgs(tools, s), { timeoutMs: s.timeoutMs });
  if (r.exitCode !== 0) throw toolFailed(KafkaTool.ConsumerPerformance, r);
  const result = parseConsumerPerf(r.stdout);
  if (result.records < s.records) throw new Error(`ConsumerPerformance read ${result.records} of ${s.records} records from ${s.topic}`);
  return result;
}
