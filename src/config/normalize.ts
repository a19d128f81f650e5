// From the checked YAML shapes to GatewayConfig: defaults applied, and the checks that need more
// than one value (references between routes and streaming domains, duplicate names, port clashes,
// authentication against the upstream listener's security). Items that failed their shape check
// arrive as undefined and are skipped, so their problems are not reported twice.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { addressesMayOverlap, formatHost, isWildcardAddress } from './endpoints.ts';
import { closest, formatPath, type PathProblem, type PathSegment } from './problems.ts';
import { type AdminInput, type GatewaySection, MIN_STATE_KEY_LENGTH, type RouteInput, type StreamingDomainInput } from './schema.ts';
import {
  type BootstrapServerConfig,
  type ClientAuthentication,
  type GatewayConfig,
  type HostPort,
  type RouteConfig,
  Secret,
  type StateSigningConfig,
  type StreamingDomainConfig,
  type UpstreamSecurity,
} from './types.ts';

export const DEFAULTS = {
  admin: { host: '127.0.0.1', port: 9190 },
  logLevel: 'info',
  maxFrameBytes: 100 * 1024 * 1024,
  maxBufferedBytesPerConnection: 4 * 1024 * 1024,
  upstreamConnectTimeoutMs: 10_000,
  maxUnauthenticatedFrameBytes: 512 * 1024,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1_000,
  authenticationTimeoutMs: 30_000,
  connectionsMaxIdleMs: 600_000,
  shutdownTimeoutMs: 10_000,
  bindAddress: '0.0.0.0',
  brokerPortCount: 16,
  stateTopic: '_turnout_state',
  stateStartupMode: 'wait',
  stateStartupTimeoutMs: 60_000,
  drainTimeoutMs: 5_000,
  fleetTimeoutMs: 10_000,
  // Held writes wait at most this long. Under every common client's own produce timeout (franz-go
  // 20 s; Java, kafkajs, sarama 30 s; librdkafka 60 s), so they see a pause, not an error; only
  // clients set far lower (Kafka's console producer: 1.5 s) time out and resend (README, fence).
  fenceTimeoutMs: 10_000,
  // A topic unused for an hour stops counting as in use (src/routing/topic-usage.ts says why).
  topicIdleMs: 60 * 60 * 1000,
  workers: 'auto',
} as const;

/** A cluster id (22 base64url characters, like Kafka's) derived from the route name: every instance agrees. */
export function virtualClusterId(route: string): string {
  return createHash('sha256').update(`turnout-route:${route}`).digest().subarray(0, 16).toString('base64url');
}

export interface NormalizeInput {
  /** undefined when the gateway section failed its shape check. */
  gateway: GatewaySection | undefined;
  gatewayValid: boolean;
  /** gateway.admin as written (null disables it); `invalid` when it failed its shape check. */
  admin: AdminInput | undefined | 'invalid';
  /** One entry per streamingDomains item: its `name` as written (for references), and the parsed item if valid. */
  domains: { rawName: unknown; rawIds: unknown[]; parsed: StreamingDomainInput | undefined }[];
  routes: { rawName: unknown; parsed: RouteInput | undefined }[];
}

export function normalize(input: NormalizeInput): { config: GatewayConfig | undefined; problems: PathProblem[] } {
  const problems: PathProblem[] = [];
  const g = input.gateway;

  let admin: HostPort | null = { ...DEFAULTS.admin };
  if (input.admin === 'invalid')
    admin = null; // its problems are reported; clashes with it would be guesses
  else if (input.admin === null || input.admin?.enabled === false) admin = null;
  else if (input.admin?.listen !== undefined) admin = input.admin.listen;

  duplicates(
    input.domains.map((d) => d.rawName),
    (i) => ['streamingDomains', i, 'name'],
    'streaming domain name',
    problems,
  );
  duplicates(
    input.routes.map((r) => r.rawName),
    (i) => ['routes', i, 'name'],
    'route name',
    problems,
  );
  input.domains.forEach((d, i) => {
    duplicates(d.rawIds, (j) => ['streamingDomains', i, 'kafkaCluster', 'bootstrapServers', j, 'id'], 'bootstrap server id', problems);
  });

  const domains: (StreamingDomainConfig | undefined)[] = input.domains.map((d, i) => d.parsed && domain(d.parsed, i, problems));
  const routes: { config: RouteConfig; index: number; brokerPortsWritten: boolean }[] = [];
  input.routes.forEach((r, i) => {
    if (r.parsed)
      routes.push({ config: route(r.parsed, i, input.domains, domains, problems), index: i, brokerPortsWritten: r.parsed.brokerPorts?.base !== undefined });
  });
  portClashes(admin, input.admin !== 'invalid' && input.admin?.listen !== undefined, routes, problems);

  const state =
    g?.state === null || g?.state?.enabled === false
      ? null
      : {
          topic: g?.state?.topic ?? DEFAULTS.stateTopic,
          signing: stateSigning(g?.state ?? undefined, problems),
          // Absent from the file: absent here too (the controller applies the defaults).
          ...(g?.state?.startup != null
            ? { startup: { mode: g.state.startup.mode ?? DEFAULTS.stateStartupMode, timeoutMs: g.state.startup.timeoutMs ?? DEFAULTS.stateStartupTimeoutMs } }
            : {}),
        };
  const workers = g?.workers ?? DEFAULTS.workers;
  if (state === null && typeof workers === 'number' && workers > 1) {
    problems.push({
      path: ['gateway', 'workers'],
      message: `workers share route state through the state log, and gateway.state disables it (workers: ${workers})`,
      hint: 'enable gateway.state or set workers: 1',
    });
  }

  const complete = input.gatewayValid && input.admin !== 'invalid' && domains.every((d) => d !== undefined) && routes.length === input.routes.length;
  if (!complete || problems.length > 0) return { config: undefined, problems };
  return {
    config: {
      admin,
      adminToken: input.admin !== 'invalid' && input.admin?.token !== undefined ? new Secret(input.admin.token) : null,
      instanceId: g?.instanceId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${admin !== null && admin.port !== 0 ? admin.port : process.pid}`,
      state,
      switchover: {
        drainTimeoutMs: g?.switchover?.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
        fleetTimeoutMs: g?.switchover?.fleetTimeoutMs ?? DEFAULTS.fleetTimeoutMs,
        fenceTimeoutMs: g?.switchover?.fenceTimeoutMs ?? DEFAULTS.fenceTimeoutMs,
        topicIdleMs: g?.switchover?.topicIdleMs ?? DEFAULTS.topicIdleMs,
      },
      audit: { file: g?.audit?.file ?? null },
      log: { level: g?.log?.level ?? DEFAULTS.logLevel },
      limits: {
        maxFrameBytes: g?.limits?.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
        maxBufferedBytesPerConnection: g?.limits?.maxBufferedBytesPerConnection ?? DEFAULTS.maxBufferedBytesPerConnection,
        upstreamConnectTimeoutMs: g?.limits?.upstreamConnectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
        maxUnauthenticatedFrameBytes: g?.limits?.maxUnauthenticatedFrameBytes ?? DEFAULTS.maxUnauthenticatedFrameBytes,
        maxBufferedBytes: g?.limits?.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
        maxConnections: g?.limits?.maxConnections ?? DEFAULTS.maxConnections,
        maxConnectionsPerAddress: g?.limits?.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress,
        authenticationTimeoutMs: g?.limits?.authenticationTimeoutMs ?? DEFAULTS.authenticationTimeoutMs,
        connectionsMaxIdleMs: g?.limits?.connectionsMaxIdleMs ?? DEFAULTS.connectionsMaxIdleMs,
      },
      shutdownTimeoutMs: g?.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
      workers,
      streamingDomains: domains as StreamingDomainConfig[],
      routes: routes.map((r) => r.config),
    },
    problems,
  };
}

type StateInput = NonNullable<NonNullable<GatewaySection>['state']>;

/** gateway.state's fleet key and the key being rotated out, each inline or from a file. */
function stateSigning(st: StateInput | undefined, problems: PathProblem[]): StateSigningConfig {
  const one = (inline: string | undefined, file: string | undefined, field: 'key' | 'previousKey'): Secret | null => {
    if (inline !== undefined && file !== undefined) {
      problems.push({ path: ['gateway', 'state', field], message: `both ${field} and ${field}File are set`, hint: `keep one of them` });
      return null;
    }
    if (inline !== undefined) return new Secret(inline);
    if (file === undefined) return null;
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push({
        path: ['gateway', 'state', `${field}File`],
        message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        hint: 'give the path of a readable file that holds the key',
      });
      return null;
    }
    if (text.length < MIN_STATE_KEY_LENGTH) {
      problems.push({
        path: ['gateway', 'state', `${field}File`],
        message: `the key in ${file} is shorter than ${MIN_STATE_KEY_LENGTH} characters`,
        hint: 'use a random key, e.g. the output of `openssl rand -base64 32`',
      });
      return null;
    }
    return new Secret(text);
  };
  const key = one(st?.key, st?.keyFile, 'key');
  const previous = one(st?.previousKey, st?.previousKeyFile, 'previousKey');
  if (previous !== null && key === null && st?.key === undefined && st?.keyFile === undefined) {
    problems.push({
      path: ['gateway', 'state', 'previousKey'],
      message: 'previousKey is set without key',
      hint: 'set key (the new key) too; previousKey is only accepted while reading',
    });
  }
  if (key !== null && previous !== null && key.reveal() === previous.reveal()) {
    problems.push({
      path: ['gateway', 'state', 'previousKey'],
      message: 'previousKey is the same key as key',
      hint: 'remove previousKey, or give the key being rotated out',
    });
  }
  return { key, previousKeys: previous !== null ? [previous] : [], acceptUnsigned: st?.acceptUnsigned ?? false };
}

function duplicates(names: unknown[], at: (i: number) => PathSegment[], what: string, problems: PathProblem[]): void {
  const first = new Map<string, number>();
  names.forEach((n, i) => {
    if (typeof n !== 'string') return;
    const seen = first.get(n);
    if (seen === undefined) first.set(n, i);
    else problems.push({ path: at(i), message: `duplicate ${what} "${n}" (also at ${formatPath(at(seen))})`, hint: `give each one its own ${what}` });
  });
}

function domain(d: StreamingDomainInput, i: number, problems: PathProblem[]): StreamingDomainConfig {
  const base: PathSegment[] = ['streamingDomains', i, 'kafkaCluster', 'bootstrapServers'];
  const bootstrapServers = d.kafkaCluster.bootstrapServers.map((b, j): BootstrapServerConfig => {
    let security: UpstreamSecurity = { protocol: 'PLAINTEXT' };
    if (b.security?.protocol === 'SASL_PLAINTEXT') {
      const sasl = b.security.sasl;
      security = {
        protocol: 'SASL_PLAINTEXT',
        sasl: sasl ? { mechanism: sasl.mechanism, username: sasl.username, password: new Secret(sasl.password) } : null,
      };
    } else if (b.security?.sasl) {
      problems.push({
        path: [...base, j, 'security', 'sasl'],
        message: 'SASL credentials are set on a PLAINTEXT listener',
        hint: 'set protocol: SASL_PLAINTEXT if the listener uses SASL, or remove sasl',
      });
    }
    return { id: b.id, endpoints: b.endpoint, security };
  });
  return { name: d.name, type: d.type ?? 'kafka', kafkaCluster: { name: d.kafkaCluster.name, bootstrapServers } };
}

function route(
  r: RouteInput,
  i: number,
  rawDomains: NormalizeInput['domains'],
  domains: (StreamingDomainConfig | undefined)[],
  problems: PathProblem[],
): RouteConfig {
  const at = (...rest: PathSegment[]): PathSegment[] => ['routes', i, ...rest];
  if (isWildcardAddress(r.endpoint.host)) {
    problems.push({
      path: at('endpoint'),
      message: `clients cannot connect to ${r.endpoint.host}; the endpoint's host is the address Turnout advertises for every broker`,
      hint: 'use the host name or IP address clients reach Turnout by; set bindAddress to choose the interfaces Turnout listens on',
    });
  }

  const ports = { base: r.brokerPorts?.base ?? r.endpoint.port + 1, count: r.brokerPorts?.count ?? DEFAULTS.brokerPortCount };
  const last = ports.base + ports.count - 1;
  if (last > 65535) {
    problems.push({
      path: at('brokerPorts'),
      message: `broker ports ${ports.base}-${last} go past 65535${r.brokerPorts?.base === undefined ? ` (by default they follow the endpoint port ${r.endpoint.port})` : ''}`,
      hint: 'lower brokerPorts.base or brokerPorts.count',
    });
  }

  let authentication: ClientAuthentication | undefined = r.authentication ?? undefined;
  const ref = r.streamingDomain;
  const index = rawDomains.findIndex((d) => d.rawName === ref.name);
  if (index < 0) {
    const known = [...new Set(rawDomains.map((d) => d.rawName).filter((n): n is string => typeof n === 'string'))];
    const near = closest(ref.name, known);
    problems.push({
      path: at('streamingDomain', 'name'),
      message: `unknown streaming domain "${ref.name}" (known: ${known.join(', ') || 'none'})`,
      hint: near === undefined ? 'use one of the names under streamingDomains' : `did you mean "${near}"?`,
    });
  } else if (domains[index] !== undefined) {
    const servers = domains[index].kafkaCluster.bootstrapServers;
    const server = servers.find((s) => s.id === ref.bootstrapServerId);
    if (server === undefined) {
      const known = servers.map((s) => s.id);
      const near = closest(ref.bootstrapServerId, known);
      problems.push({
        path: at('streamingDomain', 'bootstrapServerId'),
        message: `streaming domain "${ref.name}" has no bootstrap server "${ref.bootstrapServerId}" (known: ${known.join(', ')})`,
        hint: near === undefined ? `use one of the ids under streamingDomains[${index}].kafkaCluster.bootstrapServers` : `did you mean "${near}"?`,
      });
    } else {
      authentication = checkAuthentication(authentication, server, at('authentication', 'type'), problems);
    }
  }

  return {
    name: r.name,
    endpoint: r.endpoint,
    bindAddress: r.bindAddress ?? DEFAULTS.bindAddress,
    brokerPorts: ports,
    streamingDomain: { name: ref.name, bootstrapServerId: ref.bootstrapServerId },
    // Only unresolved when the route has other problems, so no config is returned anyway.
    authentication: authentication ?? { type: 'none' },
    clusterId: r.clusterId ?? virtualClusterId(r.name),
    replication: {
      type: r.replication?.type ?? 'none',
      topics: r.replication?.topics ?? null,
      groups: r.replication?.groups ?? null,
      checkpoints: r.replication?.checkpoints ?? false,
    },
    limits: { maxConnections: r.limits?.maxConnections ?? null },
  };
}

/** Client authentication must match what the upstream listener expects; omitted, it follows it. */
function checkAuthentication(
  written: ClientAuthentication | undefined,
  server: BootstrapServerConfig,
  path: PathSegment[],
  problems: PathProblem[],
): ClientAuthentication {
  const sasl = server.security.protocol !== 'PLAINTEXT';
  if (written === undefined) return { type: sasl ? 'passthrough' : 'none' };
  if (written.type === 'passthrough' && !sasl) {
    problems.push({
      path,
      message: `passthrough relays the client's SASL exchange; the upstream listener "${server.id}" must use SASL_PLAINTEXT, but it is PLAINTEXT`,
      hint: 'use authentication type none for a PLAINTEXT listener, or point the route at a SASL_PLAINTEXT listener',
    });
  } else if (written.type === 'none' && sasl) {
    problems.push({
      path,
      message: `the upstream listener "${server.id}" uses ${server.security.protocol}, and gateway-terminated authentication is not supported yet`,
      hint: 'use passthrough, or point the route at a PLAINTEXT listener',
    });
  }
  return written;
}

interface Listener {
  path: PathSegment[];
  bind: string;
  from: number;
  to: number;
  /** The fix when this listener's place is a default rather than written in the config. */
  defaulted?: string;
}

function address(l: Listener): string {
  return `${formatHost(l.bind)}:${l.from === l.to ? l.from : `${l.from}-${l.to}`}`;
}

/** Two listeners clash when their port ranges meet and their bind addresses may be the same. */
function portClashes(
  admin: HostPort | null,
  adminWritten: boolean,
  routes: { config: RouteConfig; index: number; brokerPortsWritten: boolean }[],
  problems: PathProblem[],
): void {
  const listeners: Listener[] = [];
  // The admin listener comes first so that a clash with the default admin port is reported on the route.
  if (admin !== null && admin.port !== 0) {
    listeners.push({
      path: ['gateway', 'admin', 'listen'],
      bind: admin.host,
      from: admin.port,
      to: admin.port,
      defaulted: adminWritten
        ? undefined
        : `move the route, or move the admin listener (by default on ${formatHost(admin.host)}:${admin.port}) with gateway.admin.listen`,
    });
  }
  for (const { config: r, index, brokerPortsWritten } of routes) {
    listeners.push({ path: ['routes', index, 'endpoint'], bind: r.bindAddress, from: r.endpoint.port, to: r.endpoint.port });
    listeners.push({
      path: ['routes', index, 'brokerPorts'],
      bind: r.bindAddress,
      from: r.brokerPorts.base,
      to: Math.min(65535, r.brokerPorts.base + r.brokerPorts.count - 1),
      defaulted: brokerPortsWritten
        ? undefined
        : `set brokerPorts.base so that no two listeners share a port (broker ports default to the ${r.brokerPorts.count} ports after the endpoint port)`,
    });
  }
  for (let b = 1; b < listeners.length; b++) {
    for (let a = 0; a < b; a++) {
      const la = listeners[a];
      const lb = listeners[b];
      const from = Math.max(la.from, lb.from);
      const to = Math.min(la.to, lb.to);
      if (from > to || !addressesMayOverlap(la.bind, lb.bind)) continue;
      problems.push({
        path: lb.path,
        message: `listens on ${address(lb)}, which clashes with ${formatPath(la.path)} on ${address(la)} (port${from === to ? ` ${from}` : `s ${from}-${to}`})`,
        hint:
          lb.defaulted ??
          la.defaulted ??
          'give every listener (route endpoints, broker port ranges, the admin listener) its own ports, or bind them to different IP addresses',
      });
    }
  }
}
