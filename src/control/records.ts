// The records of the switch state topic. One compacted topic per streaming domain holds the same
// records: the committed state of each route (`route/<name>`), the switch protocol in flight
// (`prepare/<route>`, `ack/<route>/<instance>`, `abort/<route>`), instance heartbeats
// (`instance/<id>`) and one audit entry per switch (`audit/<route>/<epoch>`, never overwritten).
// Pure functions only: encoding, decoding and the decisions made from what was read.

export interface RouteStateRecord {
  type: 'route';
  route: string;
  epoch: number;
  domain: string;
  listener: string;
  switchId: string;
  from: string;
  by: string;
  at: string;
  /**
   * Planned switches: how OffsetCommits held by the fence translate, per "topic:partition":
   * [destination log start, a0, b0, a1, b1, ...], lower anchors (a committed offset >= a continues
   * at b or later; see offset-translation.ts). Earlier versions wrote `cut` (an estimate that
   * could skip records) instead; it is no longer written, so an instance of such a version leaves
   * held commits alone and its consumers continue from the installed offsets.
   */
  anchors?: Record<string, string[]>;
  replication?: 'mirrormaker2' | 'offset-preserving' | 'none';
}

export interface PrepareRecord {
  type: 'prepare';
  route: string;
  epoch: number;
  switchId: string;
  domain: string;
  listener: string;
  from: string;
  by: string;
  at: string;
  instances: string[];
  /** A planned switch: instances fence the route's writes while preparing, for at most fenceMs. */
  planned?: { fenceMs: number };
}

export interface AckRecord {
  type: 'ack';
  route: string;
  switchId: string;
  epoch: number;
  instance: string;
  phase: 'prepared' | 'applied';
  ok: boolean;
  error?: string;
  at: string;
  /** Planned switches: the fence is up and forwarded writes are answered. */
  fenced?: { held: number; waitedMs: number; topics: string[] };
}

export interface AbortRecord {
  type: 'abort';
  route: string;
  switchId: string;
  epoch: number;
  reason: string;
  at: string;
}

export interface HeartbeatRecord {
  type: 'instance';
  instance: string;
  at: string;
  admin: string | null;
  routes: Record<string, { epoch: number; domain: string }>;
}

export interface AuditRecord {
  type: 'audit';
  switchId: string;
  route: string;
  epoch: number;
  from: string;
  to: string;
  listener: string;
  by: string;
  at: string;
  durationMs: number;
  outcome: SwitchOutcome;
  forced: boolean;
  message: string;
  instances: InstanceResult[];
  mode?: 'planned' | 'hot';
  phases?: SwitchPhase[];
  /** Planned switches: per group and partition, where its offset went, how, and what it may re-read. */
  groups?: AuditGroup[];
}

export interface AuditGroup {
  groupId: string;
  installed: boolean;
  error?: string;
  /** [partition, source offset, destination offset, method, re-read bound or null] */
  offsets: [string, string, string, string, string | null][];
}

/** One step of a switch, with the time since the switch started. */
export interface SwitchPhase {
  phase: string;
  ms: number;
  detail?: string;
}

export type StateRecord = RouteStateRecord | PrepareRecord | AckRecord | AbortRecord | HeartbeatRecord | AuditRecord;

export type SwitchOutcome = 'switched' | 'unchanged' | 'refused' | 'failed';

export interface InstanceResult {
  instance: string;
  /** Reached the new cluster and is ready to flip (null: did not answer). */
  prepared: boolean | null;
  /** Flipped to the new cluster (null: did not answer). */
  applied: boolean | null;
  error?: string;
}

export function keyOf(r: StateRecord): string {
  switch (r.type) {
    case 'route':
      return `route/${r.route}`;
    case 'prepare':
      return `prepare/${r.route}`;
    case 'ack':
      return `ack/${r.route}/${r.instance}`;
    case 'abort':
      return `abort/${r.route}`;
    case 'instance':
      return `instance/${r.instance}`;
    case 'audit':
      return `audit/${r.route}/${String(r.epoch).padStart(10, '0')}/${r.switchId}`;
  }
}

export function encodeRecord(r: StateRecord): { key: string; value: string } {
  return { key: keyOf(r), value: JSON.stringify(r) };
}

const TYPES = new Set(['route', 'prepare', 'ack', 'abort', 'instance', 'audit']);

/** A record read back, or null for tombstones and values this version does not understand. */
export function decodeRecord(value: string | null): StateRecord | null {
  if (value === null) return null;
  try {
    const r = JSON.parse(value) as { type?: unknown };
    return typeof r === 'object' && r !== null && typeof r.type === 'string' && TYPES.has(r.type) ? (r as StateRecord) : null;
  } catch {
    return null;
  }
}

/** The newest committed state per route among records read from any number of domains. */
export function latestRouteStates(records: Iterable<StateRecord>): Map<string, RouteStateRecord> {
  const out = new Map<string, RouteStateRecord>();
  for (const r of records) {
    if (r.type !== 'route') continue;
    const known = out.get(r.route);
    if (known === undefined || r.epoch > known.epoch) out.set(r.route, r);
  }
  return out;
}

/**
 * Instances whose last heartbeat is at most `windowMs` old at `now`. With `route`, only those whose
 * heartbeat says they serve that route: a switch waits for exactly the instances whose clients it
 * moves. Two deployments that share a cluster and its state topic but serve different routes must
 * not block each other's switches (one of them being down, or on another version, would otherwise
 * stop every switch of the other). An instance that serves the route under the same name is in the
 * switch, whichever deployment it belongs to: route names are the fleet's unit of agreement.
 */
export function liveInstances(heartbeats: Iterable<HeartbeatRecord>, now: number, windowMs: number, route?: string): string[] {
  const out: string[] = [];
  for (const h of heartbeats) {
    const at = Date.parse(h.at);
    if (!Number.isFinite(at) || now - at > windowMs) continue;
    if (route !== undefined && !Object.hasOwn(h.routes ?? {}, route)) continue;
    out.push(h.instance);
  }
  return out.sort();
}

/**
 * When a switch that began with `p` must have ended: its initiator commits or aborts within the
 * fleet timeout (hot), or within the fence budget plus the fleet timeout (planned), and instances
 * lift an orphaned fence 5 s after the fence budget. Past this moment plus `graceMs`, nobody is
 * going to finish it.
 */
export function prepareDeadline(p: PrepareRecord, fleetTimeoutMs: number, graceMs = 5_000): number {
  return Date.parse(p.at) + fleetTimeoutMs + (p.planned?.fenceMs ?? 0) + graceMs;
}

/**
 * Switches that began (a `prepare` record) and have no outcome anywhere (no committed `route`
 * record, `abort` or `audit` entry with their switch id) past their deadline: their initiator died
 * mid-switch. The caller writes the abort and the audit entry for them. The deadline counts from
 * the prepare's `at` (when the switch was asked) and, no earlier than, from when this instance
 * first saw the prepare (`seenAt`): a planned switch checks the clusters before it writes its
 * prepare, so `at` alone could end a slow but live switch.
 */
export function orphanedSwitches(
  open: Iterable<{ prepare: PrepareRecord; seenAt: number }>,
  ended: ReadonlySet<string>,
  now: number,
  fleetTimeoutMs: number,
): PrepareRecord[] {
  const out: PrepareRecord[] = [];
  for (const { prepare: p, seenAt } of open) {
    if (ended.has(p.switchId)) continue;
    const deadline = prepareDeadline(p, fleetTimeoutMs);
    if (!Number.isFinite(deadline)) continue;
    if (now > deadline && now > deadline - Date.parse(p.at) + seenAt) out.push(p);
  }
  return out;
}
