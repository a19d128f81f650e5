// What a planned switch and preflight know about replication between a route's two clusters:
// which partitions and groups are involved, how far the destination is behind the source, and
// where a committed source offset lands on the destination.
//
// Offset-preserving replication (Cluster Linking style) keeps offsets equal: the destination has
// caught up when its log end offset reached the source's, and offsets translate to themselves.
//
// MirrorMaker 2 copies records with their timestamp, key and value but gives them new offsets.
// Turnout compares records instead of trusting offset arithmetic: the destination has caught up
// with a partition when the newest record of the source's tail is found among the newest records
// of the destination. With writes fenced, that is exact, and a group that had consumed everything
// (committed == source end) moves to just after that record on the destination: no re-reads. An
// earlier committed offset moves to the destination copy of the record it points at when that is
// in the compared window, and otherwise to an estimate that errs early (re-reads, never skips):
// the destination's end minus the number of source offsets still ahead of the group.
import type { ReplicationType } from '../config/types.ts';
import type { DecodedRecord } from '../protocol/records.ts';
import { partitionKey, splitKey, UnreadableRecordsError, type ClusterAdmin, type PartitionKey } from './cluster-admin.ts';

/** Records compared at the tail of each partition. */
export const TAIL_WINDOW = 500;

export interface PartitionState {
  key: PartitionKey;
  sourceEnd: bigint;
  destEnd: bigint | null;
  caughtUp: boolean;
  /** Records the destination is behind (null: unknown, more than the compared window). */
  lag: number | null;
  /** Where a group that consumed everything on the source continues on the destination. */
  destCut: bigint | null;
  /** How the state was found (offsets compared, records matched, nothing to copy, records unreadable). */
  method: 'offsets' | 'match' | 'empty' | 'none' | 'unreadable';
  /** Set when the records of one side could not be read: the partition cannot be judged. */
  unreadable?: UnreadablePartition;
}

/** Why the records of a partition could not be compared: which side, which batch, what is wrong. */
export interface UnreadablePartition {
  side: 'source' | 'destination';
  domain: string;
  /** Base offset of the batch that could not be read. */
  offset: bigint;
  /** "gzip", "snappy", "lz4", "zstd", "none", "codec 5", ... */
  codec: string;
  reason: string;
}

/** One line saying which partition could not be judged, where, and why. */
export function describeUnreadable(key: PartitionKey, u: UnreadablePartition): string {
  return `${key} on "${u.domain}" (the ${u.side}): the record batch at offset ${u.offset} ${u.reason}`;
}

export interface TranslatedOffset {
  key: PartitionKey;
  source: bigint;
  dest: bigint;
  method: 'same' | 'end' | 'matched' | 'estimated';
}

function fingerprint(r: DecodedRecord): string {
  return `${r.timestamp}|${r.key === null ? '-' : r.key.toString('base64')}|${r.value === null ? '-' : r.value.toString('base64')}`;
}

interface Tails {
  source: DecodedRecord[];
  /** First source offset the compared window covers: no record before it was read. */
  sourceFrom: bigint;
  /** Fingerprint -> lowest destination offset holding it. */
  destFirst: Map<string, bigint>;
  /** Fingerprint -> highest destination offset holding it. */
  destLast: Map<string, bigint>;
}

/**
 * Tracks the partitions of one switch. Source tails are read once (writes are fenced, so they do
 * not change); destination tails are read again on every check until they have caught up.
 */
export class ReplicationTracker {
  readonly type: ReplicationType;
  private readonly source: ClusterAdmin;
  private readonly dest: ClusterAdmin;
  private readonly sourceTails = new Map<PartitionKey, DecodedRecord[]>();
  private readonly tails = new Map<PartitionKey, Tails>();
  readonly states = new Map<PartitionKey, PartitionState>();

  constructor(type: ReplicationType, source: ClusterAdmin, dest: ClusterAdmin) {
    this.type = type;
    this.source = source;
    this.dest = dest;
  }

  /** Checks every partition not yet caught up; returns all states. */
  async check(sourceEnds: Map<PartitionKey, bigint>): Promise<PartitionState[]> {
    const pending = [...sourceEnds.keys()].filter((k) => this.states.get(k)?.caughtUp !== true);
    if (pending.length > 0) {
      const destEnds = await this.dest.endOffsets(pending);
      await Promise.all(pending.map(async (k) => {
        this.states.set(k, await this.checkOne(k, sourceEnds.get(k)!, destEnds.get(k) ?? 0n));
      }));
    }
    return [...sourceEnds.keys()].map((k) => this.states.get(k)!);
  }

  private async checkOne(key: PartitionKey, sourceEnd: bigint, destEnd: bigint): Promise<PartitionState> {
    if (this.type === 'none') return { key, sourceEnd, destEnd, caughtUp: false, lag: null, destCut: null, method: 'none' };
    if (this.type === 'offset-preserving') {
      const lag = sourceEnd > destEnd ? Number(sourceEnd - destEnd) : 0;
      return { key, sourceEnd, destEnd, caughtUp: lag === 0, lag, destCut: sourceEnd, method: 'offsets' };
    }
    const { topic, partition } = splitKey(key);
    let src = this.sourceTails.get(key);
    let dst: DecodedRecord[];
    try {
      if (src === undefined) {
        src = await this.source.readRecords(topic, partition, sourceEnd - BigInt(TAIL_WINDOW), sourceEnd);
        this.sourceTails.set(key, src);
      }
      if (src.length === 0) return { key, sourceEnd, destEnd, caughtUp: true, lag: 0, destCut: destEnd, method: 'empty' };
      dst = await this.dest.readRecords(topic, partition, destEnd - BigInt(TAIL_WINDOW), destEnd);
    } catch (err) {
      // A batch that cannot be read makes this partition unjudgeable, not the whole check.
      if (!(err instanceof UnreadableRecordsError)) throw err;
      const side = src === undefined ? 'source' : 'destination';
      return { key, sourceEnd, destEnd, caughtUp: false, lag: null, destCut: null, method: 'unreadable', unreadable: { side, domain: err.domain, offset: err.offset, codec: err.codec, reason: err.reason } };
    }
    const destFirst = new Map<string, bigint>();
    const destLast = new Map<string, bigint>();
    for (const r of dst) {
      const f = fingerprint(r);
      if (!destFirst.has(f)) destFirst.set(f, r.offset);
      destLast.set(f, r.offset);
    }
    const sourceFrom = sourceEnd - BigInt(TAIL_WINDOW);
    this.tails.set(key, { source: src, sourceFrom: sourceFrom < 0n ? 0n : sourceFrom, destFirst, destLast });
    for (let i = src.length - 1, lag = 0; i >= 0; i--, lag++) {
      const at = destLast.get(fingerprint(src[i]));
      if (at === undefined) continue;
      return { key, sourceEnd, destEnd, caughtUp: lag === 0, lag, destCut: lag === 0 ? at + 1n : null, method: 'match' };
    }
    return { key, sourceEnd, destEnd, caughtUp: false, lag: null, destCut: null, method: 'match' };
  }

  /** Where a group's committed source offset continues on the destination. Call after check(). */
  translate(key: PartitionKey, committed: bigint): TranslatedOffset {
    const s = this.states.get(key);
    if (this.type === 'offset-preserving' || s === undefined) return { key, source: committed, dest: committed, method: 'same' };
    if (committed >= s.sourceEnd && s.destCut !== null) return { key, source: committed, dest: s.destCut, method: 'end' };
    const tails = this.tails.get(key);
    // Only inside the window: before it, records between the committed offset and the window's
    // first record were never read, and matching past them would skip them.
    if (tails !== undefined && committed >= tails.sourceFrom) {
      const next = tails.source.find((r) => r.offset >= committed);
      const at = next === undefined ? undefined : tails.destFirst.get(fingerprint(next));
      if (at !== undefined) return { key, source: committed, dest: at, method: 'matched' };
    }
    return { key, source: committed, dest: estimate(committed, s.sourceEnd, s.destCut ?? s.destEnd ?? 0n), method: 'estimated' };
  }

  /** The cut each instance needs to translate OffsetCommits it held: [source end, destination cut]. */
  cut(): Record<PartitionKey, [string, string]> {
    const out: Record<PartitionKey, [string, string]> = {};
    for (const [k, s] of this.states) {
      const d = s.destCut ?? s.destEnd;
      if (d !== null) out[k] = [String(s.sourceEnd), String(d)];
    }
    return out;
  }
}

/** A committed offset `back` records before the source end lands that far before the destination cut, not below 0. */
export function estimate(committed: bigint, sourceEnd: bigint, destCut: bigint): bigint {
  const t = destCut - (sourceEnd - committed);
  return t < 0n ? 0n : t > destCut ? destCut : t;
}

/** Translates a held OffsetCommit with a committed cut (see ReplicationTracker.cut). */
export function translateWithCut(type: ReplicationType, cut: Record<PartitionKey, [string, string]>, key: PartitionKey, committed: bigint): bigint | null {
  if (type === 'offset-preserving') return committed;
  const c = cut[key];
  if (c === undefined) return null;
  return estimate(committed, BigInt(c[0]), BigInt(c[1]));
}

/** A topic a switch must cover: not internal, not Turnout's or MirrorMaker's own. */
export function isUserTopic(name: string): boolean {
  return !name.startsWith('__') && !name.startsWith('_turnout') && !name.startsWith('mm2-') && !/\.(checkpoints\.internal|internal|replica)$/.test(name) && name !== 'heartbeats';
}

export interface TopicComparison {
  topic: string;
  sourcePartitions: number | null;
  destPartitions: number | null;
  problem: string | null;
}

/** The partitions of `topics` on the source, and what differs on the destination. */
export async function compareTopics(source: ClusterAdmin, dest: ClusterAdmin, topics: string[]): Promise<{ partitions: PartitionKey[]; topics: TopicComparison[] }> {
  const [s, d] = await Promise.all([source.topics(topics), dest.topics(topics)]);
  const partitions: PartitionKey[] = [];
  const out: TopicComparison[] = [];
  for (const t of [...topics].sort()) {
    const sp = s.get(t)?.leaders.size ?? null;
    const dp = d.get(t)?.leaders.size ?? null;
    let problem: string | null = null;
    if (sp === null) problem = 'not on the source';
    else if (dp === null) problem = 'missing on the destination';
    else if (dp < sp) problem = `the destination has ${dp} partitions, the source ${sp}`;
    out.push({ topic: t, sourcePartitions: sp, destPartitions: dp, problem });
    if (sp !== null) for (let p = 0; p < sp; p++) partitions.push(partitionKey(t, p));
  }
  return { partitions, topics: out };
}

export interface GroupOffsets {
  groupId: string;
  state: string;
  offsets: Map<PartitionKey, bigint>;
}

/** Consumer groups (matching `pattern`, when given) with committed offsets on `partitions`. */
export async function groupsOn(source: ClusterAdmin, partitions: Set<PartitionKey>, pattern: RegExp | null): Promise<GroupOffsets[]> {
  const groups = (await source.groups()).filter((g) => (g.protocolType === 'consumer' || g.protocolType === '') && (pattern === null || pattern.test(g.groupId)));
  const out: GroupOffsets[] = [];
  await Promise.all(groups.map(async (g) => {
    const all = await source.groupOffsets(g.groupId);
    const offsets = new Map([...all].filter(([k]) => partitions.has(k)));
    if (offsets.size > 0) out.push({ groupId: g.groupId, state: g.state, offsets });
  }));
  return out.sort((a, b) => a.groupId.localeCompare(b.groupId));
}
