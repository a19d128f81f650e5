// One benchmark invocation: a Kafka cluster from the test bed, the gateway as its own process, and
// every workload run directly and through the gateway, interleaved, round after round (odd rounds
// direct first, even rounds gateway first, so neither side always runs on a warmer machine).
// Then a CPU-profiled gateway run and the idle-connection measurements, each on a fresh gateway.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../src/testbed/index.ts';
import { GatewayProcess } from './gateway-process.ts';
import { measureIdle } from './idle.ts';
import type { BenchOptions } from './options.ts';
import { consumerPerfArgs, producerPerfArgs, runConsumerPerf, runProducerPerf } from './perf-tools.ts';
import { LatencyProbe } from './probe.ts';
import { fdLimits, foreignCpuShare, machineInfo, sampleLoad, sampleProcess, waitForQuiet } from './proc.ts';
import { summariseProfile } from './profile.ts';
import { type BenchResults, type ProfileResult, type RunResult, type Target, type Workload, WorkloadKind } from './results.ts';
import { median, QUIET_SHARE } from './stats.ts';
import { type Broker, createTopic, deleteTopic } from './topics.ts';

export const WORKLOADS: readonly Workload[] = [
  { id: 'produce-acks-all-max', kind: WorkloadKind.ProduceMax, acks: 'all', title: 'produce, acks=all, max throughput' },
  { id: 'produce-acks-1-max', kind: WorkloadKind.ProduceMax, acks: '1', title: 'produce, acks=1, max throughput' },
  { id: 'consume-max', kind: WorkloadKind.ConsumeMax, acks: '1', title: 'consume (group), max throughput' },
  { id: 'produce-acks-all-half', kind: WorkloadKind.ProduceFixed, acks: 'all', title: 'produce, acks=all, ½ max (ProducerPerformance)' },
  { id: 'produce-acks-1-half', kind: WorkloadKind.ProduceFixed, acks: '1', title: 'produce, acks=1, ½ max (ProducerPerformance)' },
  { id: 'probe-acks-all-half', kind: WorkloadKind.ProbeFixed, acks: 'all', title: 'produce, acks=all, ½ max (µs probe)' },
  { id: 'probe-acks-1-half', kind: WorkloadKind.ProbeFixed, acks: '1', title: 'produce, acks=1, ½ max (µs probe)' },
  { id: 'end-to-end-quarter', kind: WorkloadKind.EndToEnd, acks: 'all', title: 'produce→consume, acks=all, ¼ max (µs probe)' },
];

const CONSUME_TOPIC = 'bench-consume';
/** Consuming is several times faster than producing: read more records so a run lasts long enough. */
const CONSUME_FACTOR = 3;
const consumeRecords = (o: BenchOptions) => o.records * CONSUME_FACTOR;

type Log = (line: string) => void;

interface Session {
  readonly o: BenchOptions;
  readonly log: Log;
  readonly cluster: ClusterDescriptor;
  readonly broker: Broker;
  readonly tools: KafkaTools;
  readonly probe: LatencyProbe;
  /** The CPU the gateway is pinned to (--pin). */
  readonly gatewayCpu?: number;
  readonly runs: RunResult[];
  readonly fixedRates: Partial<Record<'all' | '1', number>>;
  endToEndRate?: number;
  consumeGroups: number;
}

function replicationFactor(o: BenchOptions): number {
  return Math.min(3, o.brokers);
}

/** Records per second of a fixed-rate workload: a share of the direct maximum, the median over the
 *  rounds that ran on a quiet machine if any did (a noisy round understates the maximum), else over all. */
function rateFor(s: Session, w: Workload): number {
  const acks = w.kind === WorkloadKind.EndToEnd ? 'all' : w.acks;
  const maxima = s.runs.filter((r) => r.target === 'direct' && r.workload === `produce-acks-${acks}-max` && r.produce);
  const quiet = maxima.filter((r) => r.foreignCpu < QUIET_SHARE);
  const max = median((quiet.length > 0 ? quiet : maxima).map((r) => r.produce!.recordsPerSec));
  if (!Number.isFinite(max)) throw new Error(`no direct maximum for acks=${acks} to derive the fixed rate from`);
  if (w.kind === WorkloadKind.EndToEnd) return (s.endToEndRate ??= Math.max(100, Math.floor(max / 4)));
  return (s.fixedRates[acks] ??= Math.max(100, Math.floor(max / 2)));
}

async function runWorkload(s: Session, w: Workload, target: Target, bootstrap: string, round: number, gw: GatewayProcess): Promise<RunResult> {
  const { o } = s;
  const topic = w.kind === WorkloadKind.ConsumeMax ? CONSUME_TOPIC : `bench-r${round}-${w.id}-${target}`;
  const fresh = w.kind !== WorkloadKind.ConsumeMax;
  const fixed = w.kind !== WorkloadKind.ProduceMax && w.kind !== WorkloadKind.ConsumeMax;
  const share = w.kind === WorkloadKind.EndToEnd ? 4 : fixed ? 2 : 1;
  const records = Math.max(1000, Math.round(o.records / share));
  let rate: number | undefined;
  let load0 = sampleLoad();
  let result: RunResult;
  try {
    rate = fixed ? rateFor(s, w) : undefined;
    // Generous: a noisy machine can be several times slower than a quiet one.
    const timeoutMs = 600_000 + (rate ? (records / rate) * 3000 : 0);
    if (fresh) await createTopic(s.broker, topic, o.partitions, replicationFactor(o));
    load0 = sampleLoad();
    const g0 = target === 'gateway' ? { proc: gw.sample(), bytes: await gw.bytes() } : null;
    const measured = await (async () => {
      switch (w.kind) {
        case WorkloadKind.ProduceMax:
        case WorkloadKind.ProduceFixed:
          return {
            produce: await runProducerPerf(s.tools, { bootstrap, topic, records, recordSize: o.recordSize, acks: w.acks, throughput: rate ?? -1, timeoutMs }),
          };
        case WorkloadKind.ConsumeMax:
          return {
            consume: await runConsumerPerf(s.tools, { bootstrap, topic, records: consumeRecords(o), group: `bench-group-${++s.consumeGroups}`, timeoutMs }),
          };
        case WorkloadKind.ProbeFixed:
        case WorkloadKind.EndToEnd:
          return {
            probe: await s.probe.run({
              bootstrap,
              topic,
              records,
              recordSize: o.recordSize,
              recordsPerSec: rate!,
              acks: w.acks,
              warmupRecords: Math.floor(records / 10),
              endToEnd: w.kind === WorkloadKind.EndToEnd,
              timeoutMs,
            }),
          };
      }
    })();
    const load1 = sampleLoad();
    const g1 = g0 ? { proc: gw.sample(), bytes: await gw.bytes() } : null;
    result = {
      workload: w.id,
      round,
      target,
      rate,
      records: w.kind === WorkloadKind.ConsumeMax ? consumeRecords(o) : records,
      ...measured,
      wallSeconds: (load1.at - load0.at) / 1000,
      foreignCpu: foreignCpuShare(load0, load1),
      benchCpuSeconds: load1.ours - load0.ours,
      gateway:
        g0 && g1
          ? {
              cpuSeconds: g1.proc.cpuSeconds - g0.proc.cpuSeconds,
              bytesIn: g1.bytes.in - g0.bytes.in,
              bytesOut: g1.bytes.out - g0.bytes.out,
              rssBytes: g1.proc.rssBytes,
              peakRssBytes: g1.proc.peakRssBytes,
            }
          : undefined,
    };
  } catch (err) {
    // One failed run (a tool timing out on an overloaded machine, say) costs only its own numbers.
    s.log(`round ${round} ${w.id} ${target} failed: ${(err as Error).message}`);
    const load1 = sampleLoad();
    result = {
      workload: w.id,
      round,
      target,
      rate,
      records,
      wallSeconds: (load1.at - load0.at) / 1000,
      foreignCpu: foreignCpuShare(load0, load1),
      benchCpuSeconds: load1.ours - load0.ours,
      error: (err as Error).message.split('\n')[0],
    };
  }
  if (fresh) await deleteTopic(s.broker, topic).catch(() => {});
  s.log(describeRun(w, result));
  return result;
}

function describeRun(w: Workload, r: RunResult): string {
  const head = `round ${r.round} ${w.id.padEnd(22)} ${r.target.padEnd(7)}`;
  if (r.error) return `${head} FAILED: ${r.error}`;
  const noise = `others ${(r.foreignCpu * 100).toFixed(0)}% cpu`;
  const gw = r.gateway ? `, gateway ${r.gateway.cpuSeconds.toFixed(1)} cpu-s` : '';
  if (r.produce) return `${head} ${r.produce.mibPerSec.toFixed(1)} MiB/s, p99 ${r.produce.p99Ms} ms (${r.wallSeconds.toFixed(0)} s, ${noise}${gw})`;
  if (r.consume) return `${head} ${r.consume.mibPerSec.toFixed(1)} MiB/s (${r.wallSeconds.toFixed(0)} s, ${noise}${gw})`;
  const p = r.probe!;
  const e2e = p.e2e ? `, end-to-end p99 ${p.e2e.p99Us} µs` : '';
  return `${head} ${p.recordsPerSec.toFixed(0)} rec/s, p99 ${p.produce.p99Us} µs${e2e} (${r.wallSeconds.toFixed(0)} s, ${noise}${gw})`;
}

/** The command lines behind each workload, with placeholders, for the report. */
function commandLines(s: Session): Record<string, string> {
  const { o, tools } = s;
  const script = (tool: string) => `bin/kafka-${tool}.sh`;
  const pp = (acks: 'all' | '1', throughput: string, records: number) =>
    `${script(KafkaTool.ProducerPerformance)} ${producerPerfArgs(tools, {
      bootstrap: '<bootstrap>',
      topic: '<fresh topic>',
      records,
      recordSize: o.recordSize,
      acks,
      throughput: -1,
      timeoutMs: 0,
    })
      .join(' ')
      .replace('--throughput -1', `--throughput ${throughput}`)}`;
  const half = Math.round(o.records / 2);
  return {
    'produce-acks-all-max': pp('all', '-1', o.records),
    'produce-acks-1-max': pp('1', '-1', o.records),
    'consume-max': `${script(KafkaTool.ConsumerPerformance)} ${consumerPerfArgs(tools, { bootstrap: '<bootstrap>', topic: CONSUME_TOPIC, records: consumeRecords(o), group: '<fresh group>', timeoutMs: 0 }).join(' ')}`,
    'produce-acks-all-half': pp('all', String(s.fixedRates.all ?? '<½ max>'), half),
    'produce-acks-1-half': pp('1', String(s.fixedRates['1'] ?? '<½ max>'), half),
    'probe-acks-all-half': `java -cp <classes>:<kafka libs>/* LatencyProbe <bootstrap> <fresh topic> ${half} ${o.recordSize} ${s.fixedRates.all ?? '<½ max>'} all ${Math.floor(half / 10)} false`,
    'probe-acks-1-half': `java -cp <classes>:<kafka libs>/* LatencyProbe <bootstrap> <fresh topic> ${half} ${o.recordSize} ${s.fixedRates['1'] ?? '<½ max>'} 1 ${Math.floor(half / 10)} false`,
    'end-to-end-quarter': `java -cp <classes>:<kafka libs>/* LatencyProbe <bootstrap> <fresh topic> ${Math.round(o.records / 4)} ${o.recordSize} ${s.endToEndRate ?? '<¼ max>'} all ${Math.floor(o.records / 40)} true`,
  };
}

async function profileRun(s: Session, dir: string): Promise<ProfileResult> {
  const profileDir = join(dir, 'profile');
  // One worker, so that one profile holds all of the forwarding (the primary writes its own, idle one).
  const gw = await GatewayProcess.start({ cluster: s.cluster, dir: profileDir, name: 'gateway-profiled', cpuProfile: true, cpu: s.gatewayCpu, workers: 1 });
  const cpu0 = gw.sample().cpuSeconds;
  const started = performance.now();
  let cpuSeconds = 0;
  let windowMs = 0;
  const workloads = [WORKLOADS[1], WORKLOADS[2]]; // produce acks=1 at max, then consume at max
  try {
    for (const w of workloads) {
      const topic = `bench-profile-${w.id}`;
      if (w.kind === WorkloadKind.ProduceMax) {
        await createTopic(s.broker, topic, s.o.partitions, replicationFactor(s.o));
        await runProducerPerf(s.tools, {
          bootstrap: gw.bootstrap,
          topic,
          records: s.o.records,
          recordSize: s.o.recordSize,
          acks: w.acks,
          throughput: -1,
          timeoutMs: 600_000,
        });
        await deleteTopic(s.broker, topic).catch(() => {});
      } else {
        await runConsumerPerf(s.tools, {
          bootstrap: gw.bootstrap,
          topic: CONSUME_TOPIC,
          records: consumeRecords(s.o),
          group: `bench-group-${++s.consumeGroups}`,
          timeoutMs: 600_000,
        });
      }
    }
    cpuSeconds = gw.sample().cpuSeconds - cpu0;
    windowMs = performance.now() - started;
  } finally {
    await gw.stop();
  }
  const file = readdirSync(profileDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(profileDir, b)).size - statSync(join(profileDir, a)).size)[0];
  if (!file) throw new Error(`the profiled gateway wrote no .cpuprofile into ${profileDir}`);
  return { workloads: workloads.map((w) => w.id), gatewayCpuSeconds: cpuSeconds, summary: summariseProfile(join(profileDir, file), windowMs) };
}

/** Pins this process (every thread) to CPU 0, so the Kafka JVMs it starts inherit that; the
 *  gateway gets CPU 1, which is returned. */
function pinToCpu0(): number {
  execFileSync('taskset', ['-a', '-p', '0x1', String(process.pid)], { stdio: 'ignore' });
  return 1;
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} (with uncommitted changes in src/ or bin/)` : sha;
  } catch {
    return 'unknown';
  }
}

export async function runBenchmark(o: BenchOptions, log: Log): Promise<BenchResults> {
  const started = new Date();
  const machine = machineInfo();
  const commitAtStart = gitCommit();
  const dir = mkdtempSync(join(tmpdir(), 'turnout-bench-'));
  let ok = false;
  process.on('exit', () => {
    if (ok) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`bench: gateway configs and logs are in ${dir}\n`);
  });

  const gatewayCpu = o.pin ? pinToCpu0() : undefined;
  log(`starting a ${o.brokers}-broker Kafka ${o.kafkaVersion} cluster`);
  const bed = await testBed();
  const cluster = await bed.cluster({ name: 'bench', brokers: o.brokers, kafkaVersion: o.kafkaVersion });
  const [tools, probe] = await Promise.all([bed.tools(o.kafkaVersion), LatencyProbe.compile(o.kafkaVersion)]);
  const broker = { host: cluster.brokers[0].host, port: cluster.brokers[0].plaintextPort };
  const s: Session = { o, log, cluster, broker, tools, probe, gatewayCpu, runs: [], fixedRates: {}, consumeGroups: 0 };

  const gw = await GatewayProcess.start({ cluster, dir, name: 'gateway', cpu: gatewayCpu, workers: o.workers });
  const gatewayProcesses = gw.processCount();
  log(
    `gateway pid ${gw.pid} (${gatewayProcesses} processes: primary and workers) on ${gw.bootstrap}; filling ${CONSUME_TOPIC} with ${consumeRecords(o)} records`,
  );
  await createTopic(broker, CONSUME_TOPIC, o.partitions, replicationFactor(o));
  await runProducerPerf(tools, {
    bootstrap: cluster.bootstrap(),
    topic: CONSUME_TOPIC,
    records: consumeRecords(o),
    recordSize: o.recordSize,
    acks: '1',
    throughput: -1,
    timeoutMs: 600_000,
  });

  // Maximum throughput first, every round, so the fixed rates can come from all rounds' maxima.
  const isMax = (w: Workload) => w.kind === WorkloadKind.ProduceMax || w.kind === WorkloadKind.ConsumeMax;
  for (const phase of [WORKLOADS.filter(isMax), WORKLOADS.filter((w) => !isMax(w))]) {
    for (let round = 1; round <= o.rounds; round++) {
      const order: Target[] = round % 2 === 1 ? ['direct', 'gateway'] : ['gateway', 'direct'];
      for (const w of phase) {
        const waited = await waitForQuiet(o.quietWaitSeconds, QUIET_SHARE);
        if (waited >= 5) log(`waited ${waited.toFixed(0)} s for other processes to calm down`);
        for (const target of order) {
          const run = await runWorkload(s, w, target, target === 'direct' ? cluster.bootstrap() : gw.bootstrap, round, gw);
          s.runs.push(target === order[0] ? { ...run, quietWaitSeconds: waited } : run);
        }
      }
    }
  }
  const gatewayPeakRssBytes = gw.sample().peakRssBytes;
  const gatewayGc = await gw.gcStats();
  const gatewayConfig = readFileSync(gw.configFile, 'utf8');
  await gw.stop();

  let profile: ProfileResult | undefined;
  if (o.profile) {
    log('profiling the gateway (node --cpu-prof) during produce acks=1 and consume at max throughput');
    profile = await profileRun(s, dir);
  }

  const idle = [];
  for (const n of o.idleConnections) {
    const igw = await GatewayProcess.start({ cluster, dir, name: `gateway-idle-${n}`, cpu: gatewayCpu, workers: o.workers });
    try {
      const own = fdLimits('self').soft - sampleProcess(process.pid).openFds;
      const m = await measureIdle(igw, n, o.idleHoldSeconds, own);
      const perConn = m.answered > 0 ? (m.rssAfter - m.rssBefore) / m.answered : NaN;
      log(
        `idle: ${m.answered}/${m.attempted} connections answered (${n} requested), ${m.stillOpenAfterHold} open after ${o.idleHoldSeconds} s, ` +
          `${(perConn / 1024).toFixed(1)} KiB RSS each${m.cappedBy ? `; capped by ${m.cappedBy}` : ''}`,
      );
      idle.push(m);
    } finally {
      await igw.stop();
    }
  }

  ok = s.runs.every((r) => !r.error);
  return {
    options: o,
    startedAt: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine,
    kafkaVersion: o.kafkaVersion,
    turnoutVersion: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
    gitCommit: gitCommit() === commitAtStart ? commitAtStart : `${commitAtStart} at the start, ${gitCommit()} at the end (the sources changed during the run)`,
    workloads: WORKLOADS,
    runs: s.runs,
    fixedRates: s.fixedRates,
    endToEndRate: s.endToEndRate,
    gatewayPeakRssBytes,
    gatewayProcesses,
    gatewayGc,
    gatewayCommand: gw.command,
    gatewayConfig,
    idle,
    profile,
    commands: commandLines(s),
  };
}
