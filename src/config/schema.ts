// The shape of the YAML document, checked with zod. Leaves parse with our own messages and hints
// (zod's defaults name types, not fixes); objects reject unknown keys with a did-you-mean.
// Defaults and checks that need more than one value live in normalize.ts.
import { z } from 'zod';
import { type Parsed, parseHost, parseHostPort, parseHostPortList } from './endpoints.ts';
import { closest } from './problems.ts';
import type { HostPort, LogLevel, WorkerCount } from './types.ts';

/** Extra data our issues carry: the fix to print, and whether the value was simply missing. */
export interface IssueParams {
  hint?: string;
  missing?: boolean;
  unknownKey?: boolean;
}

function issue(ctx: z.RefinementCtx, message: string, params: IssueParams): never {
  ctx.addIssue({ code: 'custom', message, params });
  return z.NEVER;
}

/** A required value parsed by `parse`; `.optional()` on the result makes it optional. */
function leaf<T>(parse: (v: unknown) => Parsed<T>) {
  return z.unknown().transform((v, ctx): T => {
    if (v === undefined) return issue(ctx, 'is required', { missing: true });
    const r = parse(v);
    return r.ok ? r.value : issue(ctx, r.message, { hint: r.hint });
  });
}

function describe(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

const bad = (message: string, hint: string): Parsed<never> => ({ ok: false, message, hint });

function asString(v: unknown, what: string): Parsed<string> {
  if (typeof v === 'string') return { ok: true, value: v };
  return bad(`must be ${what}, not ${describe(v)}`, typeof v === 'number' || typeof v === 'boolean' ? 'put the value in quotes' : `give ${what}`);
}

/** A non-empty string. Never echoes the value: this also parses passwords. */
export const text = (what = 'a string') =>
  leaf((v) => {
    const s = asString(v, what);
    if (!s.ok) return s;
    return s.value.trim() === '' ? bad('is empty', `give ${what}`) : s;
  });

/** At least this many characters in a state signing key: it must be random, not a password. */
export const MIN_STATE_KEY_LENGTH = 32;
/** A state signing key, given inline (usually ${ENV}). Never echoes the value. */
const stateKey = leaf((v) => {
  const s = asString(v, 'a key');
  if (!s.ok) return s;
  if (s.value.trim().length < MIN_STATE_KEY_LENGTH) {
    return bad(`is shorter than ${MIN_STATE_KEY_LENGTH} characters`, 'use a random key, e.g. the output of `openssl rand -base64 32`');
  }
  return { ok: true, value: s.value.trim() };
});

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Names that routes reference and the admin API puts in URLs. */
const name = (what: string) =>
  leaf((v) => {
    const s = asString(v, `a ${what}`);
    if (!s.ok) return s;
    if (NAME.test(s.value)) return s;
    return bad(`"${s.value}" is not a valid ${what}`, 'use letters, digits, ".", "_" and "-" (starting with a letter or digit), at most 128 characters');
  });

/** A Kafka topic name: Kafka's own rule (letters, digits, ".", "_", "-"; at most 249). */
const topicName = leaf((v) => {
  const s = asString(v, 'a topic name');
  if (!s.ok) return s;
  if (/^[A-Za-z0-9._-]{1,249}$/.test(s.value) && s.value !== '.' && s.value !== '..') return s;
  return bad(`"${s.value}" is not a valid Kafka topic name`, 'use letters, digits, ".", "_" and "-", at most 249 characters');
});

/** Whole numbers; numeric strings count (they come from ${VAR} substitution). */
export const int = (min: number, max: number, hint?: string) =>
  leaf((v) => {
    const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return { ok: true, value: n };
    const what = typeof n === 'number' ? (Number.isInteger(n) ? String(n) : 'not a whole number') : describe(v);
    return bad(`must be a whole number from ${min} to ${max}, not ${what}`, hint ?? `use a value from ${min} to ${max}`);
  });

/** A JavaScript regular expression, matched against whole names. */
const regex = (what: string) =>
  leaf((v) => {
    const s = asString(v, what);
    if (!s.ok) return s;
    try {
      new RegExp(`^(?:${s.value})$`);
      return s;
    } catch (err) {
      return bad(`"${s.value}" is not a valid regular expression: ${(err as Error).message}`, `give ${what}`);
    }
  });

const bool = leaf((v) => {
  if (v === true || v === 'true') return { ok: true, value: true };
  if (v === false || v === 'false') return { ok: true, value: false };
  return bad(`must be true or false, not ${describe(v)}`, 'write true or false');
});

/** One of `allowed`; values Turnout knows of but does not implement get a "not supported yet". */
function choice<const T extends string>(what: string, allowed: readonly T[], notYet: readonly string[] = []) {
  return leaf((v): Parsed<T> => {
    const s = asString(v, `a ${what}`);
    if (!s.ok) return s;
    if ((allowed as readonly string[]).includes(s.value)) return { ok: true, value: s.value as T };
    const list = allowed.join(', ');
    if (notYet.includes(s.value)) return bad(`${what} ${s.value} is not supported yet`, `use ${allowed.length > 1 ? 'one of ' : ''}${list}`);
    const near = closest(s.value, allowed);
    return bad(`unknown ${what} "${s.value}"`, near === undefined ? `use one of: ${list}` : `did you mean "${near}"? (known: ${list})`);
  });
}

const hostPort = (opts: { allowPortZero?: boolean } = {}) =>
  leaf((v): Parsed<HostPort> => {
    const s = asString(v, 'a "host:port" string');
    return s.ok ? parseHostPort(s.value, opts) : s;
  });

const hostPortList = leaf((v): Parsed<HostPort[]> => {
  const s = asString(v, 'a "host:port" string');
  return s.ok ? parseHostPortList(s.value) : s;
});

const host = leaf((v): Parsed<string> => {
  const s = asString(v, 'an IP address or host name');
  return s.ok ? parseHost(s.value.trim()) : s;
});

/** An object whose unknown keys are problems (typo protection), each with a did-you-mean. */
function strictObject<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  return z
    .looseObject(shape, { error: (iss) => (iss.input === undefined ? undefined : `must be a mapping (key: value), not ${describe(iss.input)}`) })
    .check(
      z.superRefine(
        (obj: Record<string, unknown>, ctx) => {
          for (const key of Object.keys(obj)) {
            if (known.includes(key)) continue;
            const near = closest(key, known);
            const hint = near === undefined ? `remove it; the keys allowed here are ${known.join(', ')}` : `did you mean "${near}"?`;
            ctx.addIssue({ code: 'custom', path: [key], message: `unknown key "${key}"`, params: { hint, unknownKey: true } satisfies IssueParams });
          }
        },
        { when: (payload) => payload.value !== null && typeof payload.value === 'object' && !Array.isArray(payload.value) },
      ),
    )
    .transform((obj) => obj as z.output<z.ZodObject<S>>);
}

function list<T extends z.ZodType>(item: T, what: string, hint: string) {
  return z.preprocess(
    (v) => (v === null ? [] : v),
    z
      .array(item, { error: (iss) => (iss.input === undefined ? undefined : `must be a list, not ${describe(iss.input)}`) })
      .transform((v, ctx) => (v.length === 0 ? issue(ctx, `needs at least one ${what}`, { hint }) : v)),
  );
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const satisfies readonly LogLevel[];
export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SASL_PLAINTEXT'] as const;
export const SASL_MECHANISMS = ['PLAIN'] as const;
export const AUTHENTICATION_TYPES = ['passthrough', 'none'] as const;
/** mirrormaker2: offsets differ and are translated; offset-preserving: equal on both sides (Cluster Linking style); none: nothing copies. */
export const REPLICATION_TYPES = ['mirrormaker2', 'offset-preserving', 'none'] as const;

const MiB = 1024 * 1024;
const MAX_TIMEOUT_MS = 2 ** 31 - 1; // setTimeout's limit
export const MAX_WORKERS = 256;

/** gateway.workers: how many worker processes serve the listeners, or "auto" (one per CPU). */
const workerCount = leaf((v): Parsed<WorkerCount> => {
  if (v === 'auto') return { ok: true, value: 'auto' };
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS) return { ok: true, value: n };
  const what = typeof n === 'number' ? (Number.isInteger(n) ? String(n) : 'not a whole number') : typeof v === 'string' ? `"${v.slice(0, 40)}"` : describe(v);
  return bad(
    `must be a whole number from 1 to ${MAX_WORKERS} or "auto", not ${what}`,
    `use "auto" (one worker process per CPU) or a number of worker processes from 1 to ${MAX_WORKERS}`,
  );
});

/** Parsed on its own, so that port clashes with it are found even when the rest of gateway has problems. */
export const adminSection = strictObject({
  enabled: bool.optional(),
  listen: hostPort({ allowPortZero: true }).optional(),
  /** Bearer token required by endpoints that change routing (switch). Usually ${TURNOUT_ADMIN_TOKEN}. */
  token: text('a token').optional(),
})
  .nullable()
  .optional();

export const gatewaySection = strictObject({
  admin: z.unknown().optional(),
  log: strictObject({ level: choice('log level', LOG_LEVELS).optional() }).nullish(),
  limits: strictObject({
    maxFrameBytes: int(1024, 1024 * MiB, "use 1024 (1 KiB) to 1073741824 (1 GiB); Kafka's own default is 104857600 (100 MiB)").optional(),
    maxBufferedBytesPerConnection: int(64 * 1024, 2 ** 40, 'use at least 65536 (64 KiB); the default is 4194304 (4 MiB)').optional(),
    upstreamConnectTimeoutMs: int(1, MAX_TIMEOUT_MS).optional(),
    maxUnauthenticatedFrameBytes: int(
      1024,
      1024 * MiB,
      "use 1024 (1 KiB) to 1073741824 (1 GiB); the default is 524288 (512 KiB), a broker's sasl.server.max.receive.size",
    ).optional(),
    maxBufferedBytes: int(MiB, 2 ** 40, 'use at least 1048576 (1 MiB) per worker process; the default is 268435456 (256 MiB)').optional(),
    maxConnections: int(1, 10_000_000, 'use a number of connections from 1 to 10000000 per worker process; the default is 10000').optional(),
    maxConnectionsPerAddress: int(
      1,
      10_000_000,
      'use a number of connections from 1 to 10000000 per client IP address and worker process; the default is 1000',
    ).optional(),
    authenticationTimeoutMs: int(100, MAX_TIMEOUT_MS, 'use 100 ms or more; the default is 30000 (30 s)').optional(),
    connectionsMaxIdleMs: int(100, MAX_TIMEOUT_MS, "use 100 ms or more; the default is 600000 (10 minutes), a broker's connections.max.idle.ms").optional(),
  }).nullish(),
  shutdownTimeoutMs: int(0, MAX_TIMEOUT_MS).optional(),
  workers: workerCount.optional(),
  instanceId: name('instance id').optional(),
  state: strictObject({
    enabled: bool.optional(),
    topic: topicName.optional(),
    /** Fleet key that signs state records; usually ${TURNOUT_STATE_KEY}. Or keyFile. */
    key: stateKey.optional(),
    keyFile: text('a file path').optional(),
    /** The key being rotated out: accepted when reading, never used to sign. Or previousKeyFile. */
    previousKey: stateKey.optional(),
    previousKeyFile: text('a file path').optional(),
    acceptUnsigned: bool.optional(),
    startup: strictObject({
      mode: choice('state startup mode', ['wait', 'serve'] as const).optional(),
      timeoutMs: int(0, MAX_TIMEOUT_MS).optional(),
    }).optional(),
  }).nullish(),
  switchover: strictObject({
    drainTimeoutMs: int(0, MAX_TIMEOUT_MS).optional(),
    fleetTimeoutMs: int(100, MAX_TIMEOUT_MS).optional(),
    fenceTimeoutMs: int(100, MAX_TIMEOUT_MS).optional(),
    topicIdleMs: int(1000, 2 ** 31 - 1, 'use 1000 (1 s) or more; the default is 3600000 (1 hour)').optional(),
  }).nullish(),
  audit: strictObject({ file: text('a file path').optional() }).nullish(),
}).nullish();

const security = strictObject({
  protocol: choice('security protocol', SECURITY_PROTOCOLS, ['SSL', 'SASL_SSL']),
  sasl: strictObject({
    mechanism: choice('SASL mechanism', SASL_MECHANISMS, ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'GSSAPI']),
    username: text('a user name'),
    password: text('a password'),
  }).nullish(),
});

const bootstrapServer = strictObject({
  id: name('bootstrap server id'),
  endpoint: hostPortList,
  security: security.nullish(),
});

export const streamingDomain = strictObject({
  name: name('streaming domain name'),
  type: choice('streaming domain type', ['kafka'] as const).optional(),
  kafkaCluster: strictObject({
    name: text('a cluster name'),
    bootstrapServers: list(bootstrapServer, 'bootstrap server', "list the cluster's listeners under bootstrapServers, each with an id and an endpoint"),
  }),
});

export const route = strictObject({
  name: name('route name'),
  endpoint: hostPort(),
  bindAddress: host.optional(),
  brokerPorts: strictObject({
    base: int(1, 65535).optional(),
    count: int(1, 1024).optional(),
  }).nullish(),
  streamingDomain: strictObject({
    name: text('a streaming domain name'),
    bootstrapServerId: text('a bootstrap server id'),
  }),
  authentication: strictObject({ type: choice('authentication type', AUTHENTICATION_TYPES) }).nullish(),
  limits: strictObject({
    /** Open connections to this route's listeners, per worker process. */
    maxConnections: int(
      1,
      10_000_000,
      'use a number of connections from 1 to 10000000 per worker process, or leave it out to apply only gateway.limits.maxConnections',
    ).optional(),
  }).nullish(),
  /** The cluster id clients see through this route, whichever cluster it points at. */
  clusterId: name('cluster id').optional(),
  /** How the route's topics are copied between its clusters: decides what a planned switch does. */
  replication: strictObject({
    type: choice('replication type', REPLICATION_TYPES),
    topics: regex('a regular expression of topic names').optional(),
    groups: regex('a regular expression of consumer group ids').optional(),
    /** Trust MirrorMaker 2's checkpoints as lower bounds for group offsets (MirrorMaker 3.5 or later). */
    checkpoints: bool.optional(),
  }).nullish(),
});

/** The top level; the list items are parsed one by one so that one bad item hides nothing else. */
export const document = strictObject({
  gateway: z.unknown().optional(),
  streamingDomains: list(z.unknown(), 'streaming domain', 'add a streaming domain for each Kafka cluster under streamingDomains'),
  routes: list(z.unknown(), 'route', 'add a route under routes: a name, the endpoint clients use and the streamingDomain it points at'),
});

export type AdminInput = z.output<typeof adminSection>;
export type GatewaySection = z.output<typeof gatewaySection>;
export type StreamingDomainInput = z.output<typeof streamingDomain>;
export type RouteInput = z.output<typeof route>;
