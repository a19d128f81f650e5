// The gateway process: routes with their listeners, the admin listener, and orderly shutdown.
// Composition root: this is where the data path, control plane and edges are wired together.

import { AdminServer, type RouteStatus } from './admin/server.ts';
import { formatHostPort } from './config/endpoints.ts';
import { DEFAULTS } from './config/normalize.ts';
import type { BootstrapServerConfig, GatewayConfig, HostPort, StreamingDomainConfig } from './config/types.ts';
import { ClusterAdmin } from './control/cluster-admin.ts';
import { SwitchController, type SwitchReport, type SwitchRequest } from './control/switch-controller.ts';
import { TurnoutError } from './errors.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import type { ConnectionLimits, ProxyConnection } from './proxy/connection.ts';
import { builtInFilterChain } from './proxy/filters/index.ts';
import { ConnectionAdmission, MemoryBudget, WarningAggregator } from './proxy/limits.ts';
import { RouteListeners } from './proxy/listener.ts';
import { Route } from './routing/route.ts';

/** How often buffered bytes are re-counted while connections wait for the process's budget. */
const BUDGET_RECOUNT_MS = 50;

/** How long the data path waits for a cluster to say where an idempotent producer stands. */
const PRODUCER_LOOKUP_TIMEOUT_MS = 1_000;

export interface GatewayOptions {
  log?: Logger;
  metrics?: GatewayMetrics;
  /** Sees every byte sent to clients; for tests. */
  tapClientBytes?: (route: string, bytes: Uint8Array) => void;
  /**
   * The admin address this instance's heartbeats name in the fleet, when the admin listener is
   * not this gateway's own (a worker process: the primary process serves it; src/cluster).
   */
  adminAddress?: string;
  /** How long repeated client warnings are summed up before one summary line per reason (default 10 s; tests shorten it). */
  warningWindowMs?: number;
}

export interface ReloadOptions {
  /**
   * false: only take the file's new streaming domains, do not switch routes. The other workers of
   * a `turnout start` do this while one of them switches; they follow through the fleet protocol.
   */
  switchRoutes?: boolean;
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly routes: Route[] = [];
  private readonly listeners: RouteListeners[] = [];
  private admin: AdminServer | null = null;
  private stopping: Promise<void> | null = null;
  private readonly tapClientBytes: GatewayOptions['tapClientBytes'];
  private readonly advertisedAdmin: string | undefined;
  private controller: SwitchController | null = null;
  /** Service connections for the data path's lookups of producers' sequence numbers, per cluster listener. */
  private readonly producerAdmins = new Map<BootstrapServerConfig, ClusterAdmin>();
  /** True once every route's listeners are open (readiness waits for it). */
  private serving = false;
  /** The route config as last loaded, to tell which routes a reload changed. */
  private loaded: GatewayConfig;
  /** Warnings clients can cause over and over, logged once per reason and window. */
  private readonly warnings: WarningAggregator;

  constructor(config: GatewayConfig, options: GatewayOptions = {}) {
    this.config = config;
    this.log = options.log ?? createLogger(config.log.level);
    this.metrics = options.metrics ?? new GatewayMetrics();
    this.tapClientBytes = options.tapClientBytes;
    this.advertisedAdmin = options.adminAddress;
    this.loaded = config;
    this.warnings = new WarningAggregator(this.log, options.warningWindowMs);
  }

  get switches(): SwitchController {
    if (this.controller === null) throw new TurnoutError('TURNOUT_INTERNAL', 'the gateway is not started');
    return this.controller;
  }

  get adminAddress(): HostPort | null {
    return this.admin?.address ?? null;
  }

  async start(): Promise<void> {
    const chain = builtInFilterChain();
    const l = this.config.limits;
    const budget = new MemoryBudget(l.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes);
    this.metrics.watchBudget(budget);
    // While connections wait for the budget, re-count everyone's bytes often: sockets that flush
    // their queued writes say nothing, and without this the waiters would wait for the next read.
    let recount: NodeJS.Timeout | null = null;
    budget.onWaiting = (waiting) => {
      if (waiting && recount === null) {
        recount = setInterval(() => {
          for (const l of this.listeners) for (const c of l.connections) c.account();
        }, BUDGET_RECOUNT_MS);
        recount.unref();
      } else if (!waiting && recount !== null) {
        clearInterval(recount);
        recount = null;
      }
    };
    const limits: ConnectionLimits = {
      maxFrameBytes: l.maxFrameBytes,
      maxBufferedBytes: l.maxBufferedBytesPerConnection,
      upstreamConnectTimeoutMs: l.upstreamConnectTimeoutMs,
      switchDrainTimeoutMs: this.config.switchover.drainTimeoutMs,
      tapClientBytes: this.tapClientBytes,
      maxUnauthenticatedFrameBytes: l.maxUnauthenticatedFrameBytes ?? DEFAULTS.maxUnauthenticatedFrameBytes,
      authenticationTimeoutMs: l.authenticationTimeoutMs ?? DEFAULTS.authenticationTimeoutMs,
      connectionsMaxIdleMs: l.connectionsMaxIdleMs ?? DEFAULTS.connectionsMaxIdleMs,
      budget,
      warnings: this.warnings,
    };
    const admission = new ConnectionAdmission({
      maxConnections: l.maxConnections ?? DEFAULTS.maxConnections,
      maxConnectionsPerAddress: l.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress,
    });
    try {
      for (const rc of this.config.routes) {
        const domain = this.config.streamingDomains.find((d) => d.name === rc.streamingDomain.name)!;
        const route = new Route(rc, domain, this.log, this.metrics.forRoute(rc.name), limits.upstreamConnectTimeoutMs);
        if (this.config.state !== null) route.gatewayTopics.add(this.config.state.topic);
        if (this.config.switchover.topicIdleMs !== undefined) route.topicUsage.idleMs = this.config.switchover.topicIdleMs;
        route.producerLookup = (d, listener, producerId, partitions) => this.producerStates(d, listener, producerId, partitions);
        this.metrics.setActiveDomain(
          rc.name,
          domain.name,
          this.config.streamingDomains.map((d) => d.name),
        );
        this.metrics.routeEpoch.labels(rc.name).set(0);
        this.routes.push(route);
      }
      if (this.config.admin !== null) {
        this.admin = new AdminServer(
          {
            routes: () => this.routeStatus(),
            metrics: this.metrics,
            fleet: () => this.controller?.fleet() ?? [],
            instance: () => this.config.instanceId,
            switchRoute: (req) => this.switchRoute(req),
            preflight: (route, to, topics) => this.switches.preflight(route, to, topics),
            token: this.config.adminToken,
          },
          this.log,
        );
        const at = await this.admin.listen(this.config.admin);
        this.log.info({ admin: formatHostPort(at) }, 'admin listening');
      }
      // The committed switch state comes before the listeners: no client lands on a stale cluster.
      this.controller = new SwitchController(this.config, this.routes, this.log, this.metrics);
      if (this.admin?.address) this.controller.adminAddress = formatHostPort(this.admin.address);
      else if (this.advertisedAdmin !== undefined) this.controller.adminAddress = this.advertisedAdmin;
      await this.controller.start();
      for (const route of this.routes) {
        const rc = route.config;
        const listeners = new RouteListeners(route, chain, limits, admission);
        await listeners.listen();
        this.listeners.push(listeners);
        route.start();
        this.log.info(
          {
            route: rc.name,
            endpoint: formatHostPort(rc.endpoint),
            brokerPorts: `${rc.brokerPorts.base}-${rc.brokerPorts.base + rc.brokerPorts.count - 1}`,
            domain: route.domainName,
            listener: route.listenerId,
            epoch: route.epoch,
          },
          'route listening',
        );
      }
      this.serving = true;
    } catch (err) {
      await this.stop(0);
      throw err;
    }
    const readiness = setInterval(() => {
      for (const r of this.routes) r.metrics.ready.set(r.ready ? 1 : 0);
    }, 1000);
    readiness.unref();
  }

  /**
   * Where an idempotent producer stands on a cluster's partitions (proxy/sequence-gate.ts), asked
   * with the streaming domain's service credentials; a lookup gives up after 1 s, and at once on a
   * cluster that refuses connections (it may be the one a disaster switch left).
   */
  private async producerStates(domain: StreamingDomainConfig, listener: BootstrapServerConfig, producerId: bigint, partitions: readonly string[]) {
    let admin = this.producerAdmins.get(listener);
    if (admin === undefined) {
      admin = new ClusterAdmin(domain, listener, PRODUCER_LOOKUP_TIMEOUT_MS);
      this.producerAdmins.set(listener, admin);
    }
    return admin.producerStates(producerId, partitions, PRODUCER_LOOKUP_TIMEOUT_MS);
  }

  /** Switches a route fleet-wide (see SwitchController). */
  switchRoute(req: SwitchRequest): Promise<SwitchReport> {
    return this.switches.switchRoute(req);
  }

  /**
   * Applies a reloaded config file (SIGHUP, file watch): a route whose streamingDomain changed
   * in the file is switched there, exactly like `turnout switch`. Other changes need a restart
   * and are reported as such.
   */
  async reload(next: GatewayConfig, by = 'config-reload', options: ReloadOptions = {}): Promise<SwitchReport[]> {
    const previous = this.loaded;
    this.switches.updateDomains(next.streamingDomains);
    if (options.switchRoutes === false) {
      this.loaded = next;
      return [];
    }
    // Routes whose switch did not happen keep their previous config, so that the same file
    // reloaded again tries again.
    const notApplied = new Set<string>();
    const reports: SwitchReport[] = [];
    for (const rc of next.routes) {
      const before = previous.routes.find((r) => r.name === rc.name);
      if (before === undefined) {
        this.log.warn({ route: rc.name }, 'config reload: new routes need a restart; ignored');
        continue;
      }
      const a = before.streamingDomain;
      const b = rc.streamingDomain;
      if (a.name === b.name && a.bootstrapServerId === b.bootstrapServerId) continue;
      this.log.info({ route: rc.name, from: a.name, to: b.name }, 'config reload: route points at another streaming domain; switching');
      try {
        const report = await this.switchRoute({ route: rc.name, to: b.name, bootstrapServerId: b.bootstrapServerId, by });
        reports.push(report);
        if (report.outcome !== 'switched' && report.outcome !== 'unchanged') notApplied.add(rc.name);
      } catch (err) {
        notApplied.add(rc.name);
        this.log.error({ route: rc.name, err: (err as Error).message }, 'config reload: switch failed');
      }
    }
    this.loaded = { ...next, routes: next.routes.map((rc) => (notApplied.has(rc.name) ? (previous.routes.find((r) => r.name === rc.name) ?? rc) : rc)) };
    for (const rc of previous.routes) {
      if (!next.routes.some((r) => r.name === rc.name)) this.log.warn({ route: rc.name }, 'config reload: removing a route needs a restart; ignored');
    }
    return reports;
  }

  /** Live connections of a route (tests and diagnostics). */
  connections(route: string): ProxyConnection[] {
    const i = this.routes.findIndex((r) => r.name === route);
    return i < 0 ? [] : [...this.listeners[i].connections];
  }

  routeStatus(): RouteStatus[] {
    return this.routes.map((r, i) => ({
      name: r.name,
      endpoint: formatHostPort(r.config.endpoint),
      brokerPorts: `${r.ports.base}-${r.ports.base + r.ports.count - 1}`,
      domain: r.domainName,
      listener: r.upstream.listener.id,
      clusterId: r.config.clusterId,
      epoch: r.epoch,
      lastSwitch: r.lastSwitch,
      connectionsByDomain: this.listeners[i]?.connectionsByDomain() ?? {},
      ready: this.serving && r.ready,
      lastError: this.serving ? r.upstream.lastError : 'starting: the listeners are not open yet',
      ...(this.controller !== null && !this.controller.epochKnown
        ? {
            epochUnknown: `no streaming domain's switch state topic has been read since start, so this instance serves the domain in its config file ("${r.domainName}") without knowing whether a switch moved the route (gateway.state.startup.mode: serve); it applies the committed state as soon as it reads one`,
          }
        : {}),
      connections: this.listeners[i]?.connections.size ?? 0,
      topicsInUse: r.topicUsage.list(),
      brokers: [...r.upstream.brokers].map(([nodeId, a]) => {
        const g = r.gatewayAddress(nodeId);
        return { nodeId, gateway: formatHostPort(g), upstream: formatHostPort(a) };
      }),
    }));
  }

  /**
   * Graceful stop: no new connections, in-flight requests get up to `timeoutMs` to be answered,
   * then every connection is closed.
   */
  stop(timeoutMs = this.config.shutdownTimeoutMs): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.closeListeners()));
    for (const r of this.routes) r.stop();
    await this.controller?.stop();
    const connections = this.listeners.flatMap((l) => [...l.connections]);
    if (connections.length > 0) {
      this.log.info({ connections: connections.length, timeoutMs }, 'draining connections');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.all(connections.map((c) => c.drain())), timeout]);
      clearTimeout(timer);
      for (const c of connections) c.destroy();
    }
    await this.admin?.close();
    for (const a of this.producerAdmins.values()) a.close();
    this.producerAdmins.clear();
    this.warnings.flush();
    this.warnings.stop();
    this.log.info('gateway stopped');
  }
}
