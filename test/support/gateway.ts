// Starting Turnout in front of test-bed clusters, in-process, for integration tests. Ports come
// from below the test bed's broker range (10000-19999) in blocks that are checked by binding.

import {
  DEFAULTS,
  type GatewayConfig,
  type RouteConfig,
  Secret,
  type StateSigningConfig,
  type StreamingDomainConfig,
  virtualClusterId,
} from '../../src/config/index.ts';
import { Gateway } from '../../src/gateway.ts';
import { createLogger, silentLogger } from '../../src/observability/log.ts';
import type { ClusterDescriptor } from '../../src/testbed/index.ts';
import { canBind } from '../../src/testbed/ports.ts';

const LOW = 10_000;
const HIGH = 19_900;

/** `count` consecutive free loopback ports. */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await canBind(p);
    if (ok) return base;
  }
  throw new Error(`no block of ${count} free ports between ${LOW} and ${HIGH}`);
}

export type Listener = 'sasl' | 'plaintext';

/** A streaming domain for a test-bed cluster; SASL listeners get the admin user as service credentials. */
export function domainFor(cluster: ClusterDescriptor, name = cluster.name, serviceCredentials = true): StreamingDomainConfig {
  return {
    name,
    type: 'kafka',
    kafkaCluster: {
      name: cluster.name,
      bootstrapServers: [
        { id: 'plaintext', endpoints: cluster.brokers.map((b) => ({ host: b.host, port: b.plaintextPort })), security: { protocol: 'PLAINTEXT' } },
        {
          id: 'sasl',
          endpoints: cluster.brokers.map((b) => ({ host: b.host, port: b.saslPort })),
          security: {
            protocol: 'SASL_PLAINTEXT',
            sasl: serviceCredentials ? { mechanism: 'PLAIN', username: 'admin', password: new Secret('admin-secret') } : null,
          },
        },
      ],
    },
  };
}

export interface RouteSpec {
  name: string;
  domain: string;
  listener: Listener;
  /** Broker port slots (default 8). */
  brokerPortCount?: number;
  /** Default: none (a switch is a hot switch). */
  replication?: RouteConfig['replication'];
  /** The route's own connection limit (routes[].limits.maxConnections). */
  maxConnections?: number;
}

export interface TestGateway {
  gateway: Gateway;
  /** Bootstrap address of each route, by route name. */
  bootstrap: Record<string, string>;
  adminUrl: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  domains: StreamingDomainConfig[];
  routes: RouteSpec[];
  limits?: Partial<GatewayConfig['limits']>;
  shutdownTimeoutMs?: number;
  tapClientBytes?: (route: string, bytes: Uint8Array) => void;
  /** Print the gateway's logs (default: only when TURNOUT_TEST_LOGS is set). */
  logs?: boolean;
  /** Write the gateway's logs (debug level, JSON lines) to this stream, e.g. to assert on them. */
  logDestination?: NodeJS.WritableStream;
  /** Wait until every route has reached its cluster (default true; false for routes meant to be unreachable). */
  waitForReady?: boolean;
  /** Switch state topic (default: none, this instance switches alone). */
  stateTopic?: string;
  /** The fleet key that signs the state topic's records (default: none). */
  stateSigning?: StateSigningConfig;
  /** gateway.state.startup (default: absent, i.e. wait 60 s). */
  stateStartup?: NonNullable<GatewayConfig['state']>['startup'];
  instanceId?: string;
  adminToken?: string;
  switchover?: Partial<GatewayConfig['switchover']>;
  auditFile?: string;
  /** Fixed ports instead of free ones (a restarted instance must come back on the same ports). */
  ports?: Record<string, number>;
  adminPort?: number;
  /** Window of the per-reason warning aggregation (default 10 s). */
  warningWindowMs?: number;
}

export async function startGateway(options: StartOptions): Promise<TestGateway> {
  for (let attempt = 0; ; attempt++) {
    const routes: RouteConfig[] = [];
    for (const r of options.routes) {
      const count = r.brokerPortCount ?? 8;
      const base = options.ports?.[r.name] ?? (await freePortBlock(count + 1));
      routes.push({
        name: r.name,
        endpoint: { host: '127.0.0.1', port: base },
        bindAddress: '127.0.0.1',
        brokerPorts: { base: base + 1, count },
        streamingDomain: { name: r.domain, bootstrapServerId: r.listener },
        authentication: { type: r.listener === 'sasl' ? 'passthrough' : 'none' },
        clusterId: virtualClusterId(r.name),
        replication: r.replication ?? { type: 'none', topics: null, groups: null },
        ...(r.maxConnections !== undefined ? { limits: { maxConnections: r.maxConnections } } : {}),
      });
    }
    const config: GatewayConfig = {
      admin: { host: '127.0.0.1', port: options.adminPort ?? 0 },
      adminToken: options.adminToken !== undefined ? new Secret(options.adminToken) : null,
      instanceId: options.instanceId ?? `test-${process.pid}-${attempt}-${Math.floor(Math.random() * 1e6)}`,
      state:
        options.stateTopic !== undefined
          ? {
              topic: options.stateTopic,
              ...(options.stateSigning ? { signing: options.stateSigning } : {}),
              ...(options.stateStartup !== undefined ? { startup: options.stateStartup } : {}),
            }
          : null,
      switchover: {
        drainTimeoutMs: DEFAULTS.drainTimeoutMs,
        fleetTimeoutMs: DEFAULTS.fleetTimeoutMs,
        fenceTimeoutMs: DEFAULTS.fenceTimeoutMs,
        ...options.switchover,
      },
      audit: { file: options.auditFile ?? null },
      log: { level: 'debug' },
      limits: {
        maxFrameBytes: DEFAULTS.maxFrameBytes,
        maxBufferedBytesPerConnection: DEFAULTS.maxBufferedBytesPerConnection,
        upstreamConnectTimeoutMs: 5000,
        ...options.limits,
      },
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5000,
      streamingDomains: options.domains,
      routes,
    };
    const log =
      options.logDestination !== undefined
        ? createLogger('debug', options.logDestination)
        : (options.logs ?? process.env.TURNOUT_TEST_LOGS !== undefined)
          ? createLogger('debug', process.stderr)
          : silentLogger();
    const gateway = new Gateway(config, { log, tapClientBytes: options.tapClientBytes, warningWindowMs: options.warningWindowMs });
    try {
      await gateway.start();
    } catch (err) {
      if ((err as { code?: string }).code === 'TURNOUT_LISTEN_FAILED' && attempt < 5) continue;
      throw err;
    }
    if (options.waitForReady !== false) await waitReady(gateway);
    const bootstrap: Record<string, string> = {};
    for (const r of routes) bootstrap[r.name] = `${r.endpoint.host}:${r.endpoint.port}`;
    return { gateway, bootstrap, adminUrl: `http://127.0.0.1:${gateway.adminAddress!.port}`, stop: () => gateway.stop(2000) };
  }
}

/** Waits until every route has reached its cluster (discovery done), up to 15 s. */
export async function waitReady(gateway: Gateway, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!gateway.routes.every((r) => r.ready)) {
    if (Date.now() > deadline) {
      throw new Error(
        `gateway routes not ready after ${timeoutMs} ms: ${gateway.routes.map((r) => `${r.name}: ${r.upstream.lastError ?? 'pending'}`).join('; ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The seed's client.properties (SASL_PLAINTEXT, PLAIN, kafka/kafka-secret) as extra properties. */
export const SEED_CLIENT_USER = { username: 'kafka', password: 'kafka-secret' } as const;
