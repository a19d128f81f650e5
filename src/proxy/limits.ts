// What keeps one bad or hostile client from costing anyone else: the process-wide budget of
// buffered bytes, the connection counts checked at accept, and log lines aggregated per reason.
// Each is a small stateful object with no socket code, so unit tests drive them directly; the
// connection (connection.ts) and the listener (listener.ts) apply them.
//
// Every limit here is per process: with worker processes (src/cluster) each worker has its own
// budget, its own connection counts and its own log aggregation.
import type { Logger } from '../observability/log.ts';

/**
 * Bytes buffered by every connection of the process: partial frames being assembled, requests
 * held, responses waiting, and bytes queued on sockets. Connections report their own total after
 * each read and drain (adjust); when the sum is above the limit, connections that hold bytes stop
 * reading and wait here until it falls below the low-water mark. Nobody is closed for it.
 */
export class MemoryBudget {
  readonly limit: number;
  /** Waiters are resumed once usage falls to this (90% of the limit), so they do not flap. */
  readonly lowWater: number;
  private usedBytes = 0;
  private readonly waiters = new Set<() => void>();
  /** Called when the first waiter arrives and when the last one leaves (a poller re-accounts meanwhile). */
  onWaiting: ((waiting: boolean) => void) | null = null;
  /** Reads paused because of this budget, for metrics. */
  pauses = 0;

  constructor(limit: number) {
    this.limit = limit;
    this.lowWater = Math.floor(limit * 0.9);
  }

  get used(): number {
    return this.usedBytes;
  }

  get over(): boolean {
    return this.usedBytes > this.limit;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** A connection's usage went from `before` to `after` bytes. */
  adjust(before: number, after: number): void {
    if (before === after) return;
    this.usedBytes += after - before;
    if (this.usedBytes <= this.lowWater && this.waiters.size > 0) this.wakeAll();
  }

  /** Calls `resume` once usage is back under the low-water mark. */
  wait(resume: () => void): void {
    if (this.waiters.has(resume)) return;
    this.pauses++;
    this.waiters.add(resume);
    if (this.waiters.size === 1) this.onWaiting?.(true);
  }

  /** A connection that closed no longer waits. */
  cancel(resume: () => void): void {
    if (this.waiters.delete(resume) && this.waiters.size === 0) this.onWaiting?.(false);
  }

  private wakeAll(): void {
    const all = [...this.waiters];
    this.waiters.clear();
    this.onWaiting?.(false);
    for (const resume of all) resume();
  }
}

/** Why a connection was refused at accept, as counted in metrics. */
export const RefuseReason = {
  MaxConnections: 'max_connections',
  MaxConnectionsPerRoute: 'max_connections_per_route',
  MaxConnectionsPerAddress: 'max_connections_per_address',
} as const;
export type RefuseReason = (typeof RefuseReason)[keyof typeof RefuseReason];

/** Where each refusal's limit is configured, for the log line. */
export const REFUSE_CONFIG_KEY: Record<RefuseReason, string> = {
  max_connections: 'gateway.limits.maxConnections',
  max_connections_per_route: 'routes[].limits.maxConnections',
  max_connections_per_address: 'gateway.limits.maxConnectionsPerAddress',
};

/** Open connections per process, per route and per client address, checked when one is accepted. */
export class ConnectionAdmission {
  private readonly maxConnections: number;
  private readonly maxPerAddress: number;
  private total = 0;
  private readonly byRoute = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(limits: { maxConnections: number; maxConnectionsPerAddress: number }) {
    this.maxConnections = limits.maxConnections;
    this.maxPerAddress = limits.maxConnectionsPerAddress;
  }

  get open(): number {
    return this.total;
  }

  /** Counts the connection and returns null, or returns why it is refused (and counts nothing). */
  admit(route: string, routeMax: number | null, address: string): RefuseReason | null {
    if (this.total >= this.maxConnections) return RefuseReason.MaxConnections;
    const onRoute = this.byRoute.get(route) ?? 0;
    if (routeMax !== null && onRoute >= routeMax) return RefuseReason.MaxConnectionsPerRoute;
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= this.maxPerAddress) return RefuseReason.MaxConnectionsPerAddress;
    this.total++;
    this.byRoute.set(route, onRoute + 1);
    this.byAddress.set(address, fromAddress + 1);
    return null;
  }

  /** An admitted connection closed. */
  release(route: string, address: string): void {
    this.total--;
    const r = (this.byRoute.get(route) ?? 1) - 1;
    if (r === 0) this.byRoute.delete(route);
    else this.byRoute.set(route, r);
    const a = (this.byAddress.get(address) ?? 1) - 1;
    if (a === 0) this.byAddress.delete(address);
    else this.byAddress.set(address, a);
  }
}

interface Suppressed {
  count: number;
  level: 'warn' | 'info';
  msg: string;
  fields: Record<string, unknown>;
}

/**
 * Warnings that a client can cause over and over (a bad frame, a refused connection) are logged
 * once per reason; the same reason again within the window is logged at debug only, and counted.
 * At the end of each window, one line per reason says how many were suppressed. A reason quiet
 * for a whole window is logged in full again the next time.
 */
export class WarningAggregator {
  private readonly log: Logger;
  private readonly windowMs: number;
  private readonly reasons = new Map<string, Suppressed>();
  private timer: NodeJS.Timeout | null = null;

  /** `log`: where the summary lines go (the full lines go to the logger each call names). */
  constructor(log: Logger, windowMs = 10_000) {
    this.log = log;
    this.windowMs = windowMs;
  }

  /** Logs `msg` on `log` at `level` unless `key` was logged in this window; true when it was logged in full. */
  warn(log: Logger, key: string, fields: Record<string, unknown>, msg: string, level: 'warn' | 'info' = 'warn'): boolean {
    const seen = this.reasons.get(key);
    if (seen === undefined) {
      this.reasons.set(key, { count: 0, level, msg, fields: summaryFields(fields) });
      log[level](fields, msg);
      this.timer ??= setInterval(() => this.flush(), this.windowMs).unref();
      return true;
    }
    seen.count++;
    log.debug({ ...fields, aggregated: key }, msg);
    return false;
  }

  /** Logs the suppressed counts (also called by the timer); forgets reasons that were quiet. */
  flush(): void {
    for (const [key, s] of this.reasons) {
      if (s.count === 0) {
        this.reasons.delete(key);
        continue;
      }
      this.log[s.level](
        { ...s.fields, reason: key, suppressed: s.count, windowMs: this.windowMs },
        `${s.count} more "${s.msg}" (${key}) suppressed in the last ${Math.round(this.windowMs / 1000)} s`,
      );
      s.count = 0;
    }
    if (this.reasons.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** What a summary line repeats from the first one: the route and the limit, not one client's details. */
function summaryFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['route', 'limit', 'configKey']) if (fields[k] !== undefined) out[k] = fields[k];
  return out;
}

/** host:port of a socket for logs; a socket closed before we looked has no address, and says so. */
export function describePeer(address: string | undefined, port: number | undefined): string {
  if (address === undefined || port === undefined) return 'unknown (closed before its address was read)';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
