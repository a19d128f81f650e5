// Switching routes, on one instance or on a fleet of them at once.
//
// Every instance keeps the same records in a compacted topic on every streaming domain it knows
// (records.ts). A switch is a prepare/commit over those topics:
//   1. the initiating instance writes `prepare` (new epoch, destination) to every domain;
//   2. every live instance (a heartbeat in the last few seconds) reaches the destination cluster
//      and acknowledges `prepared`, or says why it cannot;
//   3. when all did (or the switch is forced), the initiator writes the committed `route` record;
//      every instance flips its route when it reads it and acknowledges `applied`; otherwise it
//      writes `abort` and nothing changes anywhere.
// No instance talks to another: they only need the Kafka clusters they already front, and the
// destination's copy of the state is enough for a disaster switch with the source down. A new or
// restarted instance reads the newest committed epoch before it opens its listeners.
import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { DEFAULTS } from '../config/normalize.ts';
import type { BootstrapServerConfig, GatewayConfig, ReplicationType, StreamingDomainConfig } from '../config/types.ts';
import { TurnoutError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { FindCoordinatorResponse } from '../protocol/generated/messages/find-coordinator-response.ts';
import { ApiKey, kafkaErrorName } from '../protocol/index.ts';
import type { Route } from '../routing/route.ts';
import type { UpstreamCluster } from '../routing/upstream-cluster.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { KafkaConnection } from '../upstream/kafka-connection.ts';
import { ClusterAdmin, ClusterAdminError, type PartitionKey } from './cluster-admin.ts';
import { translateWithAnchors } from './offset-translation.ts';
import { ReadDeadlineError } from './partition-reader.ts';
import { comparablePartitions, describePreRead, expectedFencedMs, mapLimit, outOfBudget, readBeforeFence } from './pre-read.ts';
import {
  type AckRecord,
  type AuditRecord,
  decodeRecord,
  encodeRecord,
  type HeartbeatRecord,
  type InstanceResult,
  latestRouteStates,
  liveInstances,
  orphanedSwitches,
  type PrepareRecord,
  type RouteStateRecord,
  type StateRecord,
  type SwitchOutcome,
  type SwitchPhase,
} from './records.ts';
import {
  compareTopics,
  describeLossWindow,
  describeUnreadable,
  groupsOn,
  isUserTopic,
  LagHistory,
  observeLag,
  type PartitionState,
  ReplicationTracker,
  type TopicComparison,
  type TranslatedOffset,
  type TranslationEvidence,
} from './replication.ts';
import { StateLog } from './state-log.ts';
import { StateSigner } from './state-signing.ts';
import { StateWriter } from './state-writer.ts';

export interface SwitchRequest {
  route: string;
  to: string;
  /** Listener of the destination; defaults to one with the route's current listener id, else the first. */
  bootstrapServerId?: string;
  /** Switch even if some instance did not prepare, or the destination is not reachable. */
  force?: boolean;
  /** Who asked (audit). */
  by: string;
  /**
   * planned: fence writes, wait for replication, move group offsets, then flip (the default when
   * the route has replication); hot: flip at once (the default without replication).
   */
  mode?: SwitchMode;
  /** Topics to cover besides those clients used through the route. */
  topics?: string[];
  /** Called at each step of the switch (the CLI prints them as they happen). */
  onProgress?: (p: SwitchPhase) => void;
}

export type SwitchMode = 'planned' | 'hot';

/** Per partition, at the cut of a planned switch. */
export interface PartitionReport {
  partition: string;
  sourceEnd: string;
  destEnd: string | null;
  caughtUp: boolean;
  lag: number | null;
  /** Set when the partition's records could not be read, so whether it caught up is unknown. */
  unreadable?: { side: 'source' | 'destination'; domain: string; offset: string; codec: string; reason: string; message: string };
  /** Offset-preserving replication: the sampled records differ, so offsets are not preserved. */
  mismatch?: string;
  /** Why the partition cannot be judged yet (an open transaction on the source). */
  waiting?: string;
}

function partitionReport(p: PartitionState): PartitionReport {
  const r: PartitionReport = {
    partition: p.key,
    sourceEnd: String(p.sourceEnd),
    destEnd: p.destEnd === null ? null : String(p.destEnd),
    caughtUp: p.caughtUp,
    lag: p.lag,
  };
  if (p.unreadable !== undefined) {
    const u = p.unreadable;
    r.unreadable = { side: u.side, domain: u.domain, offset: String(u.offset), codec: u.codec, reason: u.reason, message: describeUnreadable(p.key, u) };
  }
  if (p.mismatch !== undefined) r.mismatch = p.mismatch;
  if (p.waiting !== undefined) r.waiting = p.waiting;
  return r;
}

export interface PreflightReport {
  route: string;
  from: string;
  to: string;
  replication: ReplicationType;
  at: string;
  topics: TopicComparison[];
  partitions: PartitionReport[];
  groups: {
    groupId: string;
    state: string;
    destState: string;
    /** Every partition's committed offset is at the source's end. */
    caughtUp: boolean;
    offsets: OffsetReport[];
  }[];
  /** What offset translation drew on (MirrorMaker offset syncs and checkpoints found, and ignored). */
  translation?: TranslationEvidence;
  /**
   * What a planned switch will read and how long its fence is expected to hold writes, measured by
   * reading it now as the switch does before its fence (passes: duration, partitions moved since
   * the pass before).
   */
  fence?: { partitions: number; groups: number; preReadMs: number; passes: { ms: number; moved: number }[]; expectedFencedMs: number; fenceTimeoutMs: number };
  /** What makes a switch unsafe (a planned switch refuses without --force). */
  blockers: string[];
  warnings: string[];
  possibleLoss?: string;
  /** Set when the source did not answer within SOURCE_PROBE_MS: why (nothing else was read). */
  sourceUnreachable?: string;
}

/** One committed offset and where it continues: how it was translated and how much may be read again. */
export interface OffsetReport {
  partition: string;
  /** Committed on the source. */
  source: string;
  /** Installed (or, in preflight, would be) on the destination. */
  dest: string;
  /** exact, tail, offset-sync, checkpoint, start, same, conservative (see offset-translation.ts). */
  method: string;
  /** At most this many destination offsets may be delivered to the group again (null: unknown). */
  reReadBound: string | null;
  /** Preflight: records between the committed offset and the source's end. */
  behindEnd?: number;
}

export interface GroupReport {
  groupId: string;
  installed: boolean;
  error?: string;
  offsets: OffsetReport[];
}

function offsetReport(t: TranslatedOffset): OffsetReport {
  return {
    partition: t.key,
    source: String(t.source),
    dest: String(t.dest),
    method: t.method,
    reReadBound: t.reReadBound === null ? null : String(t.reReadBound),
  };
}

/** "12 exact, 3 offset-sync (re-reads <= 40), 1 start" */
export function summarizeTranslations(groups: readonly { offsets: readonly OffsetReport[] }[]): string {
  const by = new Map<string, { n: number; bound: bigint | null }>();
  for (const g of groups) {
    for (const o of g.offsets) {
      const e = by.get(o.method) ?? { n: 0, bound: 0n };
      e.n++;
      e.bound = e.bound === null || o.reReadBound === null ? null : e.bound + BigInt(o.reReadBound);
      by.set(o.method, e);
    }
  }
  return [...by]
    .map(([m, e]) => `${e.n} ${m}${m === 'exact' || m === 'same' ? '' : ` (re-reads <= ${e.bound === null ? 'unknown' : String(e.bound)})`}`)
    .join(', ');
}

export interface SwitchReport {
  switchId: string;
  route: string;
  outcome: SwitchOutcome;
  forced: boolean;
  from: string;
  to: string;
  listener: string;
  epoch: number;
  by: string;
  at: string;
  durationMs: number;
  message: string;
  instances: InstanceResult[];
  /** Domains whose state topic holds the outcome; and those that could not be written. */
  stateWritten: string[];
  stateNotWritten: { domain: string; error: string }[];
  mode: SwitchMode;
  replication: ReplicationType;
  phases: SwitchPhase[];
  /** Planned switches: the topics covered, partitions at the cut, groups moved. */
  topics?: TopicComparison[];
  partitions?: PartitionReport[];
  groups?: GroupReport[];
  /** What offset translation drew on (MirrorMaker offset syncs and checkpoints found, and ignored). */
  translation?: TranslationEvidence;
  /** Offsets held by the fence and carried to the destination (planned). */
  heldCommits?: number;
  /** Planned switch: how long writes were held, from the fence to the flip or the release (ms). */
  fencedMs?: number;
  /** What may not be on the destination (forced or unreplicated switches). */
  possibleLoss?: string;
}

export interface FleetInstance {
  instance: string;
  self: boolean;
  live: boolean;
  lastSeen: string;
  admin: string | null;
  routes: Record<string, { epoch: number; domain: string }>;
}

const HEARTBEAT_INTERVAL_MS = 2_000;
const LIVE_WINDOW_MS = 7_000;
/** At start, once one domain's state is read, how much longer the others get before they are read in the background. */
const STARTUP_GRACE_MS = 2_000;
/** How long preflight and a planned switch give the source to answer before calling it unreachable. */
const SOURCE_PROBE_MS = 2_000;
const POLL_WAIT_MS = 500;
/** Of a planned switch's fence budget, what the catch-up leaves for the offsets install and the flip. */
const FENCE_RESERVE_MS = 1500;
/** OffsetCommits of a planned switch's install in flight at once (one per group). */
const COMMITS_IN_FLIGHT = 16;

/** Names MirrorMaker 2 may know a cluster by (its checkpoints topic is named after the source's alias). */
function sourceAliases(domain: StreamingDomainConfig): string[] {
  return [domain.name, domain.kafkaCluster.name];
}

/** The listener Turnout uses for its own state records in a domain: one it can authenticate to. */
function stateListener(domain: StreamingDomainConfig): BootstrapServerConfig | null {
  return domain.kafkaCluster.bootstrapServers.find((b) => b.security.protocol === 'PLAINTEXT' || b.security.sasl !== null) ?? null;
}

interface Waiter {
  switchId: string;
  phase: AckRecord['phase'];
  expected: Set<string>;
  acks: Map<string, AckRecord>;
  done: () => void;
}

export class SwitchController {
  private readonly config: GatewayConfig;
  private readonly routes: Map<string, Route>;
  private readonly log: Logger;
  private readonly metrics: GatewayMetrics;
  private readonly instanceId: string;
  private domains: Map<string, StreamingDomainConfig>;
  /** Per domain, one state log to write and one to follow: a follower's long-poll Fetch would
   *  hold up writes queued behind it on a shared connection (a broker answers a connection's
   *  requests in order). */
  private readonly logs = new Map<string, StateLog>();
  private readonly readers = new Map<string, StateLog>();
  /** Per domain, the queue of records to append (state-writer.ts): a dead domain delays only its own writes. */
  private readonly writers = new Map<string, StateWriter>();
  /** The last replication lag seen per route: a hot switch with the source down can only estimate from it. */
  readonly lags = new LagHistory();
  /** Switches begun (prepare read) whose outcome has not been read yet, by switch id. */
  private readonly openPrepares = new Map<string, { prepare: PrepareRecord; seenAt: number }>();
  /** Switches this instance is running now (it writes their outcome itself). */
  private readonly initiating = new Set<string>();
  /** Whether a state topic has been read since start (false: route epochs are unknown). */
  private stateRead = false;
  /** Domains whose state topic is being followed without errors right now. */
  private readonly following = new Set<string>();
  private readonly heartbeats = new Map<string, HeartbeatRecord>();
  /** Highest epoch seen per route in any record (prepares included), so a new switch goes above it. */
  private readonly epochsSeen = new Map<string, number>();
  private readonly prepared = new Map<string, UpstreamCluster>();
  private readonly handledPrepares = new Set<string>();
  private readonly handledCommits = new Set<string>();
  /** Switches that were committed or aborted: a prepare finishing after that must not keep its cluster. */
  private readonly endedSwitches = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  private readonly ackLog = new Map<string, Map<string, AckRecord[]>>();
  private running = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private busy: Promise<unknown> = Promise.resolve();
  adminAddress: string | null = null;

  constructor(config: GatewayConfig, routes: Route[], log: Logger, metrics: GatewayMetrics) {
    this.config = config;
    this.routes = new Map(routes.map((r) => [r.name, r]));
    this.log = log.child({ component: 'switch' });
    this.metrics = metrics;
    this.instanceId = config.instanceId;
    this.domains = new Map(config.streamingDomains.map((d) => [d.name, d]));
    if (config.state !== null) {
      for (const d of config.streamingDomains) this.addStateLog(d);
    }
  }

  get instance(): string {
    return this.instanceId;
  }

  private stateSigner: StateSigner | undefined;

  private addStateLog(d: StreamingDomainConfig): void {
    if (this.config.state === null || this.logs.has(d.name)) return;
    const listener = stateListener(d);
    if (listener === null) {
      this.log.warn(
        { domain: d.name },
        `no switch state on streaming domain "${d.name}": none of its listeners is PLAINTEXT or has service credentials (security.sasl)`,
      );
      return;
    }
    const signer = (this.stateSigner ??= stateSigner(this.config.state, this.log));
    const opts = {
      domain: d,
      listener,
      topic: this.config.state.topic,
      log: this.log,
      timeoutMs: this.config.limits.upstreamConnectTimeoutMs,
      signer,
      onRejected: (reason: string) => this.metrics.stateRecordsRejected.labels(d.name, reason).inc(),
    };
    const log = new StateLog(opts);
    this.logs.set(d.name, log);
    this.readers.set(d.name, new StateLog(opts));
    this.writers.set(
      d.name,
      new StateWriter((records) => log.append(records), {
        retryMs: 1000,
        onRetry: (err, queued) => this.log.debug({ domain: d.name, queued, err: err.message }, 'switch state not written; retrying in the background'),
      }),
    );
  }

  /** Domains added by a config reload become possible destinations. */
  updateDomains(domains: StreamingDomainConfig[]): void {
    for (const d of domains) {
      if (!this.domains.has(d.name)) {
        this.domains.set(d.name, d);
        this.addStateLog(d);
        if (this.running) void this.tail(d.name, this.readers.get(d.name), 0n);
      }
    }
  }

  /**
   * Reads the committed state from the reachable domains and points the routes at it, then
   * follows the topics. Call before the listeners open. Once one domain has been read, the others
   * get STARTUP_GRACE_MS more; a domain not read by then is retried in the background, and a
   * newer epoch found there is applied when it is read. When no domain can be read,
   * gateway.state.startup decides: `wait` retries until its deadline and then fails the start
   * (the instance does not know where its routes point, and guessing the file's domain at epoch 0
   * could send clients to the cluster a switch left); `serve` opens the listeners on the file's
   * domains with the epoch unknown (/ready says so, switches are refused) until a domain is read.
   */
  async start(): Promise<void> {
    this.running = true;
    if (this.logs.size === 0) {
      this.stateRead = true;
      return;
    }
    const startup = this.config.state?.startup ?? { mode: DEFAULTS.stateStartupMode, timeoutMs: DEFAULTS.stateStartupTimeoutMs };
    const deadline = Date.now() + startup.timeoutMs;
    const pending = new Set(this.readers.keys());
    let errors = new Map<string, string>();
    // One read per domain at a time: an attempt still running past the deadline is taken over by loadLater.
    const inflight = new Map<string, Promise<boolean>>();
    for (let attempt = 0; ; attempt++) {
      errors = new Map();
      for (const domain of pending) {
        if (inflight.has(domain)) continue;
        inflight.set(
          domain,
          this.loadDomain(domain)
            .then(
              () => pending.delete(domain),
              (err: Error) => {
                errors.set(domain, err.message);
                return false;
              },
            )
            .finally(() => inflight.delete(domain)),
        );
      }
      const loads = [...inflight.values()];
      // An attempt against a dead cluster lasts limits.upstreamConnectTimeoutMs: the deadline does not wait for it.
      await Promise.race([settleWithGrace(loads, STARTUP_GRACE_MS), sleep(Math.max(0, deadline - Date.now()))]);
      if (this.stateRead) break;
      for (const d of pending) if (!errors.has(d)) errors.set(d, `not read within ${startup.timeoutMs} ms`);
      if (startup.mode === 'serve') {
        this.log.error(
          { errors: Object.fromEntries(errors) },
          "no streaming domain's switch state could be read: serving the domains in the config file, epoch unknown, until one is read (gateway.state.startup.mode: serve); switches are refused meanwhile",
        );
        break;
      }
      if (Date.now() >= deadline) {
        throw new TurnoutError(
          'TURNOUT_STATE_UNREADABLE',
          `no streaming domain's switch state topic "${this.config.state!.topic}" could be read within ${startup.timeoutMs} ms (gateway.state.startup.timeoutMs), so this instance does not know which cluster each route is on: ${[...errors].map(([d, e]) => `${d}: ${e}`).join('; ')}. Make one of the clusters reachable, or set gateway.state.startup.mode: serve to serve the domains in the file until the state can be read`,
        );
      }
      if (attempt === 0)
        this.log.warn(
          { errors: Object.fromEntries(errors), timeoutMs: startup.timeoutMs },
          "no streaming domain's switch state could be read; waiting for one (gateway.state.startup.mode: wait)",
        );
      await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
    }
    // Domains not read yet: read in the background, then followed like the others.
    for (const domain of pending) {
      this.log.warn({ domain, err: errors.get(domain) ?? 'not read in time' }, 'switch state not readable at start; will keep trying');
      void this.loadLater(domain, inflight.get(domain));
    }
    void this.heartbeat(); // not awaited: a domain that is down must not hold up the listeners
    this.heartbeatTimer = setInterval(() => {
      void this.heartbeat();
      void this.finishOrphans();
    }, HEARTBEAT_INTERVAL_MS);
    this.heartbeatTimer.unref();
  }

  /** Whether this instance knows its routes' epochs (it has read a state topic, or has none). */
  get epochKnown(): boolean {
    return this.stateRead;
  }

  /** Reads one domain's whole state topic, applies what is newer, and starts following it. */
  private async loadDomain(domain: string): Promise<void> {
    const log = this.readers.get(domain)!;
    await log.ensureTopic();
    const records = await log.readAll();
    if (!this.running) return;
    const all: StateRecord[] = [];
    for (const rec of records) {
      const r = decodeRecord(rec.value);
      if (r === null) continue;
      all.push(r);
      this.noteEpoch(r);
      this.noteOutcome(r);
      if (r.type === 'instance') this.noteHeartbeat(r);
    }
    // Prepares are judged after every outcome in the log is known (an audit comes after its prepare).
    for (const r of all)
      if (r.type === 'prepare' && !this.endedSwitches.has(r.switchId) && !this.openPrepares.has(r.switchId))
        this.openPrepares.set(r.switchId, { prepare: r, seenAt: Date.now() });
    for (const [name, state] of latestRouteStates(all)) {
      const route = this.routes.get(name);
      if (route === undefined || state.epoch <= route.epoch) continue;
      this.handledCommits.add(state.switchId);
      try {
        this.applyState(route, state, null, this.stateRead ? `newer state read from "${domain}"` : 'restored at start');
      } catch (err) {
        this.log.error({ route: name, domain, err: (err as Error).message }, 'cannot apply the committed switch state');
      }
    }
    if (!this.stateRead) this.log.info({ domain }, 'switch state read; route epochs known');
    this.stateRead = true;
    const from = records.length > 0 ? records[records.length - 1].offset + 1n : 0n;
    void this.tail(domain, log, from);
  }

  private async loadLater(domain: string, running: Promise<boolean> | undefined): Promise<void> {
    if (running !== undefined && (await running)) return;
    while (this.running) {
      try {
        await this.loadDomain(domain);
        this.log.info({ domain }, 'switch state readable again');
        return;
      } catch (err) {
        if (!this.running) return;
        this.log.debug({ domain, err: (err as Error).message }, 'switch state still not readable');
        await sleep(1000);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    for (const c of this.prepared.values()) c.stop();
    this.prepared.clear();
    for (const w of this.writers.values()) w.close();
    for (const l of [...this.logs.values(), ...this.readers.values()]) l.close();
  }

  // ---- following the state topics ------------------------------------------------------

  private async tail(domain: string, log: StateLog | undefined, from: bigint): Promise<void> {
    if (log === undefined) return;
    let next = from;
    let failing = false;
    let ensured = from > 0n;
    while (this.running) {
      try {
        if (!ensured) {
          await log.ensureTopic();
          ensured = true;
        }
        const batch = await log.read(next, POLL_WAIT_MS);
        if (failing) this.log.info({ domain }, 'switch state readable again');
        failing = false;
        this.following.add(domain);
        next = batch.nextOffset;
        for (const rec of batch.records) {
          const s = decodeRecord(rec.value);
          if (s !== null) this.onRecord(s);
        }
      } catch (err) {
        if (!this.running) return; // stopped: the log was closed under the read
        if (!failing) this.log.warn({ domain, err: (err as Error).message }, 'cannot read switch state; retrying');
        failing = true;
        this.following.delete(domain);
        await sleep(1000);
      }
    }
  }

  private noteEpoch(r: StateRecord): void {
    if (r.type !== 'route' && r.type !== 'prepare') return;
    if (r.epoch > (this.epochsSeen.get(r.route) ?? 0)) this.epochsSeen.set(r.route, r.epoch);
  }

  /** Keeps track of switches begun and ended, to find those whose initiator died (finishOrphans). */
  private noteOutcome(r: StateRecord): void {
    if (r.type === 'route' || r.type === 'abort' || r.type === 'audit') {
      this.endedSwitches.add(r.switchId);
      this.openPrepares.delete(r.switchId);
    } else if (r.type === 'prepare' && !this.endedSwitches.has(r.switchId) && !this.openPrepares.has(r.switchId)) {
      this.openPrepares.set(r.switchId, { prepare: r, seenAt: Date.now() });
    }
  }

  /**
   * Ends switches whose initiator died between its prepare and its outcome (a worker or process
   * killed mid-switch): writes the abort (instances lift a fence they still hold and drop the
   * prepared cluster) and the audit entry, so that every switch that began is in the audit log.
   * One instance does it, the first by name among the live ones that serve the route; both records
   * have fixed keys, so two instances doing it at once leave one copy after compaction.
   */
  private async finishOrphans(): Promise<void> {
    if (!this.running || this.logs.size === 0) return;
    // The outcome may be in a domain this instance cannot read now: judge only with every domain read.
    if ([...this.readers.keys()].some((d) => !this.following.has(d))) return;
    const now = Date.now();
    for (const p of orphanedSwitches(this.openPrepares.values(), this.endedSwitches, now, this.config.switchover.fleetTimeoutMs)) {
      if (this.initiating.has(p.switchId)) continue;
      const live = liveInstances(this.heartbeats.values(), now, LIVE_WINDOW_MS, p.route);
      if (live.length > 0 && live[0] !== this.instanceId) continue;
      this.openPrepares.delete(p.switchId);
      this.endedSwitches.add(p.switchId);
      const acks = this.ackLog.get(p.switchId);
      const instances: InstanceResult[] = p.instances.map((i) => {
        const list = acks?.get(i) ?? [];
        const prep = list.find((a) => a.phase === 'prepared');
        return { instance: i, prepared: prep === undefined ? null : prep.ok, applied: null, ...(prep?.error !== undefined ? { error: prep.error } : {}) };
      });
      const message = `the switch of "${p.route}" from "${p.from}" to "${p.domain}" (epoch ${p.epoch}, ${p.planned !== undefined ? 'planned' : 'hot'}) asked by ${p.by} at ${p.at} was never committed or aborted: its initiating instance stopped mid-switch. ${this.instanceId} aborted it; the route stays where it was${p.planned !== undefined ? ' and fenced writes went on to the current cluster' : ''}`;
      const audit: AuditRecord = {
        type: 'audit',
        switchId: p.switchId,
        route: p.route,
        epoch: p.epoch,
        from: p.from,
        to: p.domain,
        listener: p.listener,
        by: p.by,
        at: p.at,
        durationMs: now - Date.parse(p.at),
        outcome: 'failed',
        forced: false,
        message,
        instances,
        mode: p.planned !== undefined ? 'planned' : 'hot',
        phases: [{ phase: 'abandoned', ms: now - Date.parse(p.at), detail: `found without an outcome by ${this.instanceId}` }],
      };
      this.log.warn(
        { route: p.route, switchId: p.switchId, epoch: p.epoch },
        'a switch was left unfinished by its initiator: aborting it and writing its audit entry',
      );
      this.onRecord({
        type: 'abort',
        route: p.route,
        switchId: p.switchId,
        epoch: p.epoch,
        reason: `initiator stopped mid-switch; aborted by ${this.instanceId}`,
        at: new Date().toISOString(),
      });
      await this.writeAll(
        {
          type: 'abort',
          route: p.route,
          switchId: p.switchId,
          epoch: p.epoch,
          reason: `initiator stopped mid-switch; aborted by ${this.instanceId}`,
          at: new Date().toISOString(),
        },
        'any',
      );
      await this.writeAudit(audit, 'failed', now - Date.parse(p.at));
    }
  }

  private noteHeartbeat(h: HeartbeatRecord): void {
    const known = this.heartbeats.get(h.instance);
    if (known === undefined || Date.parse(h.at) >= Date.parse(known.at)) this.heartbeats.set(h.instance, h);
  }

  private onRecord(r: StateRecord): void {
    this.noteEpoch(r);
    this.noteOutcome(r);
    switch (r.type) {
      case 'instance':
        this.noteHeartbeat(r);
        return;
      case 'prepare':
        void this.onPrepare(r);
        return;
      case 'ack':
        this.onAck(r);
        return;
      case 'abort': {
        this.endedSwitches.add(r.switchId);
        const fenced = this.routes.get(r.route);
        if (fenced?.fence?.switchId === r.switchId) {
          this.countHeld(fenced);
          fenced.lowerFence();
          this.metrics.fenced.labels(fenced.name).set(0);
          this.log.info({ route: r.route, switchId: r.switchId, reason: r.reason }, 'planned switch aborted: writes released to the current cluster');
        }
        const c = this.prepared.get(r.switchId);
        c?.stop();
        this.prepared.delete(r.switchId);
        return;
      }
      case 'route': {
        this.endedSwitches.add(r.switchId);
        const route = this.routes.get(r.route);
        if (route === undefined || this.handledCommits.has(r.switchId) || r.epoch <= route.epoch) return;
        this.handledCommits.add(r.switchId);
        const cluster = this.prepared.get(r.switchId) ?? null;
        this.prepared.delete(r.switchId);
        void this.applyCommit(route, r, cluster).then((error) => this.writeAll(this.ack(r, 'applied', error), { domain: r.domain }));
        return;
      }
      default:
    }
  }

  private async onPrepare(p: PrepareRecord): Promise<void> {
    const route = this.routes.get(p.route);
    if (route === undefined || this.handledPrepares.has(p.switchId)) return;
    this.handledPrepares.add(p.switchId);
    if (p.epoch <= route.epoch) {
      await this.writeAll(this.ack(p, 'prepared', `this instance is already on epoch ${route.epoch}`), { domain: p.domain });
      return;
    }
    let error: string | undefined;
    let fenced: AckRecord['fenced'];
    try {
      const cluster = await this.reach(route, p.domain, p.listener);
      if (this.endedSwitches.has(p.switchId))
        cluster.stop(); // read with its commit or abort while reaching
      else this.prepared.set(p.switchId, cluster);
      if (p.planned !== undefined && !this.endedSwitches.has(p.switchId)) fenced = await this.fenceLocal(route, p.switchId, p.planned.fenceMs);
    } catch (err) {
      error = (err as Error).message;
    }
    await this.writeAll({ ...this.ack(p, 'prepared', error), ...(fenced !== undefined ? { fenced } : {}) }, { domain: p.domain });
  }

  /**
   * Holds the route's writes on this instance and waits until those already forwarded are
   * answered. The fence lifts by itself if neither commit nor abort comes within its time (the
   * initiator died): traffic then resumes on the current cluster.
   */
  private async fenceLocal(route: Route, switchId: string, fenceMs: number): Promise<NonNullable<AckRecord['fenced']>> {
    const started = Date.now();
    route.raiseFence(switchId);
    this.metrics.fenced.labels(route.name).set(1);
    setTimeout(() => {
      if (route.fence?.switchId !== switchId) return;
      this.countHeld(route);
      route.lowerFence();
      this.metrics.fenced.labels(route.name).set(0);
      this.log.warn(
        { route: route.name, switchId },
        'planned switch neither committed nor aborted in time: fence lifted, writes continue on the current cluster',
      );
    }, fenceMs + 5000).unref();
    const limit = started + Math.min(fenceMs, this.config.switchover.drainTimeoutMs);
    for (;;) {
      const conns = route.connections();
      const inFlight = conns.reduce((n, c) => n + c.fencedInFlight(), 0);
      if (inFlight === 0) {
        return { held: conns.reduce((n, c) => n + c.heldCount(), 0), waitedMs: Date.now() - started, topics: [...route.topicsSeen] };
      }
      if (Date.now() > limit) {
        route.lowerFence();
        this.metrics.fenced.labels(route.name).set(0);
        throw new TurnoutError(
          'TURNOUT_FENCE_NOT_DRAINED',
          `${inFlight} forwarded write request(s) on route "${route.name}" were not answered within ${limit - started} ms; fence lifted`,
        );
      }
      await sleep(5);
    }
  }

  /**
   * Flips the route for a committed switch. A planned switch first carries the OffsetCommits its
   * fence held over to the destination (translated at the cut), so that consumers continue where
   * they had got to, not at their last forwarded commit. Returns an error message, or undefined.
   */
  private async applyCommit(route: Route, r: RouteStateRecord, cluster: UpstreamCluster | null): Promise<string | undefined> {
    let error: string | undefined;
    if (
      route.fence?.switchId === r.switchId &&
      r.replication !== undefined &&
      r.replication !== 'none' &&
      (r.replication === 'offset-preserving' || r.anchors !== undefined)
    ) {
      try {
        await this.installHeldCommits(route, r);
      } catch (err) {
        this.log.warn(
          { route: r.route, err: (err as Error).message },
          'offsets held by the fence could not be carried over; those consumers continue from the installed snapshot',
        );
      }
    }
    if (route.fence?.switchId === r.switchId) this.countHeld(route);
    try {
      this.applyState(route, r, cluster, 'switch committed');
    } catch (err) {
      error = (err as Error).message;
      this.log.error({ route: r.route, err: error }, 'cannot apply committed switch');
    }
    this.metrics.fenced.labels(route.name).set(route.fence === null ? 0 : 1);
    return error;
  }

  private countHeld(route: Route): void {
    const held = route.connections().reduce((n, c) => n + c.heldCount(), 0);
    if (held > 0) this.metrics.fenceHeld.labels(route.name).inc(held);
  }

  private async installHeldCommits(route: Route, r: RouteStateRecord): Promise<number> {
    const byGroup = new Map<string, Map<PartitionKey, bigint>>();
    for (const c of route.connections()) {
      for (const h of c.heldOffsetCommits()) {
        const m = byGroup.get(h.groupId) ?? new Map<PartitionKey, bigint>();
        for (const [k, o] of h.offsets) {
          // Without anchors for the partition the commit is left alone: the installed offset stays.
          const t = r.replication === 'offset-preserving' ? o : (translateWithAnchors(r.anchors?.[k], o)?.dest ?? null);
          if (t !== null) m.set(k, t);
        }
        byGroup.set(h.groupId, m);
      }
    }
    if (byGroup.size === 0) return 0;
    const domain = this.domains.get(r.domain);
    const listener = domain === undefined ? null : stateListener(domain);
    if (domain === undefined || listener === null) throw new TurnoutError('TURNOUT_DESTINATION_UNUSABLE', `no usable listener on "${r.domain}"`);
    const dst = new ClusterAdmin(domain, listener, this.config.limits.upstreamConnectTimeoutMs);
    try {
      let n = 0;
      for (const [groupId, offsets] of byGroup) {
        if (offsets.size === 0) continue;
        const refused = await dst.commitOffsets(groupId, offsets);
        if (refused.size > 0) this.log.warn({ groupId, refused: Object.fromEntries(refused) }, 'destination refused held offsets');
        else n++;
      }
      this.log.info({ route: route.name, groups: n }, 'carried offsets held by the fence over to the destination');
      return n;
    } finally {
      dst.close();
    }
  }

  private ack(r: { route: string; switchId: string; epoch: number }, phase: AckRecord['phase'], error: string | undefined): AckRecord {
    return {
      type: 'ack',
      route: r.route,
      switchId: r.switchId,
      epoch: r.epoch,
      instance: this.instanceId,
      phase,
      ok: error === undefined,
      ...(error !== undefined ? { error } : {}),
      at: new Date().toISOString(),
    };
  }

  private onAck(a: AckRecord): void {
    let bySwitch = this.ackLog.get(a.switchId);
    if (bySwitch === undefined) {
      bySwitch = new Map();
      this.ackLog.set(a.switchId, bySwitch);
      if (this.ackLog.size > 100) this.ackLog.delete(this.ackLog.keys().next().value!);
    }
    const list = bySwitch.get(a.instance) ?? [];
    if (!list.some((x) => x.phase === a.phase)) list.push(a);
    bySwitch.set(a.instance, list);
    for (const w of this.waiters) {
      if (w.switchId !== a.switchId || w.phase !== a.phase) continue;
      w.acks.set(a.instance, a);
      if ([...w.expected].every((i) => w.acks.has(i))) w.done();
    }
  }

  /** Resolves with the acks of `phase` from `expected` instances, or what arrived by the deadline. */
  private waitForAcks(switchId: string, phase: AckRecord['phase'], expected: string[], timeoutMs: number): Promise<Map<string, AckRecord>> {
    return new Promise((resolve) => {
      const acks = new Map<string, AckRecord>();
      for (const [instance, list] of this.ackLog.get(switchId) ?? []) {
        const a = list.find((x) => x.phase === phase);
        if (a !== undefined) acks.set(instance, a);
      }
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        switchId,
        phase,
        expected: new Set(expected),
        acks,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(acks);
        },
      };
      if (expected.every((i) => acks.has(i))) {
        resolve(acks);
        return;
      }
      this.waiters.add(waiter);
      timer = setTimeout(waiter.done, timeoutMs);
    });
  }

  private async heartbeat(): Promise<void> {
    if (!this.running) return;
    const routes: HeartbeatRecord['routes'] = {};
    for (const r of this.routes.values()) routes[r.name] = { epoch: r.epoch, domain: r.domainName };
    const h: HeartbeatRecord = { type: 'instance', instance: this.instanceId, at: new Date().toISOString(), admin: this.adminAddress, routes };
    this.noteHeartbeat(h);
    await this.writeAll(h, 'any');
  }

  /**
   * Queues a record for every domain's state topic and waits for the writes `need` names:
   *   - { domain }: that domain's (falls back to 'any' when the domain has no state topic here);
   *   - 'any': the first that succeeds (or all, when none does);
   *   - 'all': every domain's answer.
   * The other domains' writes go on in the background (state-writer.ts): a domain that is down
   * delays only what needs it. What a switch needs, and why:
   *   - prepare, commit and abort need the destination's state topic. Every instance follows every
   *     domain's topic, and an instance can only prepare if it reaches the destination, so that copy
   *     reaches every instance taking part; a restarted instance reads every reachable domain and
   *     takes the highest epoch, and the destination is where the route's clients now are, so it is
   *     the copy that must hold the new epoch. The source's copy of the commit is retried until the
   *     source takes it (an instance that can read only the source then learns the new epoch).
   *   - an instance's acks need the destination of the switch they answer (the initiator reads
   *     them there at the latest).
   *   - audit entries need any one domain and are retried on the others; heartbeats need none.
   */
  private async writeAll(r: StateRecord, need: { domain: string } | 'any' | 'all' = 'all'): Promise<WriteResult> {
    const rec = encodeRecord(r);
    // Only records that describe the lasting state are retried until written.
    const keep = r.type === 'route' || r.type === 'audit' || r.type === 'instance' || r.type === 'abort';
    const written: string[] = [];
    const failed: { domain: string; error: string }[] = [];
    const writes = new Map<string, Promise<void>>();
    for (const [domain, w] of this.writers) {
      writes.set(
        domain,
        w.write(rec.key, rec.value!, keep).then(
          () => {
            written.push(domain);
          },
          (err: Error) => {
            failed.push({ domain, error: err.message });
          },
        ),
      );
    }
    const needed = typeof need === 'object' && writes.has(need.domain) ? need : need === 'all' ? 'all' : 'any';
    if (needed === 'all') await Promise.all(writes.values());
    else if (needed === 'any') {
      await new Promise<void>((resolve) => {
        let left = writes.size;
        if (left === 0) resolve();
        for (const [domain, p] of writes) {
          void p.then(() => {
            left--;
            if (written.includes(domain) || left === 0) resolve();
          });
        }
      });
    } else await writes.get(needed.domain);
    const snapshot = (): WriteResult => {
      const settled = new Set([...written, ...failed.map((f) => f.domain)]);
      const pending = [...writes.keys()].filter((d) => !settled.has(d)).sort();
      // A record queued behind a failed append has no answer of its own yet: say why the last one failed.
      const queuedBehind = pending.flatMap((domain) => {
        const e = this.writers.get(domain)?.lastError;
        return e ? [{ domain, error: `queued behind a write that failed (${e.message}); retried in the background` }] : [];
      });
      return { written: [...written].sort(), failed: [...failed, ...queuedBehind], pending, settled: later };
    };
    // For reports: what the other domains answered within `ms` more (healthy ones answer in milliseconds).
    const later = async (ms: number): Promise<WriteResult> => {
      await Promise.race([Promise.all(writes.values()), sleep(ms)]);
      return snapshot();
    };
    return snapshot();
  }

  // ---- switching --------------------------------------------------------------------------

  /** The fleet's instances as this one sees them. */
  fleet(): FleetInstance[] {
    const now = Date.now();
    const live = new Set(liveInstances(this.heartbeats.values(), now, LIVE_WINDOW_MS));
    return [...this.heartbeats.values()]
      .map((h) => ({
        instance: h.instance,
        self: h.instance === this.instanceId,
        live: live.has(h.instance),
        lastSeen: h.at,
        admin: h.admin,
        routes: h.routes,
      }))
      .sort((a, b) => a.instance.localeCompare(b.instance));
  }

  /**
   * Whether a cluster answers: a connection (and SASL, for a SASL listener) to any of its bootstrap
   * brokers within SOURCE_PROBE_MS. Null when it does, else why not. Short on purpose: a dead
   * source must be reported in seconds, not after every request's own timeout.
   */
  private async probe(listener: BootstrapServerConfig): Promise<string | null> {
    const budget = Math.min(SOURCE_PROBE_MS, this.config.limits.upstreamConnectTimeoutMs);
    const attempts = listener.endpoints.map((e) =>
      KafkaConnection.open(e, listener.security, { connectTimeoutMs: budget, requestTimeoutMs: budget, clientId: 'turnout-probe' }),
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      const conn = await Promise.race([
        Promise.any(attempts),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new UpstreamError(UpstreamErrorCode.Timeout, `no broker answered within ${budget} ms`)), budget + 250);
        }),
      ]);
      conn.close();
      return null;
    } catch (err) {
      const errors = err instanceof AggregateError ? err.errors.map((e: Error) => e.message) : [(err as Error).message];
      return [...new Set(errors)].join('; ');
    } finally {
      clearTimeout(timer);
      for (const a of attempts)
        a.then(
          (c) => c.close(),
          () => {},
        );
    }
  }

  /** Connects to the destination and discovers its brokers; throws if it cannot be reached. */
  private async reach(route: Route, domainName: string, listenerId: string): Promise<UpstreamCluster> {
    const domain = this.domains.get(domainName);
    if (domain === undefined) throw new TurnoutError('TURNOUT_UNKNOWN_DOMAIN', `this instance has no streaming domain "${domainName}" in its config`);
    const cluster = route.newCluster(domain, listenerId);
    await cluster.refresh();
    if (!cluster.ready) throw new TurnoutError('TURNOUT_DESTINATION_UNREACHABLE', cluster.lastError ?? `streaming domain "${domainName}" did not answer`);
    await this.warmCoordinators(cluster, Math.min(8000, this.config.switchover.fleetTimeoutMs / 2));
    return cluster;
  }

  /**
   * Makes sure the destination has group and transaction coordinators before clients arrive. A
   * cluster that never ran transactions has no __transaction_state yet, and Kafka 4 producers add
   * partitions to a transaction through Produce itself, without asking for a coordinator: they
   * would stall until delivery.timeout.ms. FindCoordinator creates the internal topic. Best
   * effort: a destination that refuses (ACLs) is logged, not fatal.
   */
  private async warmCoordinators(cluster: UpstreamCluster, budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    let conn: KafkaConnection | null = null;
    try {
      const endpoint = cluster.bootstrapEndpoints()[0];
      conn = await KafkaConnection.open(endpoint, cluster.listener.security, { connectTimeoutMs: budgetMs, requestTimeoutMs: budgetMs });
      for (const keyType of [0, 1]) {
        for (;;) {
          const res = await conn.request<FindCoordinatorResponse>(ApiKey.FindCoordinator, 4, { key: '', keyType, coordinatorKeys: ['turnout-switch-probe'] });
          const error = res.coordinators[0]?.errorCode ?? 0;
          if (error === 0) break;
          if (Date.now() > deadline)
            throw new TurnoutError(
              'TURNOUT_DESTINATION_UNUSABLE',
              `FindCoordinator (${keyType === 0 ? 'group' : 'transaction'}) answered ${kafkaErrorName(error)}`,
            );
          await sleep(200);
        }
      }
    } catch (err) {
      this.log.warn(
        { domain: cluster.domain.name, err: (err as Error).message },
        "could not confirm the destination's group and transaction coordinators; clients may wait for them after the switch",
      );
    } finally {
      conn?.close();
    }
  }

  private applyState(route: Route, s: RouteStateRecord, prepared: UpstreamCluster | null, why: string): void {
    const domain = this.domains.get(s.domain);
    if (domain === undefined)
      throw new TurnoutError(
        'TURNOUT_UNKNOWN_DOMAIN',
        `route "${route.name}" is on streaming domain "${s.domain}" (epoch ${s.epoch}), which this instance's config does not have`,
      );
    const cluster = prepared ?? route.newCluster(domain, s.listener);
    const from = route.domainName;
    route.activate(cluster, s.epoch, { epoch: s.epoch, from: s.from, to: s.domain, listener: s.listener, by: s.by, at: s.at, switchId: s.switchId });
    this.metrics.routeEpoch.labels(route.name).set(s.epoch);
    this.metrics.setActiveDomain(route.name, s.domain, [...this.domains.keys()]);
    this.log.info({ route: route.name, from, to: s.domain, listener: s.listener, epoch: s.epoch, by: s.by }, why);
  }

  /** Validates a request against this instance's config; returns the destination listener. */
  private destination(req: SwitchRequest): { route: Route; domain: StreamingDomainConfig; listener: BootstrapServerConfig } {
    const route = this.routes.get(req.route);
    if (route === undefined) throw new TurnoutError('TURNOUT_UNKNOWN_ROUTE', `no route "${req.route}" (routes: ${[...this.routes.keys()].join(', ')})`);
    const domain = this.domains.get(req.to);
    if (domain === undefined)
      throw new TurnoutError('TURNOUT_UNKNOWN_DOMAIN', `no streaming domain "${req.to}" (streaming domains: ${[...this.domains.keys()].join(', ')})`);
    const servers = domain.kafkaCluster.bootstrapServers;
    const listener =
      req.bootstrapServerId !== undefined
        ? servers.find((s) => s.id === req.bootstrapServerId)
        : (servers.find((s) => s.id === route.listenerId) ??
          servers.find((s) => (s.security.protocol === 'PLAINTEXT') === (route.config.authentication.type === 'none')) ??
          servers[0]);
    if (listener === undefined)
      throw new TurnoutError(
        'TURNOUT_UNKNOWN_LISTENER',
        `streaming domain "${req.to}" has no bootstrap server "${req.bootstrapServerId}" (it has: ${servers.map((s) => s.id).join(', ')})`,
      );
    const sasl = listener.security.protocol !== 'PLAINTEXT';
    const auth = route.config.authentication.type;
    if (auth === 'passthrough' && !sasl)
      throw new TurnoutError(
        'TURNOUT_INCOMPATIBLE_LISTENER',
        `route "${route.name}" relays client SASL (authentication passthrough), but listener "${listener.id}" of "${req.to}" is PLAINTEXT; pick a SASL listener with --bootstrap-server-id`,
      );
    if (auth === 'none' && sasl)
      throw new TurnoutError(
        'TURNOUT_INCOMPATIBLE_LISTENER',
        `route "${route.name}" has no client authentication, but listener "${listener.id}" of "${req.to}" requires SASL; pick a PLAINTEXT listener with --bootstrap-server-id`,
      );
    return { route, domain, listener };
  }

  /** Switches a route on every live instance, or on none. One switch at a time per instance. */
  switchRoute(req: SwitchRequest): Promise<SwitchReport> {
    const run = this.busy.then(() => this.doSwitch(req));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async doSwitch(req: SwitchRequest): Promise<SwitchReport> {
    const started = performance.now();
    const at = new Date().toISOString();
    const { route, domain, listener } = this.destination(req);
    const forced = req.force === true;
    const switchId = randomUUID();
    const from = route.domainName;
    const epoch = Math.max(route.epoch, this.epochsSeen.get(route.name) ?? 0) + 1;
    const replication = route.config.replication.type;
    const mode: SwitchMode = req.mode ?? (replication === 'none' ? 'hot' : 'planned');
    const phases: SwitchPhase[] = [];
    const report: SwitchReport = {
      switchId,
      route: route.name,
      outcome: 'failed',
      forced,
      from,
      to: domain.name,
      listener: listener.id,
      epoch,
      by: req.by,
      at,
      durationMs: 0,
      message: '',
      instances: [],
      stateWritten: [],
      stateNotWritten: [],
      mode,
      replication,
      phases,
    };
    const phase = (name: string, detail?: string): void => {
      const p: SwitchPhase = { phase: name, ms: Math.round(performance.now() - started), ...(detail !== undefined ? { detail } : {}) };
      phases.push(p);
      if (name !== 'catching up') this.metrics.switchPhase.labels(route.name, mode, name).observe(p.ms / 1000);
      try {
        req.onProgress?.(p);
      } catch {
        // a progress listener that went away (HTTP client gone) must not stop the switch
      }
    };
    const finish = async (outcome: SwitchOutcome, message: string): Promise<SwitchReport> => {
      report.outcome = outcome;
      report.message = message;
      report.durationMs = Math.round(performance.now() - started);
      phase(outcome, message);
      if (outcome !== 'unchanged') await this.audit(report);
      else this.metrics.switches.labels(report.route, outcome).inc();
      return report;
    };

    if (!this.stateRead) {
      return finish(
        'refused',
        `this instance has not read any streaming domain's switch state topic since it started (gateway.state.startup.mode: serve), so it does not know route "${route.name}"'s epoch: a switch now could reuse an epoch. Nothing changed; retry when GET /ready no longer says the epoch is unknown`,
      );
    }
    if (from === domain.name && route.listenerId === listener.id && !forced) {
      report.epoch = route.epoch;
      return finish('unchanged', `route "${route.name}" already points at "${domain.name}" (listener "${listener.id}", epoch ${route.epoch})`);
    }
    if (mode === 'planned') {
      if (replication === 'none') {
        return finish(
          'refused',
          `route "${route.name}" has no replication configured (routes[].replication.type is none), so a planned switch has nothing to wait for; use a hot switch (--mode hot), which leaves behind whatever the destination does not have`,
        );
      }
      this.initiating.add(switchId);
      try {
        return await this.plannedSwitch({ req, route, domain, listener, switchId, epoch, from, at, forced, report, phase, finish });
      } finally {
        this.initiating.delete(switchId);
      }
    }
    report.possibleLoss =
      replication === 'none'
        ? `no replication is configured: records on "${from}" that are not on "${domain.name}" stay behind`
        : `hot switch: ${describeLossWindow(this.lags.get(route.name), route.name, from, domain.name)}`;
    phase('flipping', 'hot switch: no fence, no replication wait, no offset install');

    if (this.logs.size === 0) {
      // No shared state (gateway.state disabled): this instance alone.
      let cluster: UpstreamCluster | null = null;
      try {
        cluster = await this.reach(route, domain.name, listener.id);
      } catch (err) {
        if (!forced) {
          report.instances = [{ instance: this.instanceId, prepared: false, applied: null, error: (err as Error).message }];
          return finish('refused', `cannot reach the destination: ${(err as Error).message}. Nothing changed; use --force to switch anyway`);
        }
      }
      this.applyState(
        route,
        { type: 'route', route: route.name, epoch, domain: domain.name, listener: listener.id, switchId, from, by: req.by, at },
        cluster,
        'switched (this instance only: gateway.state is disabled)',
      );
      report.instances = [{ instance: this.instanceId, prepared: cluster !== null, applied: true }];
      return finish(
        'switched',
        `switched "${route.name}" from "${from}" to "${domain.name}" on this instance (gateway.state is disabled, so other instances are not told)`,
      );
    }

    const expected = this.participants(route.name);
    const prepare: PrepareRecord = {
      type: 'prepare',
      route: route.name,
      epoch,
      switchId,
      domain: domain.name,
      listener: listener.id,
      from,
      by: req.by,
      at,
      instances: expected,
    };
    this.noteEpoch(prepare);
    const timeout = this.config.switchover.fleetTimeoutMs;
    const dest = { domain: domain.name };
    this.initiating.add(switchId);
    try {
      const preparedAcks = this.waitForAcks(switchId, 'prepared', expected, timeout);
      const w1 = await this.writeAll(prepare, dest);
      if (!this.landed(w1, domain.name)) {
        report.stateNotWritten = notWritten(w1);
        report.instances = expected.map((i) => ({ instance: i, prepared: null, applied: null }));
        // Instances that read the prepare elsewhere let go of the destination they reached.
        void this.writeAll(
          { type: 'abort', route: route.name, switchId, epoch, reason: 'prepare not written on the destination', at: new Date().toISOString() },
          'any',
        );
        return finish(
          'refused',
          `the switch state topic of the destination "${domain.name}" could not be written (${w1.failed.map((f) => `${f.domain}: ${f.error}`).join('; ') || 'no answer'}); a switch needs it (every instance taking part reads it there). Nothing changed`,
        );
      }
      const acks = await preparedAcks;
      const results = new Map<string, InstanceResult>(expected.map((i) => [i, { instance: i, prepared: null, applied: null }]));
      for (const [i, a] of acks) results.set(i, { instance: i, prepared: a.ok, applied: null, ...(a.error !== undefined ? { error: a.error } : {}) });
      const notReady = [...results.values()].filter((r) => r.prepared !== true);
      if (notReady.length > 0 && !forced) {
        await this.writeAll({ type: 'abort', route: route.name, switchId, epoch, reason: 'not every instance prepared', at: new Date().toISOString() }, dest);
        report.instances = [...results.values()];
        const why = notReady.map((r) => `${r.instance}: ${r.prepared === null ? `no answer within ${timeout} ms` : r.error}`).join('; ');
        return finish('refused', `not every instance could prepare (${why}); nothing changed. Fix that, or use --force to switch the instances that can`);
      }

      const commit: RouteStateRecord = { type: 'route', route: route.name, epoch, domain: domain.name, listener: listener.id, switchId, from, by: req.by, at };
      const appliedAcks = this.waitForAcks(switchId, 'applied', expected, timeout);
      const w2 = await this.writeAll(commit, dest);
      report.stateWritten = w2.written;
      report.stateNotWritten = notWritten(w2);
      if (!this.landed(w2, domain.name)) {
        await this.writeAll({ type: 'abort', route: route.name, switchId, epoch, reason: 'commit not written', at: new Date().toISOString() }, 'any');
        report.instances = [...results.values()];
        return finish(
          'failed',
          `the commit could not be written to the destination's state topic (${w2.failed.map((f) => `${f.domain}: ${f.error}`).join('; ') || 'no answer'}); the switch was aborted, nothing changed`,
        );
      }
      // This instance applies as soon as the commit is durable, without waiting to read it back.
      if (!this.handledCommits.has(switchId)) this.onRecord(commit);
      const applied = await appliedAcks;
      const w2s = await w2.settled(REPORT_WRITES_GRACE_MS);
      recordApplied(report, results, w2s, applied);
      report.instances = [...results.values()];
      const missing = report.instances.filter((r) => r.applied !== true).map((r) => r.instance);
      const message =
        missing.length === 0
          ? `switched "${route.name}" from "${from}" to "${domain.name}" on ${expected.length} instance${expected.length === 1 ? '' : 's'} (epoch ${epoch})${forced ? ' (forced)' : ''}.${partialStateNote(w2s)}`
          : `switched "${route.name}" to "${domain.name}" (epoch ${epoch})${forced ? ' (forced)' : ''}, but ${missing.join(', ')} did not confirm within ${timeout} ms; they apply it when they read the state.${partialStateNote(w2s)}`;
      return finish('switched', message);
    } finally {
      this.initiating.delete(switchId);
    }
  }

  /**
   * The instances a switch of `route` waits for: this one and every live instance whose heartbeat
   * says it serves the route (records.ts liveInstances says why not every live instance).
   */
  private participants(route: string): string[] {
    return [...new Set([this.instanceId, ...liveInstances(this.heartbeats.values(), Date.now(), LIVE_WINDOW_MS, route)])].sort();
  }

  /** Whether a write reached `domain`'s state topic (any domain's, when `domain` has none here). */
  private landed(w: { written: string[] }, domain: string): boolean {
    return this.writers.has(domain) ? w.written.includes(domain) : w.written.length > 0;
  }

  /**
   * What a switch of `routeName` to `to` would find right now, without fencing anything: topics
   * and partitions on both sides, replication lag per partition, groups and where their offsets
   * would land, and what blocks a safe switch.
   */
  async preflight(routeName: string, to: string, asked: string[] = []): Promise<PreflightReport> {
    const { route, domain } = this.destination({ route: routeName, to, by: 'preflight' });
    const from = route.domainName;
    const replication = route.config.replication;
    const sourceDomain = this.domains.get(from)!;
    const srcListener = stateListener(sourceDomain);
    const dstListener = stateListener(domain);
    if (srcListener === null || dstListener === null) {
      throw new TurnoutError(
        'TURNOUT_NO_ADMIN_LISTENER',
        `preflight reads offsets and groups with Turnout's service credentials, but "${srcListener === null ? from : domain.name}" has no PLAINTEXT listener and no listener with security.sasl credentials`,
      );
    }
    const timeoutMs = this.config.limits.upstreamConnectTimeoutMs;
    // Decompressed records are bounded like frames: a hostile batch cannot make the gateway allocate more.
    const readLimits = { maxDecompressedBytes: this.config.limits.maxFrameBytes };
    const down = await this.probe(srcListener);
    if (down !== null) {
      const loss = describeLossWindow(this.lags.get(route.name), route.name, from, domain.name);
      return {
        route: route.name,
        from,
        to: domain.name,
        replication: replication.type,
        at: new Date().toISOString(),
        topics: [],
        partitions: [],
        groups: [],
        blockers: [sourceDownMessage(route.name, from, domain.name, down, false)],
        warnings: [],
        possibleLoss: `with a hot switch: ${loss}`,
        sourceUnreachable: down,
      };
    }
    const src = new ClusterAdmin(sourceDomain, srcListener, timeoutMs, readLimits);
    const dst = new ClusterAdmin(domain, dstListener, timeoutMs, readLimits);
    try {
      const topics = await this.coveredTopics(route, src, asked, []);
      const cmp = await compareTopics(src, dst, topics);
      const blockers: string[] = [];
      const warnings: string[] = [];
      // A topic only seen in clients' metadata requests may never have existed; one asked for must.
      for (const t of cmp.topics)
        if (t.problem !== null) (t.problem === 'not on the source' && !asked.includes(t.topic) ? warnings : blockers).push(`topic ${t.topic}: ${t.problem}`);
      if (topics.length === 0)
        warnings.push('no topics known: no client has used the route on this instance yet; name them with --topics or routes[].replication.topics');
      // What a planned switch reads before its fence, read the same way: how long it takes now says
      // how long the fence will hold writes (what moves during the last pass is read after the fence).
      const tracker = new ReplicationTracker(replication.type, src, dst);
      const pre = await readBeforeFence(
        tracker,
        src,
        dst,
        comparablePartitions(cmp),
        replication.groups === null ? null : new RegExp(`^(?:${replication.groups})$`),
        replication.checkpoints === true ? sourceAliases(sourceDomain) : [],
      );
      const { sourceEnds, states, groups } = pre;
      this.lags.note(route.name, observeLag(from, domain.name, states));
      const fenceTimeoutMs = this.config.switchover.fenceTimeoutMs;
      const fence: PreflightReport['fence'] = {
        partitions: states.length,
        groups: groups.length,
        preReadMs: Math.round(pre.ms),
        passes: pre.passes.map((x) => ({ ms: Math.round(x.ms), moved: x.moved })),
        expectedFencedMs: expectedFencedMs(pre),
        fenceTimeoutMs,
      };
      if (replication.type !== 'none' && fence.expectedFencedMs > fenceTimeoutMs - FENCE_RESERVE_MS) {
        warnings.push(
          `a planned switch is expected to hold writes for about ${fence.expectedFencedMs} ms (the last pass over ${states.length} partition(s) before the fence took ${fence.passes[fence.passes.length - 1].ms} ms; after the fence it is repeated for what moved, then group offsets are installed and the fleet flips): that does not fit gateway.switchover.fenceTimeoutMs (${fenceTimeoutMs} ms, of which ${FENCE_RESERVE_MS} ms are kept for the install and the flip); raise it, or switch while fewer partitions are written`,
        );
      }
      const groupReports: PreflightReport['groups'] = [];
      for (const g of groups) {
        let destState = 'unknown';
        try {
          const d = await dst.describeGroup(g.groupId);
          destState = d.members > 0 ? `${d.state} (${d.members} members)` : d.state;
          if (d.members > 0)
            warnings.push(`group ${g.groupId} has ${d.members} active member(s) on "${domain.name}": its offsets cannot be installed until they leave`);
        } catch (err) {
          destState = `unknown: ${(err as Error).message}`;
        }
        const offsets = [...g.offsets]
          .filter(([k]) => sourceEnds.has(k))
          .map(([k, o]): OffsetReport => {
            const end = sourceEnds.get(k)!;
            return { ...offsetReport(tracker.translate(k, o, g.groupId)), behindEnd: end > o ? Number(end - o) : 0 };
          });
        groupReports.push({ groupId: g.groupId, state: g.state, destState, caughtUp: offsets.every((o) => o.behindEnd === 0), offsets });
      }
      // A partition whose records cannot be read cannot be judged: say which, where and why.
      for (const p of states)
        if (p.unreadable !== undefined) blockers.push(`cannot tell whether "${domain.name}" has caught up with ${describeUnreadable(p.key, p.unreadable)}`);
      for (const p of states)
        if (p.mismatch !== undefined)
          blockers.push(`replication is configured as offset-preserving, but ${p.key}: ${p.mismatch}; committed offsets would point at other records`);
      for (const i of tracker.evidence.ignored) warnings.push(`offset syncs ignored: ${i}`);
      const starts = groupReports.flatMap((g) => g.offsets.filter((o) => o.method === 'start' && o.behindEnd !== 0).map((o) => `${g.groupId} ${o.partition}`));
      if (starts.length > 0)
        warnings.push(
          `${starts.length} committed offset(s) have no offset sync or matched record before them and would restart at the destination's log start (${starts.slice(0, 5).join(', ')}${starts.length > 5 ? ', ...' : ''}): those groups re-read what the destination holds`,
        );
      const behind = states.filter((p) => !p.caughtUp && p.unreadable === undefined && p.mismatch === undefined);
      let possibleLoss: string | undefined;
      if (replication.type === 'none') {
        possibleLoss = `no replication is configured: whatever was written to "${from}" and is not on "${domain.name}" stays behind (${states.length} partition(s), ${states.reduce((n, p) => n + Number(p.sourceEnd), 0)} source offsets in total)`;
        warnings.push('no replication: only a hot switch is possible');
      } else if (behind.length > 0) {
        warnings.push(
          `${behind.length} partition(s) are behind right now; a planned switch waits for them within gateway.switchover.fenceTimeoutMs (${this.config.switchover.fenceTimeoutMs} ms)`,
        );
      }
      return {
        route: route.name,
        from,
        to: domain.name,
        replication: replication.type,
        at: new Date().toISOString(),
        topics: cmp.topics,
        partitions: states.map(partitionReport),
        groups: groupReports,
        translation: tracker.evidence,
        fence,
        blockers,
        warnings,
        ...(possibleLoss !== undefined ? { possibleLoss } : {}),
      };
    } finally {
      src.close();
      dst.close();
    }
  }

  /**
   * The zero-loss switch: fence writes on every instance, snapshot the source, wait until
   * replication has copied everything up to the snapshot, install the groups' offsets on the
   * destination, then flip every instance. Any failure before the flip aborts: the fence lifts,
   * held writes go to the source, and nothing is lost.
   */
  private async plannedSwitch(x: {
    req: SwitchRequest;
    route: Route;
    domain: StreamingDomainConfig;
    listener: BootstrapServerConfig;
    switchId: string;
    epoch: number;
    from: string;
    at: string;
    forced: boolean;
    report: SwitchReport;
    phase: (name: string, detail?: string) => void;
    finish: (o: SwitchOutcome, m: string) => Promise<SwitchReport>;
  }): Promise<SwitchReport> {
    const { req, route, domain, listener, switchId, epoch, from, at, forced, report, phase, finish } = x;
    const replication = route.config.replication;
    const sourceDomain = this.domains.get(from)!;
    const srcListener = stateListener(sourceDomain);
    const dstListener = stateListener(domain);
    if (srcListener === null || dstListener === null) {
      return finish(
        'refused',
        `a planned switch reads offsets and groups with Turnout's service credentials, but "${srcListener === null ? from : domain.name}" has no PLAINTEXT listener and no listener with security.sasl credentials`,
      );
    }
    const fenceMs = this.config.switchover.fenceTimeoutMs;
    const timeoutMs = this.config.limits.upstreamConnectTimeoutMs;
    const readLimits = { maxDecompressedBytes: this.config.limits.maxFrameBytes };
    const src = new ClusterAdmin(sourceDomain, srcListener, timeoutMs, readLimits);
    const dst = new ClusterAdmin(domain, dstListener, timeoutMs, readLimits);
    const groupPattern = replication.groups === null ? null : new RegExp(`^(?:${replication.groups})$`);
    let fenceUp = false;
    let fencedAt: number | null = null;
    // Where the switch is, for a report of a switch that ran out of its fence budget.
    let current = 'started';
    let totalPartitions = 0;
    let trackerRef: ReplicationTracker | null = null;
    const step = (name: string, detail?: string) => {
      current = name;
      phase(name, detail);
    };
    const aliases = replication.checkpoints === true ? sourceAliases(sourceDomain) : [];
    let expected: string[] = [this.instanceId];
    const results = new Map<string, InstanceResult>();
    const abort = async (reason: string): Promise<void> => {
      if (!fenceUp) return;
      fenceUp = false;
      if (fencedAt !== null) report.fencedMs = Date.now() - fencedAt;
      if (this.logs.size === 0) {
        this.countHeld(route);
        route.lowerFence();
        this.metrics.fenced.labels(route.name).set(0);
      } else await this.writeAll({ type: 'abort', route: route.name, switchId, epoch, reason, at: new Date().toISOString() }, 'any');
      phase('released', `writes go on to "${from}"`);
    };
    // Where held writes went after an abort: the truth depends on whether the source still answers.
    const released = async (): Promise<string> => {
      const down = await this.probe(srcListener);
      if (down === null) return `writes continue on "${from}"; nothing was lost`;
      return `the source "${from}" does not answer now (${down}): writes through route "${route.name}" fail until it is back or the route is switched with --mode hot (possible loss: ${describeLossWindow(this.lags.get(route.name), route.name, from, domain.name)})`;
    };
    try {
      // 0. A planned switch needs the source (fence, snapshot, group offsets): find out at once.
      const down = await this.probe(srcListener);
      if (down !== null) {
        report.possibleLoss = `with a hot switch: ${describeLossWindow(this.lags.get(route.name), route.name, from, domain.name)}`;
        return await finish('refused', sourceDownMessage(route.name, from, domain.name, down, forced));
      }
      step('source answers', `"${from}" reached`);

      // 1. Before fencing anything: the topics exist on the destination.
      const topics = await this.coveredTopics(route, src, req.topics ?? [], []);
      let cmp = await compareTopics(src, dst, topics);
      report.topics = cmp.topics;
      const blockers = cmp.topics.filter((t) => t.problem !== null && t.problem !== 'not on the source');
      if (blockers.length > 0 && !forced) {
        return await finish(
          'refused',
          `the destination is not ready: ${blockers.map((t) => `${t.topic} ${t.problem}`).join('; ')}. Nothing was fenced; create the topics (or let replication create them), or use --force`,
        );
      }
      step('checked', `${cmp.topics.length} topic(s), ${cmp.partitions.length} partition(s) on "${from}"`);

      // 1b. Before the fence, while writes still flow, everything that can be read now is read:
      // the tails of every partition on both clusters, the groups and their offsets, MirrorMaker's
      // offset syncs and checkpoints. After the fence only what changed since is read again, so
      // the fenced window does not grow with the number of partitions (issue 25).
      const tracker = new ReplicationTracker(replication.type, src, dst);
      trackerRef = tracker;
      totalPartitions = comparablePartitions(cmp).length;
      const pre = await readBeforeFence(tracker, src, dst, comparablePartitions(cmp), groupPattern, aliases);
      step('pre-read', describePreRead(pre));

      // 2. Fence: every instance holds writes and waits until forwarded ones are answered.
      const fenceDeadline = Date.now() + fenceMs;
      fencedAt = Date.now();
      let ackTopics: string[] = [];
      if (this.logs.size === 0) {
        let cluster: UpstreamCluster;
        try {
          cluster = await this.reach(route, domain.name, listener.id);
        } catch (err) {
          return await finish('refused', `cannot reach the destination: ${(err as Error).message}. Nothing was fenced`);
        }
        this.prepared.set(switchId, cluster);
        fenceUp = true;
        const f = await this.fenceLocal(route, switchId, fenceMs);
        results.set(this.instanceId, { instance: this.instanceId, prepared: true, applied: null });
        ackTopics = f.topics;
        step('fenced', `this instance; ${f.held} request(s) held; forwarded writes answered after ${f.waitedMs} ms`);
      } else {
        expected = this.participants(route.name);
        const prepare: PrepareRecord = {
          type: 'prepare',
          route: route.name,
          epoch,
          switchId,
          domain: domain.name,
          listener: listener.id,
          from,
          by: req.by,
          at,
          instances: expected,
          planned: { fenceMs },
        };
        this.noteEpoch(prepare);
        const preparedAcks = this.waitForAcks(switchId, 'prepared', expected, Math.min(this.config.switchover.fleetTimeoutMs, fenceMs));
        fenceUp = true;
        const w = await this.writeAll(prepare, { domain: domain.name });
        if (!this.landed(w, domain.name)) {
          report.stateNotWritten = notWritten(w);
          await abort('prepare not written on the destination');
          return await finish(
            'refused',
            `the switch state topic of the destination "${domain.name}" could not be written (${w.failed.map((f) => `${f.domain}: ${f.error}`).join('; ') || 'no answer'}); the switch was aborted, nothing changed`,
          );
        }
        const acks = await preparedAcks;
        for (const i of expected) results.set(i, { instance: i, prepared: null, applied: null });
        let held = 0;
        let waited = 0;
        for (const [i, a] of acks) {
          results.set(i, { instance: i, prepared: a.ok, applied: null, ...(a.error !== undefined ? { error: a.error } : {}) });
          held += a.fenced?.held ?? 0;
          waited = Math.max(waited, a.fenced?.waitedMs ?? 0);
          ackTopics.push(...(a.fenced?.topics ?? []));
        }
        report.instances = [...results.values()];
        const notReady = [...results.values()].filter((r) => r.prepared !== true);
        if (notReady.length > 0 && !forced) {
          await abort('not every instance fenced');
          const why = notReady.map((r) => `${r.instance}: ${r.prepared === null ? 'no answer in time' : r.error}`).join('; ');
          return await finish('refused', `not every instance could fence and prepare (${why}); the switch was aborted; ${await released()}`);
        }
        step('fenced', `${expected.length} instance(s); ${held} request(s) held; forwarded writes answered after ${waited} ms`);
      }

      // 3. Snapshot the source. Only partitions whose end moved since the pre-read are read again.
      const allTopics = await this.coveredTopics(route, src, req.topics ?? [], ackTopics);
      if (allTopics.length !== cmp.topics.length) {
        cmp = await compareTopics(src, dst, allTopics);
        report.topics = cmp.topics;
      }
      const covered = comparablePartitions(cmp);
      totalPartitions = covered.length;
      const sourceEnds = await src.endOffsets(covered);
      // Committed offsets could change until the fence: read again, one OffsetFetch per coordinator.
      const groupsRead = groupsOn(src, new Set(sourceEnds.keys()), groupPattern);
      groupsRead.catch(() => {});
      const startsRead = tracker.refreshStarts([...sourceEnds.keys()]);
      startsRead.catch(() => {});
      const reserveMs = FENCE_RESERVE_MS;
      const moved = [...sourceEnds].filter(([k, e]) => pre.sourceEnds.get(k) !== e).length;
      step('snapshot', `log end offsets of ${sourceEnds.size} partition(s); ${moved} moved since the pre-read`);

      // 4. Wait for replication.
      let states: PartitionState[] = [];
      let lastReport = 0;
      for (;;) {
        states = await tracker.check(sourceEnds, fenceDeadline - reserveMs);
        this.lags.note(route.name, observeLag(from, domain.name, states));
        // Unreadable records do not become readable by waiting: refuse now (below), unless forced.
        if (!forced && states.some((p) => p.unreadable !== undefined || p.mismatch !== undefined)) break;
        const behind = states.filter((p) => !p.caughtUp && p.unreadable === undefined && p.mismatch === undefined);
        if (behind.length === 0) break;
        if (Date.now() > fenceDeadline - reserveMs) break;
        if (Date.now() - lastReport >= 250) {
          lastReport = Date.now();
          step(
            'catching up',
            `${behind.length} partition(s) behind: ${behind
              .slice(0, 5)
              .map((p) => `${p.key} ${p.waiting !== undefined ? 'open transaction' : p.lag === null ? '>500' : p.lag}`)
              .join(', ')}${behind.length > 5 ? ', ...' : ''}`,
          );
        }
        await sleep(50);
      }
      const groups = await groupsRead;
      report.partitions = states.map(partitionReport);
      const unreadable = states.filter((p) => p.unreadable !== undefined);
      if (unreadable.length > 0 && !forced) {
        await abort('records could not be compared');
        return await finish(
          'refused',
          `cannot tell whether "${domain.name}" has caught up with ${unreadable.length} partition(s) whose records cannot be read: ${unreadable.map((p) => describeUnreadable(p.key, p.unreadable!)).join('; ')}. The switch was aborted; ${await released()}`,
        );
      }
      const mismatched = states.filter((p) => p.mismatch !== undefined);
      if (mismatched.length > 0 && !forced) {
        await abort('offsets are not preserved');
        return await finish(
          'refused',
          `replication is configured as offset-preserving, but offsets on "${domain.name}" do not hold the same records: ${mismatched.map((p) => `${p.key}: ${p.mismatch}`).join('; ')}. Committed offsets would point at other records. The switch was aborted; ${await released()}`,
        );
      }
      const behind = states.filter((p) => !p.caughtUp);
      if (behind.length > 0) {
        const what = behind
          .map((p) =>
            p.unreadable !== undefined
              ? `unreadable ${describeUnreadable(p.key, p.unreadable)}`
              : p.waiting !== undefined
                ? `${p.key} (${p.waiting})`
                : `${p.key} (${p.lag === null ? 'more than 500' : p.lag} records)`,
          )
          .join(', ');
        if (!forced) {
          await abort('replication did not catch up in time');
          return await finish(
            'refused',
            `replication to "${domain.name}" did not catch up within the fence budget of ${fenceMs} ms (gateway.switchover.fenceTimeoutMs): ${what} behind. The switch was aborted; ${await released()}`,
          );
        }
        report.possibleLoss = `forced while replication was behind: ${what} may be missing on "${domain.name}"`;
      }
      step('caught up', `${states.length - behind.length}/${states.length} partition(s) fully on "${domain.name}"`);

      // 5. Translate group offsets (never past a group's true position) and install them on the destination.
      await startsRead;
      report.translation = tracker.evidence;
      const translated = groups.map((g) => {
        const offsets = new Map<PartitionKey, bigint>();
        const gr: GroupReport = { groupId: g.groupId, installed: false, offsets: [] };
        for (const [k, o] of g.offsets) {
          if (!sourceEnds.has(k)) continue;
          const t = tracker.translate(k, o, g.groupId);
          offsets.set(k, t.dest);
          gr.offsets.push(offsetReport(t));
        }
        return { gr, offsets };
      });
      const ev = tracker.evidence;
      step(
        'offsets translated',
        `${summarizeTranslations(translated.map((x) => x.gr)) || 'no group offsets'}; ${ev.offsetSyncs.length} offset-sync topic(s) read in ${ev.readMs ?? 0} ms${ev.offsetSyncs.length > 0 ? ` (${ev.offsetSyncs.map((x) => `${x.topic} on ${x.domain}, ${x.syncs} syncs`).join('; ')})` : ''}${ev.checkpoints.length > 0 ? `, checkpoints ${ev.checkpoints.map((x) => `${x.topic}: ${x.kept}`).join(', ')}` : ''}${ev.ignored.length > 0 ? `; ignored ${ev.ignored.join('; ')}` : ''}`,
      );
      // One OffsetCommit per group, a bounded number at a time (coordinators were found before the fence).
      report.groups = await mapLimit(translated, COMMITS_IN_FLIGHT, async ({ gr, offsets }): Promise<GroupReport> => {
        const g = { groupId: gr.groupId };
        try {
          // A group with live members on the destination refuses a commit without a generation.
          const refused = await dst.commitOffsets(g.groupId, offsets);
          if (refused.size > 0)
            throw new ClusterAdminError(
              `the destination refused: ${[...refused].map(([k, e]) => `${k}: ${e}`).join(', ')}${[...refused.values()].some((e) => e.startsWith('UNKNOWN_MEMBER_ID') || e.startsWith('ILLEGAL_GENERATION') || e.startsWith('REBALANCE_IN_PROGRESS')) ? ' (the group has active members there)' : ''}`,
            );
          gr.installed = true;
        } catch (err) {
          gr.error = (err as Error).message;
        }
        return gr;
      });
      const failedGroups = report.groups.filter((g) => !g.installed);
      step(
        'offsets installed',
        `${report.groups.length - failedGroups.length}/${report.groups.length} group(s)${failedGroups.length > 0 ? `; not installed: ${failedGroups.map((g) => `${g.groupId} (${g.error})`).join('; ')}` : ''}`,
      );
      if (Date.now() > fenceDeadline && !forced) {
        await abort('fence budget exhausted');
        return await finish(
          'refused',
          `${outOfBudget(fenceMs, current, tracker, totalPartitions, null)} The fence budget ran out before the flip; the switch was aborted; ${await released()}`,
        );
      }

      // 6. Flip every instance; held writes are sent again by their clients, to the destination.
      const commit: RouteStateRecord = {
        type: 'route',
        route: route.name,
        epoch,
        domain: domain.name,
        listener: listener.id,
        switchId,
        from,
        by: req.by,
        at,
        anchors: tracker.anchors(),
        replication: replication.type,
      };
      report.heldCommits = route.connections().reduce((n, c) => n + c.heldOffsetCommits().length, 0);
      if (this.logs.size === 0) {
        const cluster = this.prepared.get(switchId) ?? null;
        this.prepared.delete(switchId);
        this.handledCommits.add(switchId);
        const error = await this.applyCommit(route, commit, cluster);
        fenceUp = false;
        report.fencedMs = Date.now() - fencedAt;
        results.set(this.instanceId, { instance: this.instanceId, prepared: true, applied: error === undefined, ...(error !== undefined ? { error } : {}) });
      } else {
        const appliedAcks = this.waitForAcks(switchId, 'applied', expected, this.config.switchover.fleetTimeoutMs);
        const w2 = await this.writeAll(commit, { domain: domain.name });
        report.stateWritten = w2.written;
        report.stateNotWritten = notWritten(w2);
        if (!this.landed(w2, domain.name)) {
          await abort('commit not written');
          return await finish(
            'failed',
            `the commit could not be written to the destination's state topic (${w2.failed.map((f) => `${f.domain}: ${f.error}`).join('; ') || 'no answer'}); the switch was aborted, nothing changed`,
          );
        }
        fenceUp = false;
        if (!this.handledCommits.has(switchId)) this.onRecord(commit);
        const applied = await appliedAcks;
        // Writes are held until every instance has flipped (or its acknowledgement timed out).
        report.fencedMs = Date.now() - fencedAt;
        const w2s = await w2.settled(REPORT_WRITES_GRACE_MS);
        recordApplied(report, results, w2s, applied);
      }
      report.instances = [...results.values()];
      const missing = report.instances.filter((r) => r.applied !== true).map((r) => r.instance);
      step(
        'flipped',
        `${report.instances.length - missing.length}/${report.instances.length} instance(s) on "${domain.name}"; held requests are resent there by their clients`,
      );
      const msg =
        `switched "${route.name}" from "${from}" to "${domain.name}" (planned, epoch ${epoch})${forced ? ' (forced)' : ''}: ${states.length} partition(s) caught up, ${report.groups.length - failedGroups.length} group(s) moved` +
        (missing.length > 0 ? `; ${missing.join(', ')} did not confirm in time and apply it when they read the state` : '') +
        partialStateNote({ failed: report.stateNotWritten, pending: [] });
      return await finish('switched', msg);
    } catch (err) {
      const wasFenced = fenceUp;
      // Out of time while fenced: say so, where, and how far it got, not what the last request met.
      const outOfTime = wasFenced && fencedAt !== null && (err instanceof ReadDeadlineError || Date.now() > fencedAt + fenceMs);
      await abort(`error: ${(err as Error).message}`).catch(() => {});
      if (outOfTime) {
        return await finish('refused', `${outOfBudget(fenceMs, current, trackerRef, totalPartitions, err)} The switch was aborted; ${await released()}`);
      }
      return await finish(wasFenced ? 'failed' : 'refused', `planned switch stopped: ${(err as Error).message}. ${await released()}`);
    } finally {
      src.close();
      dst.close();
    }
  }

  /** Topics a planned switch covers: seen through the route here and on other instances, asked for, and matching replication.topics. */
  private async coveredTopics(route: Route, src: ClusterAdmin, asked: string[], fromAcks: string[]): Promise<string[]> {
    const out = new Set<string>([...route.topicsSeen, ...asked, ...fromAcks]);
    const pattern = route.config.replication.topics;
    if (pattern !== null) {
      const re = new RegExp(`^(?:${pattern})$`);
      for (const t of (await src.topics(null)).values()) if (!t.internal && re.test(t.name)) out.add(t.name);
    }
    return [...out].filter(isUserTopic).sort();
  }

  private async audit(report: SwitchReport): Promise<void> {
    const entry: AuditRecord = {
      type: 'audit',
      switchId: report.switchId,
      route: report.route,
      epoch: report.epoch,
      from: report.from,
      to: report.to,
      listener: report.listener,
      by: report.by,
      at: report.at,
      durationMs: report.durationMs,
      outcome: report.outcome,
      forced: report.forced,
      message: report.message,
      instances: report.instances,
      mode: report.mode,
      phases: report.phases,
      ...(report.groups !== undefined
        ? {
            groups: report.groups.map((g) => ({
              groupId: g.groupId,
              installed: g.installed,
              ...(g.error !== undefined ? { error: g.error } : {}),
              offsets: g.offsets.map((o): [string, string, string, string, string | null] => [o.partition, o.source, o.dest, o.method, o.reReadBound]),
            })),
          }
        : {}),
    };
    await this.writeAudit(entry, report.outcome, report.durationMs);
  }

  /** Metrics, log, audit file, and the state topics (any one domain must take it; the others are retried). */
  private async writeAudit(entry: AuditRecord, outcome: SwitchOutcome, durationMs: number): Promise<void> {
    this.metrics.switches.labels(entry.route, outcome).inc();
    this.metrics.switchDuration.labels(entry.route, outcome).observe(durationMs / 1000);
    this.log.info({ audit: entry }, `switch ${outcome}: ${entry.message}`);
    if (this.config.audit.file !== null) {
      try {
        await appendFile(this.config.audit.file, `${JSON.stringify(entry)}\n`);
      } catch (err) {
        this.log.error({ file: this.config.audit.file, err: (err as Error).message }, 'cannot append to the audit file (gateway.audit.file)');
      }
    }
    if (this.logs.size > 0) await this.writeAll(entry, 'any');
  }
}

/** What preflight and a planned switch say when the source does not answer. Never that nothing was lost: that is not known. */
function sourceDownMessage(route: string, from: string, to: string, why: string, forced: boolean): string {
  return `the source "${from}" does not answer (${why}). A planned switch needs it to fence writes, take the cut and move group offsets, so it cannot run${forced ? ', forced or not' : ''}; nothing was changed on the gateway. Clients of route "${route}" cannot use "${from}" until it is back. To move them to "${to}" now, use a hot switch (--mode hot): records "${from}" acknowledged that replication had not copied are left behind (see possible loss)`;
}

interface WriteResult {
  written: string[];
  failed: { domain: string; error: string }[];
  /** Domains that have not answered yet: their queue keeps trying in the background. */
  pending: string[];
  /** The same, after waiting up to `ms` more for the domains that had not answered. */
  settled: (ms: number) => Promise<WriteResult>;
}

/** How long a switch's report waits for the state writes it did not need before it says where the outcome is recorded. */
const REPORT_WRITES_GRACE_MS = 500;

/** Domains a write did not reach (yet): failed ones, and those still retried in the background. */
/** After a commit: where its state landed, and which instances confirmed applying it. */
function recordApplied(
  report: SwitchReport,
  results: Map<string, InstanceResult>,
  writes: { written: string[]; failed: { domain: string; error: string }[]; pending: string[] },
  applied: Map<string, { ok: boolean; error?: string }>,
): void {
  report.stateWritten = writes.written;
  report.stateNotWritten = notWritten(writes);
  for (const [i, a] of applied) {
    const r = results.get(i) ?? { instance: i, prepared: null, applied: null };
    r.applied = a.ok;
    if (a.error !== undefined) r.error = a.error;
    results.set(i, r);
  }
}

function notWritten(w: { failed: { domain: string; error: string }[]; pending: string[] }): { domain: string; error: string }[] {
  return [
    ...w.failed,
    ...w.pending.filter((d) => !w.failed.some((f) => f.domain === d)).map((domain) => ({ domain, error: `no answer within ${REPORT_WRITES_GRACE_MS} ms` })),
  ];
}

function partialStateNote(w: { failed: { domain: string; error: string }[]; pending: string[] }): string {
  const missing = notWritten(w);
  if (missing.length === 0) return '';
  return ` Not yet recorded in the switch state of ${missing.map((f) => `"${f.domain}" (${f.error})`).join(', ')}: written in the background as soon as it answers; instances read the new epoch from the destination meanwhile.`;
}

/** Waits for every promise, or for `graceMs` after the first one resolves true, whichever comes first. */
async function settleWithGrace(promises: Promise<boolean>[], graceMs: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const grace = Promise.any(promises.map((p) => p.then((ok) => (ok ? undefined : Promise.reject(new Error('not read')))))).then(
    () =>
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    () => new Promise<void>(() => {}),
  );
  await Promise.race([Promise.allSettled(promises), grace]);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The signer of this instance's state records. Without a key nothing is signed or checked, and
 * anyone who can write the state topic on a cluster can switch the fleet's routes: said once at
 * start, as a warning.
 */
function stateSigner(state: NonNullable<GatewayConfig['state']>, log: Logger): StateSigner {
  const signer = new StateSigner(state.topic, state.signing ?? { key: null, previousKeys: [], acceptUnsigned: true });
  if (!signer.enabled) {
    log.warn(
      { stateTopic: state.topic },
      `state records are not signed (gateway.state.key is not set): whoever can write "${state.topic}" on a cluster can switch this fleet's routes; set a fleet key and restrict the topic with ACLs (README: "Protecting the switch state")`,
    );
  } else {
    log.info(
      { stateTopic: state.topic, keyId: signer.signingKeyId, acceptUnsigned: state.signing?.acceptUnsigned ?? false },
      'state records are signed and checked with the fleet key',
    );
  }
  return signer;
}
