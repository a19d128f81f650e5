// The switchover scenario: client pairs (a producer and a group consumer on a topic of their own)
// run through the gateway while a route is switched N times back and forth, then Kafka's own
// delivery rule is checked: every acknowledged record is consumed at least once. Reported per
// client pair: acknowledged records never consumed (lost), records consumed more than once
// (duplicates), and how long producing and consuming stalled around each switch.
//
// The runner knows nothing about clusters or client libraries: it is given a running gateway (its
// admin URL and token, the route) and ScenarioClients, and only switches the route and reads what
// the clients say they acknowledged and consumed. `turnout demo --scenario`, the verification
// script (scripts/verify-switchover.ts) and the CI test all use it.
import { setTimeout as sleep } from 'node:timers/promises';

/** One record a client reported, with when it reported it (ms since the epoch, this machine's clock). */
export interface Stamp {
  readonly value: string;
  readonly at: number;
  /** Where the record was (acknowledged at / consumed from), when the client says. */
  readonly partition?: number;
  readonly offset?: number;
}

/** A producer and a group consumer on one topic, started once and kept running across every switch. */
export interface ScenarioClient {
  readonly name: string;
  /** Library and settings, one line (idempotence, acks, commit mode, rate). */
  readonly description: string;
  /** The topic it produces to and consumes from, and the consumer's group (matched against the
   *  groups a planned switch reports, to tell whether the group was caught up at the cut). */
  readonly topic: string;
  readonly group: string;
  /** Starts producing and consuming; resolves once the processes (or in-process clients) started. */
  start(): Promise<void>;
  /** Stops producing (what was sent is flushed and acknowledged or failed); the consumer continues. */
  stopProducing(): Promise<void>;
  /** Stops everything. */
  stop(): Promise<void>;
  /** Every record acknowledged so far (acks=all), in the order the client reported them. */
  acked(): readonly Stamp[];
  /** Every record consumed so far (repeats included), in order. */
  consumed(): readonly Stamp[];
  /** Sends that failed for good (the client gave up). */
  sendErrors(): number;
  /** Ids of the processes running the pair (this process's pid for in-process clients). */
  pids(): number[];
  /** False once a process exited or an in-process client gave up on its own. */
  alive(): boolean;
  /** What went wrong that is not a lost record: crashes, consumer restarts, exit codes. */
  problems(): string[];
  /** Client events worth counting (group assignments, failed commits, consumer restarts, ...). */
  counters?(): Record<string, number>;
}

export type ScenarioMode = 'planned' | 'hot';

export interface ScenarioOptions {
  /** e.g. http://127.0.0.1:9080 */
  readonly adminUrl: string;
  readonly token: string;
  readonly route: string;
  /** The route's bootstrap address (recorded in the result; the clients already point at it). */
  readonly bootstrap: string;
  /** The two streaming domains the route alternates between; the route must be on one of them. */
  readonly domains: readonly [string, string];
  readonly clients: readonly ScenarioClient[];
  readonly switches: number;
  readonly mode: ScenarioMode;
  /** Time between the answer to one switch and the next request (default 8 s). */
  readonly pauseMs?: number;
  /** Records each client must have acknowledged and consumed before the first switch (default 200). */
  readonly warmupRecords?: number;
  /** Limit for reaching warmupRecords (default 120 s). */
  readonly warmupTimeoutMs?: number;
  /** After the last switch and pause, producers stop; then up to this long for every acknowledged
   *  record to be consumed (default 120 s). */
  readonly settleTimeoutMs?: number;
  /** Who asks for the switches (audit). */
  readonly by?: string;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface SwitchPhaseReport {
  phase: string;
  ms: number;
  detail?: string;
}

export interface SwitchGroupReport {
  groupId: string;
  installed: boolean;
  error?: string;
  offsets?: { partition: string; source: string; dest: string; method: string; reReadBound?: string | null }[];
}

/** What the gateway answered to POST /routes/NAME/switch (the fields the scenario reads). */
export interface SwitchReportBody {
  outcome?: string;
  mode?: string;
  durationMs?: number;
  epoch?: number;
  message?: string;
  phases?: SwitchPhaseReport[];
  groups?: SwitchGroupReport[];
  partitions?: { partition: string; sourceEnd: string; caughtUp: boolean; lag: number | null }[];
  heldCommits?: number;
  possibleLoss?: string;
  error?: string;
}

export interface SwitchResult {
  /** 1-based. */
  readonly index: number;
  readonly from: string;
  readonly to: string;
  readonly requestedAt: number;
  readonly answeredAt: number;
  readonly httpStatus: number;
  /** 'switched' | 'refused' | 'failed' | 'unchanged', or 'error' when there was no report. */
  readonly outcome: string;
  readonly mode: string;
  /** The report's durationMs (request to every instance applied); the HTTP round trip if absent. */
  readonly durationMs: number;
  readonly phases: readonly SwitchPhaseReport[];
  readonly message: string;
  readonly groups: readonly SwitchGroupReport[];
  /** Source log end offset per partition at the cut. */
  readonly sourceEnds: ReadonlyMap<string, string>;
  readonly possibleLoss?: string;
  readonly heldCommits?: number;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface ClientResult {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  readonly acked: number;
  readonly consumed: number;
  readonly distinctConsumed: number;
  /** Acknowledged values never consumed (the delivery rule says: must be 0). */
  readonly lost: number;
  readonly lostSample: readonly string[];
  /** Acknowledged-but-lost records by the switch window their ack fell in (index 0: before the first switch). */
  readonly lostBySwitch: readonly number[];
  /** consumed - distinct consumed. */
  readonly duplicates: number;
  /** Repeat consumptions by the switch window they happened in (index 0: before the first switch). */
  readonly duplicatesBySwitch: readonly number[];
  /** For every repeat consumption: time since the same value was last consumed, and since the
   *  request of the switch whose window it fell in (repeats before the first switch not counted). */
  readonly repeatGapMs: Summary;
  readonly repeatAfterSwitchMs: Summary;
  /** Some repeated values with every consumption of each (time, partition, offset), for evidence. */
  readonly duplicateSample: readonly { value: string; consumed: readonly Stamp[] }[];
  readonly sendErrors: number;
  /** Largest gap between consecutive acks around each switch (ms), one per switch. */
  readonly producerStallMs: readonly number[];
  /** Largest gap between consecutive consumptions around each switch (ms), one per switch. */
  readonly consumerStallMs: readonly number[];
  readonly producerStall: Summary;
  readonly consumerStall: Summary;
  /** The same largest gaps in the warm-up window before the first switch: the clients' normal rhythm. */
  readonly steadyProducerGapMs: number;
  readonly steadyConsumerGapMs: number;
  /** Per switch: was this pair's group installed on the destination, and was its committed offset
   *  at the source's end on every partition (method "end")? null when the report has no such group. */
  readonly groupAtSwitch: readonly ({ installed: boolean; caughtUp: boolean } | null)[];
  /** The pair's processes ran from start to stop without exiting (and kept their pids). */
  readonly crashed: boolean;
  readonly problems: readonly string[];
  readonly counters: Readonly<Record<string, number>>;
}

export interface ScenarioResult {
  readonly mode: ScenarioMode;
  readonly route: string;
  readonly bootstrap: string;
  readonly domains: readonly [string, string];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly pauseMs: number;
  readonly switches: readonly SwitchResult[];
  readonly clients: readonly ClientResult[];
  /** Every acknowledged record was consumed before settleTimeoutMs ran out. */
  readonly settled: boolean;
  /** From stopping the producers until everything acknowledged was consumed (or the limit). */
  readonly settleMs: number;
  readonly totals: {
    readonly acked: number;
    readonly consumed: number;
    readonly lost: number;
    readonly duplicates: number;
    readonly sendErrors: number;
    readonly crashed: number;
    readonly switched: number;
    readonly switchDuration: Summary;
    /** Over every client pair and switch. */
    readonly producerStall: Summary;
    readonly consumerStall: Summary;
  };
}

const DEFAULT_PAUSE_MS = 8_000;

/** Runs the scenario; clients are stopped whatever happens. */
export async function runSwitchoverScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => {});
  const pauseMs = o.pauseMs ?? DEFAULT_PAUSE_MS;
  const warmupRecords = o.warmupRecords ?? 200;
  const started = Date.now();
  const switches: SwitchResult[] = [];
  const windows: number[] = []; // start of each switch window; windows[0] = start of warm-up
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled(o.clients.map((c) => c.stop()));
  };

  try {
    log(`${o.mode}: starting ${o.clients.length} client pair(s): ${o.clients.map((c) => c.name).join(', ')}`);
    await Promise.all(o.clients.map((c) => c.start()));
    const pids = new Map(o.clients.map((c) => [c, c.pids().join(',')]));

    await waitUntil(
      `every client pair has ${warmupRecords} records acknowledged and consumed`,
      o.warmupTimeoutMs ?? 120_000,
      () => {
        const dead = o.clients.filter((c) => !c.alive());
        if (dead.length > 0)
          throw new Error(`client pair(s) stopped before the first switch: ${dead.map((c) => `${c.name} (${c.problems().join('; ')})`).join(', ')}`);
        return o.clients.every((c) => c.acked().length >= warmupRecords && c.consumed().length >= warmupRecords);
      },
      () =>
        o.clients
          .map(
            (c) =>
              `${c.name}: ${c.acked().length} acked, ${c.consumed().length} consumed, ${c.sendErrors()} send errors${c.problems().length ? `; ${c.problems().join('; ')}` : ''}`,
          )
          .join('\n'),
    );
    // A quiet stretch before the first switch: the clients' normal gaps, for comparison.
    windows.push(Date.now());
    await sleep(Math.min(pauseMs, 5_000));

    let current = await routeDomain(o);
    if (!o.domains.includes(current)) throw new Error(`route "${o.route}" is on "${current}", not on ${o.domains.join(' or ')}`);
    for (let i = 1; i <= o.switches; i++) {
      const to = current === o.domains[0] ? o.domains[1] : o.domains[0];
      windows.push(Date.now());
      const s = await requestSwitch(o, i, current, to);
      switches.push(s);
      log(
        `${o.mode} switch ${i}/${o.switches} ${s.from} -> ${s.to}: ${s.outcome} in ${s.durationMs} ms (${s.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')})${s.outcome === 'switched' ? '' : `: ${s.message}`}`,
      );
      current = s.outcome === 'switched' ? to : await routeDomain(o).catch(() => current);
      await sleep(pauseMs);
    }
    windows.push(Date.now()); // end of the last switch window

    log(`${o.mode}: stopping the producers, waiting for every acknowledged record to be consumed`);
    const alive = new Map(o.clients.map((c) => [c, c.alive() && c.pids().join(',') === pids.get(c)]));
    await Promise.all(o.clients.map((c) => c.stopProducing()));
    const settleStarted = Date.now();
    let settled = false;
    try {
      await waitUntil(
        'every acknowledged record consumed',
        o.settleTimeoutMs ?? 120_000,
        () => o.clients.every((c) => missing(c).length === 0),
        () => '',
      );
      settled = true;
    } catch {
      // reported as lost records below
    }
    const settleMs = Date.now() - settleStarted;
    for (const c of o.clients) if (!c.alive() || c.pids().join(',') !== pids.get(c)) alive.set(c, false);
    await stopAll();

    const clients = o.clients.map((c) => clientResult(c, windows, switches, !alive.get(c)));
    const all = (f: (c: ClientResult) => readonly number[]) => clients.flatMap(f);
    const sum = (f: (c: ClientResult) => number) => clients.reduce((n, c) => n + f(c), 0);
    const result: ScenarioResult = {
      mode: o.mode,
      route: o.route,
      bootstrap: o.bootstrap,
      domains: o.domains,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      pauseMs,
      switches,
      clients,
      settled,
      settleMs,
      totals: {
        acked: sum((c) => c.acked),
        consumed: sum((c) => c.consumed),
        lost: sum((c) => c.lost),
        duplicates: sum((c) => c.duplicates),
        sendErrors: sum((c) => c.sendErrors),
        crashed: clients.filter((c) => c.crashed).length,
        switched: switches.filter((s) => s.outcome === 'switched').length,
        switchDuration: summarize(switches.map((s) => s.durationMs)),
        producerStall: summarize(all((c) => c.producerStallMs)),
        consumerStall: summarize(all((c) => c.consumerStallMs)),
      },
    };
    log(
      `${o.mode}: done in ${(result.durationMs / 1000).toFixed(0)} s: ${result.totals.switched}/${o.switches} switched, ${result.totals.acked} acked, ${result.totals.lost} lost, ${result.totals.duplicates} duplicates`,
    );
    return result;
  } finally {
    await stopAll();
  }
}

/** Acknowledged values `c` has not consumed yet. */
function missing(c: ScenarioClient): string[] {
  const seen = new Set(c.consumed().map((s) => s.value));
  return c
    .acked()
    .filter((a) => !seen.has(a.value))
    .map((a) => a.value);
}

async function routeDomain(o: ScenarioOptions): Promise<string> {
  const res = await fetch(`${o.adminUrl}/routes`);
  const body = (await res.json()) as { routes: { name: string; domain: string }[] };
  const r = body.routes.find((x) => x.name === o.route);
  if (r === undefined) throw new Error(`the gateway at ${o.adminUrl} has no route "${o.route}"`);
  return r.domain;
}

async function requestSwitch(o: ScenarioOptions, index: number, from: string, to: string): Promise<SwitchResult> {
  const requestedAt = Date.now();
  let status = 0;
  let body: SwitchReportBody = {};
  try {
    const res = await fetch(`${o.adminUrl}/routes/${encodeURIComponent(o.route)}/switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to, mode: o.mode, by: o.by ?? `switchover scenario (${o.mode} ${index}/${o.switches})` }),
    });
    status = res.status;
    const text = await res.text();
    try {
      body = JSON.parse(text) as SwitchReportBody;
    } catch {
      body = { error: text.slice(0, 500) };
    }
  } catch (err) {
    body = { error: (err as Error).message };
  }
  const answeredAt = Date.now();
  return {
    index,
    from,
    to,
    requestedAt,
    answeredAt,
    httpStatus: status,
    outcome: body.outcome ?? 'error',
    mode: body.mode ?? o.mode,
    durationMs: body.durationMs ?? answeredAt - requestedAt,
    phases: body.phases ?? [],
    message: body.message ?? body.error ?? `HTTP ${status}`,
    groups: body.groups ?? [],
    sourceEnds: new Map((body.partitions ?? []).map((p) => [p.partition, p.sourceEnd])),
    ...(body.possibleLoss !== undefined ? { possibleLoss: body.possibleLoss } : {}),
    ...(body.heldCommits !== undefined ? { heldCommits: body.heldCommits } : {}),
  };
}

function clientResult(c: ScenarioClient, windows: readonly number[], switches: readonly SwitchResult[], crashed: boolean): ClientResult {
  const acked = c.acked();
  const consumed = c.consumed();
  const seen = new Map<string, number>();
  const duplicatesBySwitch = new Array<number>(Math.max(1, windows.length - 1)).fill(0);
  const repeatGaps: number[] = [];
  const repeatsAfterSwitch: number[] = [];
  for (const s of consumed) {
    const before = seen.get(s.value);
    if (before !== undefined) {
      const w = windowOf(windows, s.at);
      duplicatesBySwitch[w]++;
      if (w > 0) {
        repeatGaps.push(s.at - before);
        repeatsAfterSwitch.push(s.at - windows[w]);
      }
    }
    seen.set(s.value, s.at);
  }
  const repeated = new Map<string, Stamp[]>();
  for (const s of consumed) {
    const list = repeated.get(s.value);
    if (list) list.push(s);
    else repeated.set(s.value, [s]);
  }
  const duplicateSample: { value: string; consumed: Stamp[] }[] = [];
  for (const [value, list] of repeated) {
    if (list.length < 2) continue;
    duplicateSample.push({ value, consumed: list });
    if (duplicateSample.length >= 10) break;
  }
  const lostStamps = acked.filter((a) => !seen.has(a.value));
  const lostBySwitch = new Array<number>(Math.max(1, windows.length - 1)).fill(0);
  for (const s of lostStamps) lostBySwitch[windowOf(windows, s.at)]++;
  const ackTimes = sortedTimes(acked);
  const consumeTimes = sortedTimes(consumed);
  // Switch i's window: from its request to the next request (the last: to the end of its pause).
  const producerStallMs: number[] = [];
  const consumerStallMs: number[] = [];
  for (let i = 1; i < windows.length - 1; i++) {
    producerStallMs.push(largestGap(ackTimes, windows[i], windows[i + 1]));
    consumerStallMs.push(largestGap(consumeTimes, windows[i], windows[i + 1]));
  }
  const warm = windows.length > 1 ? [windows[0], windows[1]] : [windows[0] ?? 0, windows[0] ?? 0];
  return {
    name: c.name,
    description: c.description,
    topic: c.topic,
    group: c.group,
    acked: acked.length,
    consumed: consumed.length,
    distinctConsumed: seen.size,
    lost: lostStamps.length,
    lostSample: lostStamps.slice(0, 20).map((s) => s.value),
    lostBySwitch,
    duplicates: consumed.length - seen.size,
    duplicatesBySwitch,
    repeatGapMs: summarize(repeatGaps),
    repeatAfterSwitchMs: summarize(repeatsAfterSwitch),
    duplicateSample,
    sendErrors: c.sendErrors(),
    producerStallMs,
    consumerStallMs,
    producerStall: summarize(producerStallMs),
    consumerStall: summarize(consumerStallMs),
    steadyProducerGapMs: largestGap(ackTimes, warm[0], warm[1]),
    steadyConsumerGapMs: largestGap(consumeTimes, warm[0], warm[1]),
    groupAtSwitch: switches.map((s) => {
      const g = s.groups.find((x) => x.groupId === c.group);
      if (g === undefined) return null;
      // Caught up: the group had committed the source's end on every partition at the cut.
      return { installed: g.installed, caughtUp: (g.offsets ?? []).length > 0 && (g.offsets ?? []).every((x) => s.sourceEnds.get(x.partition) === x.source) };
    }),
    crashed,
    problems: c.problems(),
    counters: c.counters?.() ?? {},
  };
}

/** Index of the window `at` falls in: 0 before the first switch, i during switch i's window. */
function windowOf(windows: readonly number[], at: number): number {
  let i = 0;
  while (i + 1 < windows.length - 1 && at >= windows[i + 1]) i++;
  return i;
}

function sortedTimes(stamps: readonly Stamp[]): number[] {
  return stamps.map((s) => s.at).sort((a, b) => a - b);
}

/**
 * The longest time without an event that overlaps [from, to): from the last event before `from`
 * (or `from`) through each event in the window to the first event after it (or `to` when there is
 * none yet: a client that never recovered stalls at least that long).
 */
export function largestGap(sortedTimes: readonly number[], from: number, to: number): number {
  let lo = 0;
  let hi = sortedTimes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sortedTimes[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  let prev = lo > 0 ? sortedTimes[lo - 1] : from;
  let gap = 0;
  let i = lo;
  for (; i < sortedTimes.length && sortedTimes[i] < to; i++) {
    gap = Math.max(gap, sortedTimes[i] - prev);
    prev = sortedTimes[i];
  }
  gap = Math.max(gap, (i < sortedTimes.length ? sortedTimes[i] : to) - prev);
  return gap;
}

/** Nearest-rank percentiles. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, p50: NaN, p99: NaN, max: NaN };
  const s = [...values].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: rank(50), p99: rank(99), max: s[s.length - 1] };
}

async function waitUntil(what: string, timeoutMs: number, done: () => boolean, state: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}\n${state()}`);
    await sleep(250);
  }
}

const ms = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : '-');
const triple = (s: Summary) => `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}`;

/** Markdown table: one row per client pair, and a row over all of them. */
export function clientTable(r: ScenarioResult): string[] {
  const rows = [
    '| client pair | acked | lost | consumed | duplicates | send errors | producer stall p50 / p99 / max (ms) | consumer stall p50 / p99 / max (ms) | normal gap producer / consumer (ms) | crashed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of r.clients) {
    rows.push(
      `| ${c.name} | ${c.acked} | ${c.lost} | ${c.consumed} | ${c.duplicates} | ${c.sendErrors} | ${triple(c.producerStall)} | ${triple(c.consumerStall)} | ${ms(c.steadyProducerGapMs)} / ${ms(c.steadyConsumerGapMs)} | ${c.crashed ? 'YES' : 'no'} |`,
    );
  }
  const t = r.totals;
  rows.push(
    `| **all** | ${t.acked} | ${t.lost} | ${t.consumed} | ${t.duplicates} | ${t.sendErrors} | ${triple(t.producerStall)} | ${triple(t.consumerStall)} | | ${t.crashed} |`,
  );
  return rows;
}

/** Markdown table: one row per switch, with each pair's stalls and repeats in that switch's window. */
export function switchTable(r: ScenarioResult): string[] {
  const names = r.clients.map((c) => c.name);
  const rows = [
    `| # | switch | outcome | duration (ms) | phases (ms) | producer stall per pair (ms): ${names.join(', ')} | consumer stall per pair (ms) | re-read per pair | group caught up at the cut per pair |`,
    '|---:|---|---|---:|---|---|---|---|---|',
  ];
  for (const s of r.switches) {
    const i = s.index;
    const phases = s.phases.map((p) => `${p.phase} ${p.ms}`).join(', ');
    const per = (f: (c: ClientResult) => string) => r.clients.map(f).join(', ');
    const group = (c: ClientResult) => {
      const g = c.groupAtSwitch[i - 1];
      return g === null || g === undefined ? '-' : !g.installed ? 'not installed' : g.caughtUp ? 'yes' : 'no';
    };
    rows.push(
      `| ${i} | ${s.from} -> ${s.to} | ${s.outcome}${s.outcome === 'switched' ? '' : ` (${s.message.replace(/\|/g, '/').slice(0, 200)})`} | ${s.durationMs} | ${phases} | ${per((c) => ms(c.producerStallMs[i - 1]))} | ${per((c) => ms(c.consumerStallMs[i - 1]))} | ${per((c) => String(c.duplicatesBySwitch[i] ?? 0))} | ${per(group)} |`,
    );
  }
  return rows;
}

/** Evidence lines for the repeats of one client pair: each sampled value's consumptions, timed
 *  relative to the switch request before them. */
export function duplicateEvidence(r: ScenarioResult, c: ClientResult, max = 10): string[] {
  const rel = (at: number) => {
    const s = [...r.switches].reverse().find((x) => x.requestedAt <= at);
    return s === undefined
      ? `${new Date(at).toISOString()} (before the first switch)`
      : `switch ${s.index} ${at - s.requestedAt >= 0 ? '+' : ''}${at - s.requestedAt} ms`;
  };
  return c.duplicateSample
    .slice(0, max)
    .map((d) => `${d.value}: ${d.consumed.map((s) => `${rel(s.at)}${s.partition !== undefined ? ` p${s.partition}@${s.offset}` : ''}`).join('; ')}`);
}
