// The gateway process: routes with their listeners, the admin listener, and orderly shutdown.
// Composition root: this is where the data path, control plane and edges are wired together.
import type { GatewayConfig, HostPort } from './config/types.ts';
import { formatHostPort } from './config/endpoints.ts';
import { AdminServer, type RouteStatus } from './admin/server.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { builtInFilterChain } from './proxy/filters/index.ts';
import { RouteListeners } from './proxy/listener.ts';
import type { ProxyConnection } from './proxy/connection.ts';
import { Route } from './routing/route.ts';

export interface GatewayOptions {
  log?: Logger;
  metrics?: GatewayMetrics;
  /** Sees every byte sent to clients; for tests. */
  tapClientBytes?: (route: string, bytes: Uint8Array) => void;
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

  constructor(config: GatewayConfig, options: GatewayOptions = {}) {
    this.config = config;
    this.log = options.log ?? createLogger(config.log.level);
    this.metrics = options.metrics ?? new GatewayMetrics();
    this.tapClientBytes = options.tapClientBytes;
  }

  get adminAddress(): HostPort | null {
    return this.admin?.address ?? null;
  }

  async start(): Promise<void> {
    const chain = builtInFilterChain();
    const limits = {
      maxFrameBytes: this.config.limits.maxFrameBytes,
      maxBufferedBytes: this.config.limits.maxBufferedBytesPerConnection,
      upstreamConnectTimeoutMs: this.config.limits.upstreamConnectTimeoutMs,
      tapClientBytes: this.tapClientBytes,
    };
    try {
      for (const rc of this.config.routes) {
        const domain = this.config.streamingDomains.find((d) => d.name === rc.streamingDomain.name)!;
        const route = new Route(rc, domain, this.log, this.metrics.forRoute(rc.name), limits.upstreamConnectTimeoutMs);
        const listeners = new RouteListeners(route, chain, limits);
        await listeners.listen();
        this.routes.push(route);
        this.listeners.push(listeners);
        route.start();
        this.log.info(
          { route: rc.name, endpoint: formatHostPort(rc.endpoint), brokerPorts: `${rc.brokerPorts.base}-${rc.brokerPorts.base + rc.brokerPorts.count - 1}`, domain: domain.name, listener: rc.streamingDomain.bootstrapServerId },
          'route listening',
        );
      }
      if (this.config.admin !== null) {
        this.admin = new AdminServer({ routes: () => this.routeStatus(), metrics: this.metrics }, this.log);
        const at = await this.admin.listen(this.config.admin);
        this.log.info({ admin: formatHostPort(at) }, 'admin listening');
      }
    } catch (err) {
      await this.stop(0);
      throw err;
    }
    const readiness = setInterval(() => {
      for (const r of this.routes) r.metrics.ready.set(r.ready ? 1 : 0);
    }, 1000);
    readiness.unref();
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
      ready: r.ready,
      lastError: r.upstream.lastError,
      connections: this.listeners[i]?.connections.size ?? 0,
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
    this.log.info('gateway stopped');
  }
}
