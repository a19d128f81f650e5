// Renders BenchResults as docs/benchmarks.md: targets first, then how to reproduce, then every
// table the verdicts come from, per round, so a reader can judge the noise for themselves. The
// hand-written analysis between the ANALYSIS markers of an existing report is carried over.
import { existsSync, readFileSync } from 'node:fs';
import { Heap, javaCommandLine } from '../../src/testbed/jvm.ts';
import type { IdleMeasurement } from './idle.ts';
import type { LatencyStats } from './probe.ts';
import { type BenchResults, type RunResult, type Workload, WorkloadKind } from './results.ts';
import { median, QUIET_SHARE, sum } from './stats.ts';

export const ANALYSIS_START = '<!-- ANALYSIS:START (kept when the report is regenerated) -->';
export const ANALYSIS_END = '<!-- ANALYSIS:END -->';

const TARGET_RATIO = 0.95;
const TARGET_ADDED_P99_US = 500;
const TARGET_MILLICORES_PER_MBPS = 10;
const TARGET_IDLE = 10_000;
const QUIET = QUIET_SHARE;

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const signed = (x: number, digits = 0) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}` : '–');
const mib = (bytes: number) => bytes / 2 ** 20;
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '–');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- |').join('')}`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

interface Pair {
  readonly round: number;
  readonly direct?: RunResult;
  readonly gateway?: RunResult;
}

function pairs(r: BenchResults, workload: string): Pair[] {
  const out: Pair[] = [];
  for (let round = 1; round <= r.options.rounds; round++) {
    const of = (target: string) => r.runs.find((x) => x.workload === workload && x.round === round && x.target === target && !x.error);
    out.push({ round, direct: of('direct'), gateway: of('gateway') });
  }
  return out;
}

/** Throughput in MiB/s of a max-throughput run. */
function throughput(run: RunResult | undefined): number {
  return run?.produce?.mibPerSec ?? run?.consume?.mibPerSec ?? NaN;
}

function firstGoesFirst(round: number): string {
  return round % 2 === 1 ? 'direct first' : 'gateway first';
}

function noise(p: Pair): string {
  return `${pct(p.direct?.foreignCpu ?? NaN)} / ${pct(p.gateway?.foreignCpu ?? NaN)}`;
}

/** CPU seconds per GB (10^9 bytes) forwarded, which is the same number as millicores per MB/s. */
function cpuPerGb(run: RunResult | undefined): number {
  const g = run?.gateway;
  if (!g) return NaN;
  return g.cpuSeconds / ((g.bytesIn + g.bytesOut) / 1e9);
}

type Verdict = 'met' | 'missed' | 'not measured' | 'not reachable here';
const verdictText = (v: Verdict) => (v === 'met' || v === 'missed' ? `**${v}**` : v);

const isQuiet = (p: Pair) => (p.direct?.foreignCpu ?? 1) < QUIET && (p.gateway?.foreignCpu ?? 1) < QUIET;

/** A per-round comparison summarised over all rounds and over the quiet ones. */
interface Compared {
  readonly all: number;
  readonly quiet: number;
  readonly rounds: number;
  readonly quietRounds: number;
}

function compare(ps: Pair[], f: (p: Pair) => number): Compared {
  const ok = ps.filter((p) => Number.isFinite(f(p)));
  const quiet = ok.filter(isQuiet);
  return { all: median(ok.map(f)), quiet: median(quiet.map(f)), rounds: ok.length, quietRounds: quiet.length };
}

function comparedText(c: Compared, fmt: (x: number) => string): string {
  const all = `${fmt(c.all)} over ${c.rounds} round${c.rounds === 1 ? '' : 's'}`;
  return c.quietRounds > 0 ? `${fmt(c.quiet)} over ${c.quietRounds} quiet round${c.quietRounds === 1 ? '' : 's'} (${all})` : `${all}, none quiet`;
}

interface Summary {
  readonly ratios: { w: Workload; c: Compared }[];
  readonly addedP99: { acks: string; c: Compared }[];
  readonly cpu: { w: Workload; perGb: number }[];
  readonly idle?: IdleMeasurement;
}

function summarise(r: BenchResults): Summary {
  const maxes = r.workloads.filter((w) => w.kind === WorkloadKind.ProduceMax || w.kind === WorkloadKind.ConsumeMax);
  const ratios = maxes.map((w) => ({ w, c: compare(pairs(r, w.id), (p) => throughput(p.gateway) / throughput(p.direct)) }));
  const probes = r.workloads.filter((w) => w.kind === WorkloadKind.ProbeFixed);
  const addedP99 = probes.map((w) => ({
    acks: w.acks,
    c: compare(pairs(r, w.id), (p) => (p.gateway?.probe?.produce.p99Us ?? NaN) - (p.direct?.probe?.produce.p99Us ?? NaN)),
  }));
  const cpu = maxes.map((w) => ({ w, perGb: median(pairs(r, w.id).map((p) => cpuPerGb(p.gateway))) }));
  const idle = [...r.idle].sort((a, b) => b.requested - a.requested).find((m) => m.requested >= TARGET_IDLE) ?? undefined;
  return { ratios, addedP99, cpu, idle };
}

function targetsSection(r: BenchResults, s: Summary): string {
  const rows: string[][] = [];
  const judged = (c: Compared, ok: (x: number) => boolean, noisyVerdict: boolean): string => {
    const x = c.quietRounds > 0 ? c.quiet : c.all;
    if (!Number.isFinite(x)) return verdictText('not measured');
    if (c.quietRounds === 0 && !noisyVerdict) return 'inconclusive (no quiet round)';
    return `${verdictText(ok(x) ? 'met' : 'missed')}${c.quietRounds === 0 ? ' (noisy rounds only)' : ''}`;
  };
  for (const { w, c } of s.ratios) {
    rows.push([`throughput ≥ ${TARGET_RATIO} × direct: ${w.title}`, comparedText(c, (x) => `${f2(x)} ×`), judged(c, (x) => x >= TARGET_RATIO, true)]);
  }
  for (const { acks, c } of s.addedP99) {
    rows.push([
      `added p99 ≤ ${TARGET_ADDED_P99_US / 1000} ms at ½ max: produce acks=${acks}`,
      comparedText(c, (x) => `${signed(x / 1000, 2)} ms`),
      judged(c, (x) => x <= TARGET_ADDED_P99_US, false),
    ]);
  }
  for (const { w, perGb } of s.cpu) {
    rows.push([
      `CPU ≤ ${TARGET_MILLICORES_PER_MBPS} millicores per MB/s: ${w.title}`,
      `${f1(perGb)} millicores per MB/s`,
      verdictText(Number.isFinite(perGb) ? (perGb <= TARGET_MILLICORES_PER_MBPS ? 'met' : 'missed') : 'not measured'),
    ]);
  }
  const idle = s.idle;
  if (idle) {
    const held = idle.stillOpenAfterHold;
    const per = (idle.rssAfter - idle.rssBefore) / Math.max(1, idle.answered);
    rows.push([
      `${f0(TARGET_IDLE)} idle client connections held, memory reported`,
      `${f0(held)} of ${f0(idle.attempted)} attempted held for ${r.options.idleHoldSeconds} s, ${f1(per / 1024)} KiB RSS each${idle.cappedBy ? ' (attempts capped by an open-files limit, see below)' : ''}`,
      // Capped by this machine's limits and every attempted connection held: the gateway did not fail.
      verdictText(held >= TARGET_IDLE ? 'met' : idle.cappedBy && held === idle.attempted ? 'not reachable here' : 'missed'),
    ]);
  } else {
    rows.push([`${f0(TARGET_IDLE)} idle client connections held`, '–', verdictText('not measured')]);
  }
  return [
    '## Targets',
    '',
    'Each round runs both sides of a workload back to back; the numbers are medians of those per-round comparisons.',
    `A round is quiet when processes outside the benchmark used under ${pct(QUIET)} of the CPU during both of its runs;`,
    'verdicts use the quiet rounds when there are any. Latency budgets below a millisecond cannot be judged from noisy rounds.',
    '',
    table(['target', 'measured', 'verdict'], rows),
  ].join('\n');
}

function setupSection(r: BenchResults): string {
  const m = r.machine;
  const o = r.options;
  const jvmFlags = (heap: readonly string[]) =>
    javaCommandLine({ jars: { version: r.kafkaVersion, libDir: '', classpath: '' }, main: '', args: [], heap, logConfigFlag: '' })
      .filter((a) => a.startsWith('-X'))
      .join(' ');
  const maxRuns = r.runs.filter((x) => x.workload.endsWith('-max'));
  return [
    '## Machine and versions',
    '',
    `- Run started ${r.startedAt}, took ${f0(r.durationSeconds / 60)} minutes, of which ${f0(sum(r.runs.map((x) => x.quietWaitSeconds ?? 0)) / 60)} waiting for a quiet machine`,
    `  (up to ${r.options.quietWaitSeconds} s before each direct/gateway pair).`,
    `- CPU: ${m.cpuModel}, ${m.nproc} cores (\`nproc\`), ${m.memoryGiB} GiB memory, ${m.kernel}. The machine is shared:`,
    `  other processes used a median ${pct(median(r.runs.map((x) => x.foreignCpu)))} of its CPU during the runs (${pct(median(maxRuns.map((x) => x.foreignCpu)))} during the max-throughput runs; per run below).`,
    `- Turnout ${r.turnoutVersion} at commit ${r.gitCommit}, on Node ${m.node}; ${m.java}.`,
    `- Apache Kafka ${r.kafkaVersion}: ${o.brokers} broker${o.brokers > 1 ? 's' : ''} (KRaft, combined broker+controller) from the test bed (\`src/testbed\`), PLAINTEXT listener,`,
    `  topics with ${o.partitions} partitions and replication factor ${Math.min(3, o.brokers)}${o.brokers === 1 ? ' (so acks=all and acks=1 wait for the same single replica; `--brokers 3` adds replication)' : ''}.`,
    `  One broker leaves more of the 2 cores to the gateway and the clients, which all share the machine.`,
    `- JVM flags of the test bed (brokers and tools alike, chosen for fast start on small machines, not peak speed):`,
    `  brokers \`${jvmFlags(Heap.broker)}\`, tools \`${jvmFlags(Heap.tool)}\`.`,
    `- Records of ${o.recordSize} bytes; ${f0(o.records)} per max-throughput produce run (3 times as many per consume run, consuming being faster),`,
    '  half as many at half the rate (so each run lasts about as long), a quarter for end-to-end.',
    '- Order: the max-throughput workloads for every round first, then the fixed-rate ones, whose rate is a share of the median',
    '  direct maximum of the quiet rounds (of all rounds if none was quiet).',
    `- Fixed rates (½ of the direct maximum): acks=all ${f0(r.fixedRates.all ?? NaN)} records/s, acks=1 ${f0(r.fixedRates['1'] ?? NaN)} records/s; end-to-end at ${f0(r.endToEndRate ?? NaN)} records/s (¼).`,
    o.pin
      ? '- Pinned (`--pin`): broker and tool JVMs on CPU 0, the gateway on CPU 1 (`taskset`), in direct and gateway runs alike, so the gateway takes no CPU from them, as on a machine of its own. Other processes on the machine still use both.'
      : '- Not pinned: broker, tools and gateway share both cores (`--pin` puts the gateway on a core of its own).',
    `- Gateway workers: \`${r.options.workers}\` (\`--workers\`, gateway.workers), ${r.gatewayProcesses - 1} worker process${r.gatewayProcesses === 2 ? '' : 'es'} behind one primary; CPU time and memory are summed over all of them.`,
    `- File descriptors: this process ${m.fdLimit.soft}/${m.fdLimit.hard} (soft/hard); ephemeral ports ${m.ephemeralPorts}.`,
  ].join('\n');
}

function reproduceSection(r: BenchResults): string {
  const args = r.options.argv.length > 0 ? ` -- ${r.options.argv.join(' ')}` : '';
  return [
    '## Reproducing',
    '',
    '```sh',
    'npm ci',
    `npm run bench${args}`,
    '```',
    '',
    'Needs Java 17 (with `javac`, for the latency probe) and Maven; Kafka jars come from Maven Central into `~/.cache/turnout`.',
    `The harness (\`scripts/bench.ts\`) starts the cluster, then the gateway as a separate process (\`${r.gatewayCommand}\`,`,
    'its open-files limit raised as far as allowed) with this generated config (ports differ per run):',
    '',
    '```yaml',
    r.gatewayConfig.trim(),
    '```',
    '',
    'Each workload is one command; the harness runs it with `--bootstrap-server` (`<bootstrap>`) pointing at the broker',
    '(direct) or at the gateway route, into a topic created just before and deleted after the run:',
    '',
    table(
      ['workload', 'command'],
      r.workloads.map((w) => [w.id, `\`${r.commands[w.id] ?? ''}\``]),
    ),
    '',
    'ProducerPerformance prints latency percentiles in whole milliseconds, too coarse for a 0.5 ms budget, so the same',
    'measurement (time from `send()` to its callback, same producer defaults) is repeated at the same rate by',
    '`scripts/bench/LatencyProbe.java` with `System.nanoTime()`: it paces sends on a schedule (sleeping when a millisecond',
    'or more ahead) and, in the end-to-end workload, also consumes the records in the same JVM and measures send to receipt.',
    'The first 10% of records of every fixed-rate run are warm-up and left out.',
    '',
    'Gateway CPU is utime+stime from `/proc/<pid>/stat` before and after each gateway run; memory is VmRSS/VmHWM from',
    '`/proc/<pid>/status`; bytes forwarded are `turnout_bytes_total` (in + out, client side) from `/metrics`.',
    "\"Others' CPU\" is the machine's busy CPU (`/proc/stat`) not used by the benchmark's own processes, as a share of all cores.",
  ].join('\n');
}

function throughputSection(r: BenchResults): string {
  const parts = [
    '## Maximum throughput',
    '',
    'MiB/s as the Kafka tools print them (2^20 bytes); ProducerPerformance without its 10% warm-up records, ConsumerPerformance while fetching (group join excluded).',
  ];
  for (const w of r.workloads.filter((x) => x.kind === WorkloadKind.ProduceMax || x.kind === WorkloadKind.ConsumeMax)) {
    const ps = pairs(r, w.id);
    const rows = ps.map((p) => [
      String(p.round),
      firstGoesFirst(p.round),
      f1(throughput(p.direct)),
      f1(throughput(p.gateway)),
      f2(throughput(p.gateway) / throughput(p.direct)),
      noise(p),
    ]);
    rows.push([
      'median',
      '',
      f1(median(ps.map((p) => throughput(p.direct)))),
      f1(median(ps.map((p) => throughput(p.gateway)))),
      `**${f2(median(ps.map((p) => throughput(p.gateway) / throughput(p.direct))))}**`,
      '',
    ]);
    parts.push('', `### ${w.title}`, '', table(['round', 'order', 'MiB/s direct', 'MiB/s gateway', 'ratio', "others' CPU d / g"], rows));
    const quiet = ps.filter(isQuiet);
    parts.push(
      '',
      quiet.length === 0
        ? `No round had both runs on a quiet machine (other processes under ${pct(QUIET)} of the CPU).`
        : `Rounds with both runs on a quiet machine (other processes under ${pct(QUIET)} of the CPU): ${quiet.length}, median ratio ${f2(median(quiet.map((p) => throughput(p.gateway) / throughput(p.direct))))}.`,
    );
  }
  return parts.join('\n');
}

function latencySection(r: BenchResults): string {
  const parts = ['## Latency at a fixed rate'];
  for (const w of r.workloads.filter((x) => x.kind === WorkloadKind.ProduceFixed)) {
    const ps = pairs(r, w.id);
    const cell = (run?: RunResult) => (run?.produce ? `${f2(run.produce.avgMs)} / ${run.produce.p50Ms} / ${run.produce.p99Ms} / ${run.produce.p999Ms}` : '–');
    const rows = ps.map((p) => [
      String(p.round),
      f0(p.direct?.produce?.recordsPerSec ?? NaN),
      cell(p.direct),
      f0(p.gateway?.produce?.recordsPerSec ?? NaN),
      cell(p.gateway),
      signed((p.gateway?.produce?.p99Ms ?? NaN) - (p.direct?.produce?.p99Ms ?? NaN)),
      noise(p),
    ]);
    parts.push(
      '',
      `### ${w.title}`,
      '',
      'Milliseconds: avg / p50 / p99 / p99.9 (percentiles are whole milliseconds in this tool).',
      '',
      table(
        ['round', 'rec/s direct', 'direct avg / p50 / p99 / p99.9', 'rec/s gateway', 'gateway avg / p50 / p99 / p99.9', 'added p99 ms', "others' CPU d / g"],
        rows,
      ),
    );
  }
  const us = (x: LatencyStats | null | undefined) => (x ? `${f0(x.p50Us)} / ${f0(x.p99Us)} / ${f0(x.p999Us)}` : '–');
  for (const w of r.workloads.filter((x) => x.kind === WorkloadKind.ProbeFixed || x.kind === WorkloadKind.EndToEnd)) {
    const ps = pairs(r, w.id);
    const stat = (run: RunResult | undefined) => (w.kind === WorkloadKind.EndToEnd ? run?.probe?.e2e : run?.probe?.produce);
    const added = (p: Pair, k: 'p50Us' | 'p99Us' | 'p999Us') => (stat(p.gateway)?.[k] ?? NaN) - (stat(p.direct)?.[k] ?? NaN);
    const rows = ps.map((p) => [
      String(p.round),
      us(stat(p.direct)),
      us(stat(p.gateway)),
      signed(added(p, 'p50Us')),
      signed(added(p, 'p99Us')),
      signed(added(p, 'p999Us')),
      noise(p),
    ]);
    rows.push([
      'median',
      '',
      '',
      `**${signed(median(ps.map((p) => added(p, 'p50Us'))))}**`,
      `**${signed(median(ps.map((p) => added(p, 'p99Us'))))}**`,
      `**${signed(median(ps.map((p) => added(p, 'p999Us'))))}**`,
      '',
    ]);
    const quiet = ps.filter(isQuiet);
    if (quiet.length > 0) {
      rows.push([
        `median of ${quiet.length} quiet`,
        '',
        '',
        signed(median(quiet.map((p) => added(p, 'p50Us')))),
        signed(median(quiet.map((p) => added(p, 'p99Us')))),
        signed(median(quiet.map((p) => added(p, 'p999Us')))),
        '',
      ]);
    }
    const what = w.kind === WorkloadKind.EndToEnd ? 'send → receipt by a consumer (both through the gateway in gateway runs)' : 'send → acknowledgement';
    parts.push(
      '',
      `### ${w.title}`,
      '',
      `Microseconds, ${what}: p50 / p99 / p99.9.`,
      '',
      table(['round', 'direct p50 / p99 / p99.9', 'gateway p50 / p99 / p99.9', 'added p50', 'added p99', 'added p99.9', "others' CPU d / g"], rows),
    );
  }
  return parts.join('\n');
}

function resourcesSection(r: BenchResults): string {
  const rows: string[][] = [];
  /** CPU seconds of every benchmark process per GB of record payload: what the whole path costs. */
  const pathCpu = (x: RunResult | undefined) => (x ? x.benchCpuSeconds / ((x.records * r.options.recordSize) / 1e9) : NaN);
  for (const w of r.workloads) {
    const gws = r.runs.filter((x) => x.workload === w.id && x.target === 'gateway' && x.gateway && !x.error);
    if (gws.length === 0) continue;
    const gb = (x: RunResult) => (x.gateway!.bytesIn + x.gateway!.bytesOut) / 1e9;
    const ps = pairs(r, w.id);
    rows.push([
      w.title,
      f2(median(gws.map((x) => x.gateway!.cpuSeconds))),
      f2(median(gws.map(gb))),
      `**${f1(median(gws.map((x) => cpuPerGb(x))))}**`,
      f2(median(gws.map((x) => x.gateway!.cpuSeconds / x.wallSeconds))),
      f0(median(gws.map((x) => mib(x.gateway!.rssBytes)))),
      `${f1(median(ps.map((p) => pathCpu(p.direct))))} → ${f1(median(ps.map((p) => pathCpu(p.gateway))))}`,
    ]);
  }
  const all = r.runs.filter((x) => x.target === 'gateway' && x.gateway && !x.error);
  const totalGb = sum(all.map((x) => (x.gateway!.bytesIn + x.gateway!.bytesOut) / 1e9));
  const totalCpu = sum(all.map((x) => x.gateway!.cpuSeconds));
  return [
    '## Gateway CPU and memory',
    '',
    'Per gateway run, medians over the rounds. CPU seconds per GB (10^9 bytes) forwarded equals millicores per MB/s',
    '(1 core = 1000 millicores, MB = 10^6 bytes). Cores = gateway CPU seconds / wall seconds of the run (wall time includes',
    "the tool's JVM start, so this understates the load while records flow). The last column is the CPU of all the",
    "benchmark's processes (broker, Kafka tool, gateway) per GB of record payload, direct → through the gateway: on a",
    'machine where they share 2 cores, the difference is CPU the broker and the clients no longer have.',
    '',
    table(['workload', 'CPU s', 'GB forwarded', 'CPU s/GB = millicores per MB/s', 'cores', 'RSS after, MiB', 'all processes CPU s/GB, direct → gateway'], rows),
    '',
    `Over all gateway runs: ${f1(totalCpu)} CPU seconds for ${f2(totalGb)} GB, ${f1(totalCpu / totalGb)} millicores per MB/s.`,
    `Peak RSS of the gateway over all of them (VmHWM, summed over its ${r.gatewayProcesses} processes): **${f0(mib(r.gatewayPeakRssBytes))} MiB**.`,
    '',
    'Garbage collection in that gateway process over all runs (`turnout_nodejs_gc_duration_seconds`); each collection pauses',
    'forwarding on every connection, so the long ones show up in tail latency:',
    '',
    table(
      ['kind', 'collections', 'total s', 'over 1 ms', 'over 10 ms'],
      r.gatewayGc.map((g) => [g.kind, f0(g.count), f2(g.seconds), f0(g.over1ms), f0(g.over10ms)]),
    ),
  ].join('\n');
}

function idleSection(r: BenchResults): string {
  if (r.idle.length === 0) return '## Idle client connections\n\nNot measured in this run.';
  const kib = (bytes: number, n: number) => f1(bytes / Math.max(1, n) / 1024);
  const rows = r.idle.map((m) => [
    f0(m.requested),
    f0(m.attempted),
    f0(m.answered),
    f0(m.stillOpenAfterHold),
    f1(m.openSeconds),
    `${f0(mib(m.rssBefore))} → ${f0(mib(m.rssAfter))}`,
    `**${kib(m.rssAfter - m.rssBefore, m.answered)}**`,
    kib(m.heapUsedAfter - m.heapUsedBefore, m.answered),
    `${f0(m.fdsBefore)} → ${f0(m.fdsAfter)} (limit ${f0(m.fdLimit)})`,
    f0(mib(m.rssAfterClose)),
  ]);
  const notes = r.idle.flatMap((m) => [
    ...(m.cappedBy ? [`- ${f0(m.requested)} requested, ${f0(m.attempted)} attempted: capped by ${m.cappedBy}.`] : []),
    ...(Object.keys(m.failures).length > 0
      ? [
          `- ${f0(m.requested)}: failures ${Object.entries(m.failures)
            .map(([k, v]) => `${k} ×${v}`)
            .join(', ')}.`,
        ]
      : []),
  ]);
  return [
    '## Idle client connections',
    '',
    `Each measurement uses a fresh gateway process. Connections are opened 200 at a time; each sends one ApiVersions request`,
    `(answered through the gateway's upstream connection to the broker), then stays idle for ${r.options.idleHoldSeconds} s.`,
    "Per connection = growth of the gateway's RSS (and of its V8 heap in use) divided by the connections answered.",
    '',
    table(
      [
        'requested',
        'attempted',
        'answered',
        'open after hold',
        'open s',
        'RSS MiB before → after',
        'KiB RSS per conn',
        'KiB heap per conn',
        'fds before → after',
        'RSS MiB after close',
      ],
      rows,
    ),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
}

function profileSection(r: BenchResults): string {
  const p = r.profile;
  if (!p) return '## CPU profile\n\nNot run (`--no-profile` or `--quick`).';
  const s = p.summary;
  return [
    '## CPU profile',
    '',
    `A separate gateway process under \`node --cpu-prof\` while ${p.workloads.join(' and ')} ran through it (${f1(p.gatewayCpuSeconds)} CPU s,`,
    `${f1(s.busyMs / 1000)} s of non-idle samples). Self time, as a share of the non-idle samples:`,
    '',
    table(
      ['area', 'self ms', 'share'],
      s.areas.map((a) => [a.area, f0(a.selfMs), pct(a.share)]),
    ),
    '',
    'Top functions by self time (native functions have no file):',
    '',
    table(
      ['function', 'where', 'self ms', 'share'],
      s.top.map((f) => [`\`${f.name}\``, f.where ? `\`${f.where}\`` : '', f0(f.selfMs), `${(f.share * 100).toFixed(1)}%`]),
    ),
    '',
    "The gateway's own functions by total time (their self time plus everything they called, Node's socket writes included):",
    '',
    table(
      ['function', 'where', 'total ms', 'share'],
      s.inclusive.map((f) => [`\`${f.name}\``, `\`${f.where}\``, f0(f.selfMs), `${(f.share * 100).toFixed(1)}%`]),
    ),
  ].join('\n');
}

function failuresSection(r: BenchResults): string {
  const failed = r.runs.filter((x) => x.error);
  if (failed.length === 0) return '';
  return [
    '## Failed runs',
    '',
    table(
      ['round', 'workload', 'target', 'error'],
      failed.map((x) => [String(x.round), x.workload, x.target, x.error!.replace(/\|/g, '\\|')]),
    ),
  ].join('\n');
}

function existingAnalysis(path: string): string | null {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(ANALYSIS_START);
  const b = text.indexOf(ANALYSIS_END);
  return a >= 0 && b > a ? text.slice(a + ANALYSIS_START.length, b).trim() : null;
}

export function renderReport(r: BenchResults, previousReport: string): string {
  const s = summarise(r);
  const analysis =
    existingAnalysis(previousReport) ??
    '_No analysis written yet: what limits the gateway, read from the tables and the profile, goes here; the harness keeps this block when it regenerates the report._';
  return `${[
    '# Benchmarks',
    '',
    `Turnout forwarding Kafka traffic, measured against the same brokers without it: each workload runs directly and through`,
    `the gateway back to back, for ${r.options.rounds} round${r.options.rounds > 1 ? 's' : ''}, with \`npm run bench${r.options.argv.length ? ` -- ${r.options.argv.join(' ')}` : ''}\`.`,
    'Everything below the analysis is generated by `scripts/bench.ts`.',
    '',
    targetsSection(r, s),
    '',
    '## Analysis',
    '',
    ANALYSIS_START,
    analysis,
    ANALYSIS_END,
    '',
    setupSection(r),
    '',
    reproduceSection(r),
    '',
    throughputSection(r),
    '',
    latencySection(r),
    '',
    resourcesSection(r),
    '',
    idleSection(r),
    '',
    profileSection(r),
    '',
    failuresSection(r),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
