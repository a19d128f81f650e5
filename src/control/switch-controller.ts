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
import type { BootstrapServerConfig, GatewayConfig, StreamingDomainConfig } from '../config/types.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Route } from '../routing/route.ts';
import type { UpstreamCluster } from '../routing/upstream-cluster.ts';
import { TurnoutError } from '../errors.ts';
import { StateLog } from './state-log.ts';
import { KafkaConnection } from '../upstream/kafka-connection.ts';
import { ApiKey } from '../protocol/index.ts';
import type { FindCoordinatorResponse } from '../protocol/generated/messages/find-coordinator-response.ts';
import {
  decodeRecord, encodeRecord, latestRouteStates, liveInstances,
  type AckRecord, type AuditRecord, type HeartbeatRecord, type InstanceResult, type PrepareRecord, type RouteStateRecord, type StateRecord, type SwitchOutcome,
} from './records.ts';

export interface SwitchRequest {
  route: string;
  to: string;
  /** Listener of the destination; defaults to one with the route's current listener id, else the first. */
  bootstrapServerId?: string;
  /** Switch even if some instance did not prepare, or the destination is not reachable. */
  force?: boolean;
  /** Who asked (audit). */
  by: string;
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
const POLL_WAIT_MS = 500;

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

  private addStateLog(d: StreamingDomainConfig): void {
    if (this.config.state === null || this.logs.has(d.name)) return;
    const listener = stateListener(d);
    if (listener === null) {
      this.log.warn({ domain: d.name }, `no switch state on streaming domain "${d.name}": none of its listeners is PLAINTEXT or has service credentials (security.sasl)`);
      return;
    }
    const opts = { domain: d, listener, topic: this.config.state.topic, log: this.log, timeoutMs: this.config.limits.upstreamConnectTimeoutMs };
    this.logs.set(d.name, new StateLog(opts));
    this.readers.set(d.name, new StateLog(opts));
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
   * Reads the committed state from every reachable domain and points the routes at it, then
   * follows the topics. Call before the listeners open. Unreachable domains are retried in the
   * background; a newer epoch found later is applied then.
   */
  async start(): Promise<void> {
    this.running = true;
    if (this.logs.size === 0) return;
    const results = await Promise.all([...this.readers].map(async ([domain, log]) => {
      try {
        await log.ensureTopic();
        const records = await log.readAll();
        return { domain, records, error: null };
      } catch (err) {
        return { domain, records: [], error: (err as Error).message };
      }
    }));
    const all: StateRecord[] = [];
    for (const r of results) {
      if (r.error !== null) this.log.warn({ domain: r.domain, err: r.error }, 'switch state not readable at start; will keep trying');
      for (const rec of r.records) {
        const s = decodeRecord(rec.value);
        if (s === null) continue;
        all.push(s);
        this.noteEpoch(s);
        if (s.type === 'instance') this.noteHeartbeat(s);
      }
    }
    for (const [name, state] of latestRouteStates(all)) {
      const route = this.routes.get(name);
      if (route === undefined || state.epoch <= route.epoch) continue;
      this.handledCommits.add(state.switchId);
      this.applyState(route, state, null, 'restored at start');
    }
    for (const r of results) {
      const log = this.readers.get(r.domain)!;
      const from = r.records.length > 0 ? r.records[r.records.length - 1].offset + 1n : 0n;
      void this.tail(r.domain, log, r.error === null ? from : 0n);
    }
    void this.heartbeat(); // not awaited: a domain that is down must not hold up the listeners
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_INTERVAL_MS);
    this.heartbeatTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    for (const c of this.prepared.values()) c.stop();
    this.prepared.clear();
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
        next = batch.nextOffset;
        for (const rec of batch.records) {
          const s = decodeRecord(rec.value);
          if (s !== null) this.onRecord(s);
        }
      } catch (err) {
        if (!this.running) return; // stopped: the log was closed under the read
        if (!failing) this.log.warn({ domain, err: (err as Error).message }, 'cannot read switch state; retrying');
        failing = true;
        await sleep(1000);
      }
    }
  }

  private noteEpoch(r: StateRecord): void {
    if (r.type !== 'route' && r.type !== 'prepare') return;
    if (r.epoch > (this.epochsSeen.get(r.route) ?? 0)) this.epochsSeen.set(r.route, r.epoch);
  }

  private noteHeartbeat(h: HeartbeatRecord): void {
    const known = this.heartbeats.get(h.instance);
    if (known === undefined || Date.parse(h.at) >= Date.parse(known.at)) this.heartbeats.set(h.instance, h);
  }

  private onRecord(r: StateRecord): void {
    this.noteEpoch(r);
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
        let error: string | undefined;
        try {
          this.applyState(route, r, cluster, 'switch committed');
        } catch (err) {
          error = (err as Error).message;
          this.log.error({ route: r.route, err: error }, 'cannot apply committed switch');
        }
        void this.writeAll(this.ack(r, 'applied', error));
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
      await this.writeAll(this.ack(p, 'prepared', `this instance is already on epoch ${route.epoch}`));
      return;
    }
    let error: string | undefined;
    try {
      const cluster = await this.reach(route, p.domain, p.listener);
      if (this.endedSwitches.has(p.switchId)) cluster.stop(); // read with its commit or abort while reaching
      else this.prepared.set(p.switchId, cluster);
    } catch (err) {
      error = (err as Error).message;
    }
    await this.writeAll(this.ack(p, 'prepared', error));
  }

  private ack(r: { route: string; switchId: string; epoch: number }, phase: AckRecord['phase'], error: string | undefined): AckRecord {
    return { type: 'ack', route: r.route, switchId: r.switchId, epoch: r.epoch, instance: this.instanceId, phase, ok: error === undefined, ...(error !== undefined ? { error } : {}), at: new Date().toISOString() };
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
        switchId, phase, expected: new Set(expected), acks,
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
    await this.writeAll(h);
  }

  /** Writes a record to every domain's state topic; says where it landed and where not. */
  private async writeAll(r: StateRecord): Promise<{ written: string[]; failed: { domain: string; error: string }[] }> {
    const rec = encodeRecord(r);
    const written: string[] = [];
    const failed: { domain: string; error: string }[] = [];
    await Promise.all([...this.logs].map(async ([domain, log]) => {
      try {
        await log.append([rec]);
        written.push(domain);
      } catch (err) {
        failed.push({ domain, error: (err as Error).message });
      }
    }));
    return { written: written.sort(), failed };
  }

  // ---- switching --------------------------------------------------------------------------

  /** The fleet's instances as this one sees them. */
  fleet(): FleetInstance[] {
    const now = Date.now();
    const live = new Set(liveInstances(this.heartbeats.values(), now, LIVE_WINDOW_MS));
    return [...this.heartbeats.values()]
      .map((h) => ({ instance: h.instance, self: h.instance === this.instanceId, live: live.has(h.instance), lastSeen: h.at, admin: h.admin, routes: h.routes }))
      .sort((a, b) => a.instance.localeCompare(b.instance));
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
          if (Date.now() > deadline) throw new Error(`FindCoordinator (${keyType === 0 ? 'group' : 'transaction'}) answered error ${error}`);
          await sleep(200);
        }
      }
    } catch (err) {
      this.log.warn({ domain: cluster.domain.name, err: (err as Error).message }, 'could not confirm the destination\'s group and transaction coordinators; clients may wait for them after the switch');
    } finally {
      conn?.close();
    }
  }

  private applyState(route: Route, s: RouteStateRecord, prepared: UpstreamCluster | null, why: string): void {
    const domain = this.domains.get(s.domain);
    if (domain === undefined) throw new TurnoutError('TURNOUT_UNKNOWN_DOMAIN', `route "${route.name}" is on streaming domain "${s.domain}" (epoch ${s.epoch}), which this instance's config does not have`);
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
    if (domain === undefined) throw new TurnoutError('TURNOUT_UNKNOWN_DOMAIN', `no streaming domain "${req.to}" (streaming domains: ${[...this.domains.keys()].join(', ')})`);
    const servers = domain.kafkaCluster.bootstrapServers;
    const listener = req.bootstrapServerId !== undefined
      ? servers.find((s) => s.id === req.bootstrapServerId)
      : (servers.find((s) => s.id === route.listenerId) ?? servers.find((s) => (s.security.protocol === 'PLAINTEXT') === (route.config.authentication.type === 'none')) ?? servers[0]);
    if (listener === undefined) throw new TurnoutError('TURNOUT_UNKNOWN_LISTENER', `streaming domain "${req.to}" has no bootstrap server "${req.bootstrapServerId}" (it has: ${servers.map((s) => s.id).join(', ')})`);
    const sasl = listener.security.protocol !== 'PLAINTEXT';
    const auth = route.config.authentication.type;
    if (auth === 'passthrough' && !sasl) throw new TurnoutError('TURNOUT_INCOMPATIBLE_LISTENER', `route "${route.name}" relays client SASL (authentication passthrough), but listener "${listener.id}" of "${req.to}" is PLAINTEXT; pick a SASL listener with --bootstrap-server-id`);
    if (auth === 'none' && sasl) throw new TurnoutError('TURNOUT_INCOMPATIBLE_LISTENER', `route "${route.name}" has no client authentication, but listener "${listener.id}" of "${req.to}" requires SASL; pick a PLAINTEXT listener with --bootstrap-server-id`);
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
    const report: SwitchReport = {
      switchId, route: route.name, outcome: 'failed', forced, from, to: domain.name, listener: listener.id, epoch, by: req.by, at,
      durationMs: 0, message: '', instances: [], stateWritten: [], stateNotWritten: [],
    };
    const finish = async (outcome: SwitchOutcome, message: string): Promise<SwitchReport> => {
      report.outcome = outcome;
      report.message = message;
      report.durationMs = Math.round(performance.now() - started);
      if (outcome !== 'unchanged') await this.audit(report);
      else this.metrics.switches.labels(report.route, outcome).inc();
      return report;
    };

    if (from === domain.name && route.listenerId === listener.id && !forced) {
      report.epoch = route.epoch;
      return finish('unchanged', `route "${route.name}" already points at "${domain.name}" (listener "${listener.id}", epoch ${route.epoch})`);
    }

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
      this.applyState(route, { type: 'route', route: route.name, epoch, domain: domain.name, listener: listener.id, switchId, from, by: req.by, at }, cluster, 'switched (this instance only: gateway.state is disabled)');
      report.instances = [{ instance: this.instanceId, prepared: cluster !== null, applied: true }];
      return finish('switched', `switched "${route.name}" from "${from}" to "${domain.name}" on this instance (gateway.state is disabled, so other instances are not told)`);
    }

    const expected = [...new Set([this.instanceId, ...liveInstances(this.heartbeats.values(), Date.now(), LIVE_WINDOW_MS)])].sort();
    const prepare: PrepareRecord = { type: 'prepare', route: route.name, epoch, switchId, domain: domain.name, listener: listener.id, from, by: req.by, at, instances: expected };
    this.noteEpoch(prepare);
    const timeout = this.config.switchover.fleetTimeoutMs;
    const preparedAcks = this.waitForAcks(switchId, 'prepared', expected, timeout);
    const w1 = await this.writeAll(prepare);
    if (w1.written.length === 0) {
      report.stateNotWritten = w1.failed;
      report.instances = expected.map((i) => ({ instance: i, prepared: null, applied: null }));
      return finish('refused', `no streaming domain's state topic could be written (${w1.failed.map((f) => `${f.domain}: ${f.error}`).join('; ')}); nothing changed`);
    }
    const acks = await preparedAcks;
    const results = new Map<string, InstanceResult>(expected.map((i) => [i, { instance: i, prepared: null, applied: null }]));
    for (const [i, a] of acks) results.set(i, { instance: i, prepared: a.ok, applied: null, ...(a.error !== undefined ? { error: a.error } : {}) });
    const notReady = [...results.values()].filter((r) => r.prepared !== true);
    if (notReady.length > 0 && !forced) {
      await this.writeAll({ type: 'abort', route: route.name, switchId, epoch, reason: 'not every instance prepared', at: new Date().toISOString() });
      report.instances = [...results.values()];
      const why = notReady.map((r) => `${r.instance}: ${r.prepared === null ? `no answer within ${timeout} ms` : r.error}`).join('; ');
      return finish('refused', `not every instance could prepare (${why}); nothing changed. Fix that, or use --force to switch the instances that can`);
    }

    const commit: RouteStateRecord = { type: 'route', route: route.name, epoch, domain: domain.name, listener: listener.id, switchId, from, by: req.by, at };
    const appliedAcks = this.waitForAcks(switchId, 'applied', expected, timeout);
    const w2 = await this.writeAll(commit);
    report.stateWritten = w2.written;
    report.stateNotWritten = w2.failed;
    if (w2.written.length === 0) {
      await this.writeAll({ type: 'abort', route: route.name, switchId, epoch, reason: 'commit not written', at: new Date().toISOString() });
      report.instances = [...results.values()];
      return finish('failed', `the commit could not be written to any state topic (${w2.failed.map((f) => `${f.domain}: ${f.error}`).join('; ')}); nothing changed`);
    }
    // This instance applies as soon as the commit is durable, without waiting to read it back.
    if (!this.handledCommits.has(switchId)) this.onRecord(commit);
    const applied = await appliedAcks;
    for (const [i, a] of applied) {
      const r = results.get(i) ?? { instance: i, prepared: null, applied: null };
      r.applied = a.ok;
      if (a.error !== undefined) r.error = a.error;
      results.set(i, r);
    }
    report.instances = [...results.values()];
    const missing = report.instances.filter((r) => r.applied !== true).map((r) => r.instance);
    const partialState = w2.failed.length > 0 ? ` The state topic of ${w2.failed.map((f) => `"${f.domain}"`).join(', ')} could not be written (${w2.failed.map((f) => f.error).join('; ')}); instances catch up from the others.` : '';
    const message = missing.length === 0
      ? `switched "${route.name}" from "${from}" to "${domain.name}" on ${expected.length} instance${expected.length === 1 ? '' : 's'} (epoch ${epoch})${forced ? ' (forced)' : ''}.${partialState}`
      : `switched "${route.name}" to "${domain.name}" (epoch ${epoch})${forced ? ' (forced)' : ''}, but ${missing.join(', ')} did not confirm within ${timeout} ms; they apply it when they read the state.${partialState}`;
    return finish('switched', message);
  }

  private async audit(report: SwitchReport): Promise<void> {
    const entry: AuditRecord = {
      type: 'audit', switchId: report.switchId, route: report.route, epoch: report.epoch, from: report.from, to: report.to, listener: report.listener, by: report.by,
      at: report.at, durationMs: report.durationMs, outcome: report.outcome, forced: report.forced, message: report.message, instances: report.instances,
    };
    this.metrics.switches.labels(report.route, report.outcome).inc();
    this.metrics.switchDuration.labels(report.route, report.outcome).observe(report.durationMs / 1000);
    this.log.info({ audit: entry }, `switch ${report.outcome}: ${report.message}`);
    if (this.config.audit.file !== null) {
      try {
        await appendFile(this.config.audit.file, `${JSON.stringify(entry)}\n`);
      } catch (err) {
        this.log.error({ file: this.config.audit.file, err: (err as Error).message }, 'cannot append to the audit file (gateway.audit.file)');
      }
    }
    if (this.logs.size > 0) await this.writeAll(entry);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
