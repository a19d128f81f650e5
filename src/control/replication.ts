// What a planned switch and preflight know about replication between a route's two clusters:
// which partitions and groups are involved, how far the destination is behind the source, and
// where a committed source offset continues on the destination.
//
// Offset-preserving replication (Cluster Linking style) keeps offsets equal: the destination has
// caught up when its log end offset reached the source's, offsets translate to themselves, and a
// sample of records (the last offsets of each partition) is compared to check that they really
// are the same records.
//
// MirrorMaker 2 copies records with their timestamp, key and value but gives them new offsets, and
// leaves out what it does not copy (transaction markers; aborted records with a read_committed
// source consumer). Turnout compares records instead of trusting offset arithmetic: the
// destination has caught up with a partition when the newest record of the source's tail is found
// among the newest records of the destination; with writes fenced, that is exact. Committed offsets
// are translated from evidence that never points past a group's true position (see
// offset-translation.ts): the records paired at the caught-up tail, MirrorMaker's offset syncs in
// either direction (mirror-maker.ts), its checkpoints, and the destination's log start.
import type { ReplicationType } from '../config/types.ts';
import type { DecodedRecord } from '../protocol/records.ts';
import { type ClusterAdmin, type PartitionKey, partitionKey, splitKey, type UnreadableRecordsError } from './cluster-admin.ts';
import { CHECKPOINTS_TOPIC, type Checkpoint, decodeCheckpoint, decodeOffsetSync, OFFSET_SYNCS_TOPIC } from './mirror-maker.ts';
import {
  alignTails,
  type Bound,
  decide,
  encodeAnchors,
  MAX_ANCHORS,
  pairListBounds,
  SyncIndex,
  syncBounds,
  type TranslationMethod,
  thinAnchors,
} from './offset-translation.ts';
import type { RangeRead, RangesRead, ReadRange } from './partition-reader.ts';

/** Records compared at the tail of each partition. */
export const TAIL_WINDOW = 500;
/** How far back (offsets) the source tail is widened to find a committed record. */
const MAX_WIDENED_WINDOW = 32_000n;
/** Records compared per partition to check that offset-preserving replication preserved offsets. */
export const SAMPLE_WINDOW = 16;
/** Offset-sync topics read per switch, both clusters together. */
const MAX_SYNC_TOPICS = 16;
/** Bytes one Fetch of MirrorMaker's topics may return, and decompress to. */
const MM2_TOPIC_BUDGET = 1024 * 1024;
/** Anchors for held OffsetCommits in the route record, all partitions together (about 20 bytes each). */
const ANCHOR_BUDGET = 16_000;
/** Bytes the anchors may take in the route record (a broker's default message limit is 1 MB). */
const ANCHOR_BYTES = 600_000;
/** Partitions whose newest sync is checked per batched read (both clusters). */
const VERIFIED_PER_READ = 2000;
/** Newest offset syncs per partition whose records are compared to tell a sync topic's direction. */
const CHECKED_SYNCS = 8;

export interface PartitionState {
  key: PartitionKey;
  sourceEnd: bigint;
  destEnd: bigint | null;
  caughtUp: boolean;
  /** Records the destination is behind (null: unknown, more than the compared window). */
  lag: number | null;
  /** Where a group that consumed everything on the source continues on the destination. */
  destCut: bigint | null;
  /** The cut is exact (false: records with repeated content were matched by order; it may be early). */
  cutExact?: boolean;
  /** How the state was found (offsets compared, records matched, nothing to copy, records unreadable). */
  method: 'offsets' | 'match' | 'empty' | 'none' | 'unreadable';
  /** Set when the records of one side could not be read: the partition cannot be judged. */
  unreadable?: UnreadablePartition;
  /** Offset-preserving replication only: records at the same offset differ (offsets are not preserved). */
  mismatch?: string;
  /** Why the partition cannot be judged yet (an open transaction on the source). */
  waiting?: string;
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
  method: TranslationMethod;
  /** At most this many destination offsets may be delivered to the group again (null: unknown). */
  reReadBound: bigint | null;
}

/** What offset translation drew on, for reports. */
export interface TranslationEvidence {
  /** MirrorMaker offset-sync topics used: where, which direction, how many syncs. */
  offsetSyncs: { domain: string; topic: string; direction: 'forward' | 'reverse' | 'equal offsets'; syncs: number }[];
  /** Offset-sync topics found but not used, and why. */
  ignored: string[];
  /** Checkpoint topics read on the destination, and the checkpoints kept. */
  checkpoints: { topic: string; kept: number }[];
  /** Time spent reading MirrorMaker's topics. */
  readMs?: number;
}

function fingerprint(r: DecodedRecord): string {
  return `${r.timestamp}|${r.key === null ? '-' : r.key.toString('base64')}|${r.value === null ? '-' : r.value.toString('base64')}`;
}

/** One offset-sync topic read for a switch, indexed both ways until its direction is known. */
interface SyncSource {
  domain: string;
  topic: string;
  /** Sync topic on the source cluster or the destination. */
  onSource: boolean;
  forward: Map<PartitionKey, SyncIndex>;
  reverse: Map<PartitionKey, SyncIndex>;
  /** The newest syncs per partition whose two offsets differ (up to CHECKED_SYNCS): [upstream, downstream]. */
  newest: Map<PartitionKey, [bigint, bigint][]>;
  /** Syncs whose upstream and downstream offsets differ: only for those does the direction matter. */
  asymmetric: number;
  count: number;
  direction?: 'forward' | 'reverse';
  /** Partitions whose newest sync names different records on the two clusters: their syncs are not used. */
  rejected: Set<PartitionKey>;
}

/** A partition being checked: its ends on both sides. */
interface Item {
  key: PartitionKey;
  sourceEnd: bigint;
  destEnd: bigint;
}

/** The records read at a partition's tail on one side, and the offset up to which that side is known. */
interface Tail {
  records: DecodedRecord[];
  to: bigint;
}

/**
 * What to read so that a tail known up to `known.to` covers the window [end - TAIL_WINDOW, end):
 * the offsets after `known.to` when that is inside the window, else the whole window; null when
 * the tail is known up to `end` already.
 */
export function tailRange(known: { to: bigint } | undefined, end: bigint): { from: bigint; to: bigint } | null {
  if (known !== undefined && known.to === end) return null;
  const windowStart = end - BigInt(TAIL_WINDOW);
  if (known !== undefined && known.to < end && known.to >= windowStart) return { from: known.to, to: end };
  return { from: windowStart, to: end };
}

/**
 * The tail at `end` after reading `range`: what was known (when the range continues it) and what
 * was read, kept to the window [end - TAIL_WINDOW, end). That is what a read of the whole window
 * returns: records below what was read before are not rewritten.
 */
export function mergeTail(known: Tail | undefined, range: { from: bigint }, read: RangeRead, end: bigint): Tail {
  const windowStart = end - BigInt(TAIL_WINDOW);
  const base = known !== undefined && range.from === known.to ? known.records : [];
  return { records: [...base, ...read.records].filter((r) => r.offset >= windowStart), to: read.readTo };
}

/**
 * Tracks the partitions of one switch. A partition's tail on each side is read once, then only
 * what is new: a check before the fence reads the bulk while writes still flow, the check after
 * it only the records written since (fenced, the source no longer changes). Destination tails are
 * read again on every check until they have caught up.
 */
export class ReplicationTracker {
  readonly type: ReplicationType;
  private readonly source: ClusterAdmin;
  private readonly dest: ClusterAdmin;
  /** Per partition and side: the records of the last tail read (the window at that end) and where it was read to. */
  private readonly sourceTails = new Map<PartitionKey, Tail>();
  private readonly destTails = new Map<PartitionKey, Tail>();
  /** Records paired at the tails: [source offset, destination offset], both increasing. */
  private readonly tailPairs = new Map<PartitionKey, [bigint, bigint][]>();
  readonly states = new Map<PartitionKey, PartitionState>();
  private destStarts = new Map<PartitionKey, bigint>();
  private syncs: SyncSource[] = [];
  private checkpoints = new Map<string, Checkpoint>();
  readonly evidence: TranslationEvidence = { offsetSyncs: [], ignored: [], checkpoints: [] };
  /** Reading MirrorMaker's topics stops at this time (ms since the epoch; null: no limit). */
  private deadline: number | null = null;
  /** Lower anchors per partition from the translations made (for OffsetCommits held by the fence). */
  private readonly translated = new Map<PartitionKey, [bigint, bigint][]>();

  constructor(type: ReplicationType, source: ClusterAdmin, dest: ClusterAdmin) {
    this.type = type;
    this.source = source;
    this.dest = dest;
  }

  /**
   * Checks every partition not yet caught up, and every caught-up one whose source end moved since
   * (a check before the fence, then one after it); returns all states. Tails are read batched
   * (one Fetch per broker for many partitions) and only what is new since the last read of a
   * partition's side. Past `deadline` (ms since the epoch) reading stops with a ReadDeadlineError.
   */
  async check(sourceEnds: Map<PartitionKey, bigint>, deadline: number | null = null): Promise<PartitionState[]> {
    const pending = [...sourceEnds.keys()].filter((k) => {
      const s = this.states.get(k);
      return s === undefined || !s.caughtUp || s.sourceEnd !== sourceEnds.get(k);
    });
    if (pending.length > 0) {
      const [destEnds, stable] = await Promise.all([
        this.dest.endOffsets(pending),
        this.type === 'mirrormaker2' ? this.source.stableOffsets(pending) : Promise.resolve(new Map<PartitionKey, bigint>()),
      ]);
      const items = pending.map((key): Item => ({ key, sourceEnd: sourceEnds.get(key)!, destEnd: destEnds.get(key) ?? 0n }));
      let found: PartitionState[];
      if (this.type === 'none') found = items.map((i) => ({ ...i, caughtUp: false, lag: null, destCut: null, method: 'none' }));
      else if (this.type === 'offset-preserving') found = await this.checkOffsets(items, deadline);
      else {
        found = [];
        const readable = items.filter((i) => {
          const lso = stable.get(i.key) ?? i.sourceEnd;
          if (lso >= i.sourceEnd) return true;
          // An open transaction on the source: what follows its first record is not readable
          // read_committed (nor copied by MirrorMaker reading so) until it ends. Not caught up.
          found.push({
            ...i,
            caughtUp: false,
            lag: null,
            destCut: null,
            method: 'match',
            waiting: `an open transaction on "${this.source.domain.name}" (last stable offset ${lso}, end ${i.sourceEnd}): records after it are not final until it commits or aborts`,
          });
          return false;
        });
        found.push(...(await this.checkTails(readable, deadline)));
      }
      for (const s of found) this.states.set(s.key, s);
    }
    return [...sourceEnds.keys()].map((k) => this.states.get(k)!);
  }

  /** Offset-preserving replication: end offsets compared; the last SAMPLE_WINDOW records of caught-up partitions compared on both sides. */
  private async checkOffsets(items: readonly Item[], deadline: number | null): Promise<PartitionState[]> {
    const states = items.map((i): PartitionState => {
      const lag = i.sourceEnd > i.destEnd ? Number(i.sourceEnd - i.destEnd) : 0;
      return { ...i, caughtUp: lag === 0, lag, destCut: i.sourceEnd, method: 'offsets' };
    });
    const sampled = states.filter((s) => s.caughtUp && s.sourceEnd > 0n);
    const ranges = sampled.map((s) => ({ key: s.key, from: s.sourceEnd - BigInt(SAMPLE_WINDOW), to: s.sourceEnd }));
    const [src, dst] = await Promise.all([this.source.readRanges(ranges, { deadline }), this.dest.readRanges(ranges, { deadline })]);
    for (const s of sampled) {
      const bad = src.unreadable.get(s.key) ?? dst.unreadable.get(s.key);
      if (bad !== undefined) {
        Object.assign(s, {
          caughtUp: false,
          lag: null,
          method: 'unreadable',
          unreadable: this.unreadable(bad, src.unreadable.has(s.key) ? 'source' : 'destination'),
        });
        continue;
      }
      const mismatch = this.compareSample(src.read.get(s.key)?.records ?? [], dst.read.get(s.key)?.records ?? []);
      if (mismatch !== null) Object.assign(s, { caughtUp: false, mismatch });
    }
    return states;
  }

  /** A description of the first difference between the records at the same offsets on both sides, or null. */
  private compareSample(s: readonly DecodedRecord[], d: readonly DecodedRecord[]): string | null {
    const dm = new Map(d.map((r) => [r.offset, fingerprint(r)]));
    for (const r of s) {
      const other = dm.get(r.offset);
      if (other === undefined) return `offset ${r.offset} holds a record on "${this.source.domain.name}" but none on "${this.dest.domain.name}"`;
      if (other !== fingerprint(r))
        return `the records at offset ${r.offset} differ (timestamp, key or value) between "${this.source.domain.name}" and "${this.dest.domain.name}"`;
      dm.delete(r.offset);
    }
    const extra = dm.keys().next();
    return extra.done === true ? null : `offset ${extra.value} holds a record on "${this.dest.domain.name}" but none on "${this.source.domain.name}"`;
  }

  private unreadable(err: UnreadableRecordsError, side: 'source' | 'destination'): UnreadablePartition {
    return { side, domain: err.domain, offset: err.offset, codec: err.codec, reason: err.reason };
  }

  /** MirrorMaker 2: the tails of both sides, compared. */
  private async checkTails(items: readonly Item[], deadline: number | null): Promise<PartitionState[]> {
    const out: PartitionState[] = [];
    const unreadable = (i: Item, err: UnreadableRecordsError, side: 'source' | 'destination'): PartitionState => ({
      ...i,
      caughtUp: false,
      lag: null,
      destCut: null,
      method: 'unreadable',
      unreadable: this.unreadable(err, side),
    });
    // Source tails, read committed: aborted records are never copied (MirrorMaker reading
    // read_committed), and a partition whose newest records are aborted would otherwise never look
    // caught up. Only what each side gained since its tail was last read is fetched, both sides at
    // once (a destination tail read for a partition with nothing to compare is not needed, but
    // costs less than a second round trip for the others).
    const [srcRead, dstRead] = await Promise.all([
      this.readTails(
        this.source,
        this.sourceTails,
        items.map((i) => [i.key, i.sourceEnd]),
        deadline,
      ),
      this.readTails(
        this.dest,
        this.destTails,
        items.map((i) => [i.key, i.destEnd]),
        deadline,
      ),
    ]);
    const widen: Item[] = [];
    const withTail: Item[] = [];
    for (const i of items) {
      const bad = srcRead.unreadable.get(i.key);
      if (bad !== undefined) out.push(unreadable(i, bad, 'source'));
      else if (this.sourceTails.get(i.key)!.records.length === 0 && i.sourceEnd - BigInt(TAIL_WINDOW) > 0n) widen.push(i);
      else withTail.push(i);
    }
    // A window with no committed record (only aborted transactions) is widened backwards until one
    // is found or the log start is reached: "nothing to copy" must be a fact, not a guess.
    for (let width = BigInt(TAIL_WINDOW), left = widen; left.length > 0; width *= 8n) {
      const starts = await this.source.startOffsets(left.map((i) => i.key));
      const next: Item[] = [];
      for (const i of left) {
        if (i.sourceEnd - width <= (starts.get(i.key) ?? 0n)) withTail.push(i);
        else if (width >= MAX_WIDENED_WINDOW) {
          this.sourceTails.delete(i.key);
          out.push({
            ...i,
            caughtUp: false,
            lag: null,
            destCut: null,
            method: 'match',
            waiting: `no committed record in the last ${width} offsets of ${i.key} on "${this.source.domain.name}" (only aborted transactions): cannot tell whether the destination holds the committed ones`,
          });
        } else next.push(i);
      }
      const wider = width * 8n;
      const read = await this.source.readRanges(
        next.map((i) => ({ key: i.key, from: i.sourceEnd - wider, to: i.sourceEnd })),
        { readCommitted: true, deadline },
      );
      left = [];
      for (const i of next) {
        const bad = read.unreadable.get(i.key);
        if (bad !== undefined) {
          this.sourceTails.delete(i.key);
          out.push(unreadable(i, bad, 'source'));
          continue;
        }
        const r = read.read.get(i.key)!;
        this.sourceTails.set(i.key, { records: r.records.slice(-TAIL_WINDOW), to: r.readTo });
        if (r.records.length > 0 || i.sourceEnd - wider <= 0n) withTail.push(i);
        else left.push(i);
      }
    }
    const compared: Item[] = [];
    for (const i of withTail) {
      if (this.sourceTails.get(i.key)!.records.length === 0) out.push({ ...i, caughtUp: true, lag: 0, destCut: i.destEnd, method: 'empty' });
      else compared.push(i);
    }
    for (const i of compared) {
      const bad = dstRead.unreadable.get(i.key);
      out.push(
        bad !== undefined ? unreadable(i, bad, 'destination') : this.compare(i, this.sourceTails.get(i.key)!.records, this.destTails.get(i.key)!.records),
      );
    }
    return out;
  }

  /**
   * Brings the cached tails of one side up to date with the given ends: only the offsets after
   * what was read before, when they fall inside the window [end - TAIL_WINDOW, end), else the
   * window. The cache then holds the window's records; a partition whose records cannot be read
   * is dropped from it.
   */
  private async readTails(
    admin: ClusterAdmin,
    cache: Map<PartitionKey, Tail>,
    ends: readonly [PartitionKey, bigint][],
    deadline: number | null,
  ): Promise<RangesRead> {
    const ranges: (ReadRange & { end: bigint })[] = [];
    for (const [key, end] of ends) {
      const r = tailRange(cache.get(key), end);
      if (r !== null) ranges.push({ key, ...r, end });
    }
    const read = await admin.readRanges(
      ranges.map(({ key, from, to }) => ({ key, from, to })),
      { readCommitted: true, deadline },
    );
    for (const r of ranges) {
      const got = read.read.get(r.key);
      if (got === undefined) cache.delete(r.key);
      else cache.set(r.key, mergeTail(cache.get(r.key), r, got, r.end));
    }
    return read;
  }

  /** Pairs the tails and decides whether the destination holds every record of the source's. */
  private compare(i: Item, src: readonly DecodedRecord[], dst: readonly DecodedRecord[]): PartitionState {
    const destFps = dst.map((r) => ({ offset: r.offset, fp: fingerprint(r) }));
    const srcFps = src.map((r) => ({ offset: r.offset, fp: fingerprint(r) }));
    // Records paired by unique content are safe evidence whether or not the destination has caught up.
    const pairs = alignTails(srcFps, destFps);
    this.tailPairs.set(i.key, pairs);
    const c = caughtUpAfter(srcFps, destFps, pairs);
    if (c === null) return { ...i, caughtUp: false, lag: null, destCut: null, method: 'match' };
    return {
      ...i,
      caughtUp: c.missing === 0,
      lag: c.missing,
      destCut: c.missing === 0 ? c.cut : null,
      ...(c.missing === 0 ? { cutExact: c.exact } : {}),
      method: 'match',
    };
  }

  /** How many partitions of `keys` are caught up (for the report of a check that did not finish). */
  caughtUpCount(keys: Iterable<PartitionKey>): number {
    let n = 0;
    for (const k of keys) if (this.states.get(k)?.caughtUp === true) n++;
    return n;
  }

  /** Reads the destination's log starts again (after the fence: retention may have moved them since prepare). */
  async refreshStarts(keys: readonly PartitionKey[]): Promise<void> {
    if (this.type !== 'mirrormaker2' || keys.length === 0) return;
    this.destStarts = await this.dest.startOffsets(keys);
  }

  /**
   * Reads what translating these committed offsets needs besides the tails: the destination's log
   * starts and, with MirrorMaker 2, its offset syncs (both clusters, both directions, kept only
   * around the committed offsets) and its checkpoints for these groups. `sourceAliases` are the
   * names MirrorMaker may know the source cluster by (its checkpoints topic is named after it).
   * `keys` are the partitions of the switch (default: those checked so far); it can run while
   * check() is still waiting for replication.
   */
  async prepare(
    groups: readonly { groupId: string; offsets: Map<PartitionKey, bigint> }[],
    sourceAliases: readonly string[],
    keys: readonly PartitionKey[] = [...this.states.keys()],
    deadline: number | null = null,
  ): Promise<void> {
    const started = performance.now();
    this.deadline = deadline;
    try {
      await this.prepareEvidence(groups, sourceAliases, keys);
    } finally {
      this.evidence.readMs = Math.round(performance.now() - started);
    }
  }

  private async prepareEvidence(
    groups: readonly { groupId: string; offsets: Map<PartitionKey, bigint> }[],
    sourceAliases: readonly string[],
    keys: readonly PartitionKey[],
  ): Promise<void> {
    const wantedKeys = new Set(keys);
    if (keys.length === 0 || this.type !== 'mirrormaker2') return;
    this.destStarts = await this.dest.startOffsets(keys);
    const queries = new Map<PartitionKey, Set<bigint>>();
    for (const k of keys) queries.set(k, new Set());
    for (const g of groups) for (const [k, o] of g.offsets) queries.get(k)?.add(o);
    const [srcTopics, dstTopics] = await Promise.all([this.source.topics(null), this.dest.topics(null)]);
    const found: { admin: ClusterAdmin; onSource: boolean; topic: string; partitions: number }[] = [];
    for (const [name, info] of srcTopics)
      if (OFFSET_SYNCS_TOPIC.test(name)) found.push({ admin: this.source, onSource: true, topic: name, partitions: info.leaders.size });
    for (const [name, info] of dstTopics)
      if (OFFSET_SYNCS_TOPIC.test(name)) found.push({ admin: this.dest, onSource: false, topic: name, partitions: info.leaders.size });
    // A cluster replicating to a few others has a few of these; more is not MirrorMaker's doing.
    if (found.length > MAX_SYNC_TOPICS) {
      for (const f of found.splice(MAX_SYNC_TOPICS))
        this.evidence.ignored.push(`${f.topic} on "${f.admin.domain.name}": not read (more than ${MAX_SYNC_TOPICS} offset-sync topics)`);
    }
    // A topic that cannot be read is left out (and listed): translations fall back to other evidence.
    const read = await Promise.all(
      found.map((f) =>
        this.readSyncs(f.admin, f.onSource, f.topic, f.partitions, queries).catch((err: unknown) => {
          this.evidence.ignored.push(`${f.topic} on "${f.admin.domain.name}": cannot be read (${(err as Error).message})`);
          return null;
        }),
      ),
    );
    this.syncs = read.filter((x): x is SyncSource => x !== null);
    this.syncs = this.syncs.filter((s) => s.count > 0); // a flow that copies none of these partitions
    for (const s of this.syncs) {
      s.direction = await this.direction(s);
      if (s.direction !== undefined) await this.verifyPartitions(s);
      if (s.rejected.size > 0)
        this.evidence.ignored.push(
          `${s.topic} on "${s.domain}" for ${s.rejected.size} partition(s) (${[...s.rejected].slice(0, 3).join(', ')}${s.rejected.size > 3 ? ', ...' : ''}): their newest sync names different records on "${this.source.domain.name}" and "${this.dest.domain.name}"`,
        );
      if (s.direction === undefined)
        this.evidence.ignored.push(
          `${s.topic} on "${s.domain}" (${s.count} syncs for these partitions): its syncs do not name the same records on "${this.source.domain.name}" and "${this.dest.domain.name}" (a flow to another cluster?)`,
        );
      else this.evidence.offsetSyncs.push({ domain: s.domain, topic: s.topic, direction: s.asymmetric === 0 ? 'equal offsets' : s.direction, syncs: s.count });
    }
    this.syncs = this.syncs.filter((s) => s.direction !== undefined);
    const wanted = new Set(groups.map((g) => g.groupId));
    for (const alias of new Set(sourceAliases)) {
      const topic = `${alias}.checkpoints.internal`;
      const info = dstTopics.get(topic);
      if (info === undefined || !CHECKPOINTS_TOPIC.test(topic)) continue;
      let kept = 0;
      const found = new Map<string, Checkpoint>();
      try {
        for (let p = 0; p < info.leaders.size; p++) {
          await this.readTopic(this.dest, topic, p, (r) => {
            const c = decodeCheckpoint(r.key, r.value);
            if (c === null || !wanted.has(c.group) || !wantedKeys.has(c.key)) return;
            if (!found.has(`${c.group}\u0000${c.key}`)) kept++;
            found.set(`${c.group}\u0000${c.key}`, c);
          });
        }
      } catch (err) {
        this.evidence.ignored.push(`${topic} on "${this.dest.domain.name}": cannot be read (${(err as Error).message})`);
        continue;
      }
      for (const [k, c] of found) this.checkpoints.set(k, c);
      this.evidence.checkpoints.push({ topic, kept });
    }
  }

  private async readSyncs(
    admin: ClusterAdmin,
    onSource: boolean,
    topic: string,
    partitions: number,
    queries: Map<PartitionKey, Set<bigint>>,
  ): Promise<SyncSource> {
    const s: SyncSource = {
      domain: admin.domain.name,
      topic,
      onSource,
      forward: new Map(),
      reverse: new Map(),
      newest: new Map(),
      count: 0,
      asymmetric: 0,
      rejected: new Set(),
    };
    for (let p = 0; p < partitions; p++) {
      await this.readTopic(admin, topic, p, (r) => {
        const sync = decodeOffsetSync(r.key, r.value);
        if (sync === null) return;
        const q = queries.get(sync.key);
        if (q === undefined) return;
        s.count++;
        let f = s.forward.get(sync.key);
        let b = s.reverse.get(sync.key);
        if (f === undefined || b === undefined) {
          f = new SyncIndex(q);
          b = new SyncIndex(q);
          s.forward.set(sync.key, f);
          s.reverse.set(sync.key, b);
        }
        // Forward (source -> destination flow): upstream is the source offset. Reverse: downstream is.
        f.add(sync.upstream, sync.downstream);
        b.add(sync.downstream, sync.upstream);
        if (sync.upstream !== sync.downstream) {
          s.asymmetric++;
          const recent = s.newest.get(sync.key) ?? [];
          recent.push([sync.upstream, sync.downstream]);
          if (recent.length > CHECKED_SYNCS) recent.shift();
          s.newest.set(sync.key, recent);
        }
      });
    }
    return s;
  }

  /**
   * Which way a sync topic's flow runs, from the records its newest syncs name on both clusters:
   * every sync that can be checked (its records still exist) must name the same record on both
   * sides in one direction; a topic whose syncs disagree, or match both ways, is not used.
   */
  private async direction(s: SyncSource): Promise<'forward' | 'reverse' | undefined> {
    // Offsets equal on both sides (a topic copied from its start, without transactions): both
    // directions give the same pairs, so which one it is does not matter. That is checked too.
    if (s.asymmetric === 0) return (await this.sameOffsets(s)) ? 'forward' : undefined;
    // Per direction: how many syncs name the same record on both sides, and how many do not.
    const votes = { forward: { same: 0, differ: 0 }, reverse: { same: 0, differ: 0 } };
    const vote = (v: { same: number; differ: number }, a: string | null, b: string | null) => {
      if (a === null || b === null) return; // a record gone (retention, compaction): cannot tell
      if (a === b) v.same++;
      else v.differ++;
    };
    for (const [key, recent] of [...s.newest].slice(0, 3)) {
      const one = (admin: ClusterAdmin, o: bigint) => this.distinctRecord(admin, key, o);
      await Promise.all(
        recent.map(async ([up, down]) => {
          const [su, dd, du, sd] = await Promise.all([one(this.source, up), one(this.dest, down), one(this.dest, up), one(this.source, down)]);
          vote(votes.forward, su, dd);
          vote(votes.reverse, du, sd);
        }),
      );
    }
    // Two agreeing syncs at least: one record can match by chance (identical payloads).
    const ok = (v: { same: number; differ: number }) => v.same >= 2 && v.differ === 0;
    if (ok(votes.forward) && !ok(votes.reverse)) return 'forward';
    if (ok(votes.reverse) && !ok(votes.forward)) return 'reverse';
    return undefined;
  }

  /** The fingerprint of the record at `o`, or null when it is gone or a neighbour has the same content (identical payloads prove nothing). */
  private async distinctRecord(admin: ClusterAdmin, key: PartitionKey, o: bigint): Promise<string | null> {
    const { topic, partition } = splitKey(key);
    try {
      const rs = await admin.readRecords(topic, partition, o - 2n, o + 3n);
      const at = rs.find((r) => r.offset === o);
      if (at === undefined) return null;
      const fp = fingerprint(at);
      return rs.some((r) => r !== at && fingerprint(r) === fp) ? null : fp;
    } catch {
      return null;
    }
  }

  /**
   * Checks, for every partition, that the newest sync used names the same record on both
   * clusters (the direction was decided on a few partitions only). A partition whose sync names
   * different records (a flow to another cluster that matched on the sampled partitions, syncs of
   * both directions in one topic) is rejected: its syncs are not used. Stops at the deadline.
   */
  private async verifyPartitions(s: SyncSource): Promise<void> {
    const newest: [PartitionKey, [bigint, bigint]][] = [];
    for (const [key, index] of s.direction === 'reverse' ? s.reverse : s.forward) {
      const pair = index.newest();
      if (pair !== null) newest.push([key, pair]);
    }
    // A few records around each synced offset, every partition in one batched read per cluster.
    for (let i = 0; i < newest.length; i += VERIFIED_PER_READ) {
      if (this.deadline !== null && Date.now() > this.deadline) return;
      const chunk = newest.slice(i, i + VERIFIED_PER_READ);
      const [a, b] = await Promise.all([
        this.distinctRecords(
          this.source,
          chunk.map(([key, pair]) => [key, pair[0]]),
        ),
        this.distinctRecords(
          this.dest,
          chunk.map(([key, pair]) => [key, pair[1]]),
        ),
      ]);
      for (const [key] of chunk) {
        const x = a.get(key) ?? null;
        const y = b.get(key) ?? null;
        if (x !== null && y !== null && x !== y) s.rejected.add(key);
      }
    }
  }

  /** distinctRecord for many partitions at once (one offset each); a partition that cannot be read, or a read that fails, gives null. */
  private async distinctRecords(admin: ClusterAdmin, at: readonly [PartitionKey, bigint][]): Promise<Map<PartitionKey, string | null>> {
    const out = new Map<PartitionKey, string | null>();
    try {
      const read = await admin.readRanges(
        at.map(([key, o]) => ({ key, from: o - 2n, to: o + 3n })),
        { deadline: this.deadline },
      );
      for (const [key, o] of at) {
        const rs = read.read.get(key)?.records ?? [];
        const found = rs.find((r) => r.offset === o);
        const fp = found === undefined ? null : fingerprint(found);
        out.set(key, fp === null || rs.some((r) => r !== found && fingerprint(r) === fp) ? null : fp);
      }
    } catch {
      // Cannot tell: no partition is rejected.
    }
    return out;
  }

  /** Whether the records at the newest synced offsets are the same on both clusters (syncs with equal offsets). */
  private async sameOffsets(s: SyncSource): Promise<boolean> {
    let same = 0;
    for (const [key, index] of [...s.forward].slice(0, 3)) {
      const last = index.newest();
      if (last === null) continue;
      const { topic, partition } = splitKey(key);
      const [a, b] = await Promise.all([
        this.source.readRecords(topic, partition, last[0], last[0] + 1n),
        this.dest.readRecords(topic, partition, last[1], last[1] + 1n),
      ]).catch(() => [[], []]);
      if (a.length !== 1 || b.length !== 1) continue;
      if (fingerprint(a[0]) !== fingerprint(b[0])) return false;
      same++;
    }
    return same > 0;
  }

  /** Every record of one partition, in chunks (MirrorMaker's topics can be long). */
  /**
   * Every record of one partition of MirrorMaker's topics, a Fetch at a time (constant memory,
   * however long the topic). Their records are a few dozen bytes: a Fetch may decompress to at
   * most MM2_TOPIC_BUDGET, so a batch inflated by whoever could write the topic is refused (and
   * the topic left out) rather than held; reading stops at the deadline.
   */
  private async readTopic(admin: ClusterAdmin, topic: string, partition: number, each: (r: DecodedRecord) => void): Promise<void> {
    const k = partitionKey(topic, partition);
    const [start, end] = await Promise.all([admin.startOffsets([k]), admin.endOffsets([k])]);
    await admin.eachRecords(
      topic,
      partition,
      start.get(k) ?? 0n,
      end.get(k) ?? 0n,
      (rs) => {
        for (const r of rs) each(r);
      },
      { maxBytes: MM2_TOPIC_BUDGET, maxDecompressedBytes: MM2_TOPIC_BUDGET, deadline: this.deadline },
    );
  }

  /** Where a group's committed source offset continues on the destination. Call after check() and prepare(). */
  translate(key: PartitionKey, committed: bigint, groupId?: string): TranslatedOffset {
    const t = this.translateOne(key, committed, groupId);
    if (this.type === 'mirrormaker2') {
      const list = this.translated.get(key) ?? [];
      list.push([committed, t.dest]);
      this.translated.set(key, list);
    }
    return t;
  }

  private translateOne(key: PartitionKey, q: bigint, groupId: string | undefined): TranslatedOffset {
    const s = this.states.get(key);
    if (this.type !== 'mirrormaker2') return { key, source: q, dest: q, method: 'same', reReadBound: 0n };
    // A partition never checked: nothing is known about it, so nothing can be skipped from its start.
    if (s === undefined) return { key, source: q, dest: this.destStarts.get(key) ?? 0n, method: 'start', reReadBound: null };
    const lowers: Bound[] = [];
    const uppers: bigint[] = [];
    const add = (b: { lowers: Bound[]; uppers: bigint[] }) => {
      lowers.push(...b.lowers);
      uppers.push(...b.uppers);
    };
    // Where everything the source held is on the destination: exactly at the cut, or (matched by
    // order among records with repeated content) at the cut or a little after it.
    const end = s.destCut === null ? null : s.cutExact === false ? s.destEnd : s.destCut;
    if (s.destCut !== null) {
      if (q >= s.sourceEnd) lowers.push(s.cutExact === false ? { value: s.destCut, method: 'tail' } : { value: s.destCut, method: 'exact', exact: true });
      if (end !== null) uppers.push(end);
    }
    const pairs = this.tailPairs.get(key);
    if (pairs !== undefined) add(pairListBounds(pairs, q, 'tail'));
    for (const sync of this.syncs) {
      if (sync.rejected.has(key)) continue;
      const index = (sync.direction === 'forward' ? sync.forward : sync.reverse).get(key);
      if (index !== undefined) add(syncBounds(index, q, 'offset-sync'));
    }
    const cp = groupId === undefined ? undefined : this.checkpoints.get(`${groupId}\u0000${key}`);
    if (cp !== undefined && cp.upstream <= q) lowers.push({ value: cp.downstream, method: 'checkpoint' });
    // Without the caught-up cut the destination's end is no upper bound: records are still coming.
    const t = decide(lowers, uppers, this.destStarts.get(key) ?? 0n, end);
    return { key, source: q, dest: t.dest, method: t.method, reReadBound: t.reReadBound };
  }

  /**
   * What each instance needs to translate OffsetCommits its fence held: per partition the
   * destination's log start and lower anchors (source offset, destination offset): the caught-up
   * end, the records paired at the tail, and the translations installed for groups.
   */
  anchors(): Record<PartitionKey, string[]> {
    if (this.type !== 'mirrormaker2') return {};
    const all = new Map<PartitionKey, [bigint, bigint][]>();
    for (const [k, s] of this.states) {
      const a: [bigint, bigint][] = [];
      if (s.destCut !== null) a.push([s.sourceEnd, s.destCut]);
      for (const [src, dst] of this.tailPairs.get(k) ?? []) a.push([src, dst], [src + 1n, dst + 1n]);
      a.push(...(this.translated.get(k) ?? []));
      all.set(k, a);
    }
    // The route record must stay well under a broker's message size limit (1 MB by default):
    // fewer anchors per partition, then none for the partitions that no longer fit (their held
    // commits are left alone, and the installed offsets stay).
    for (let per = Math.min(MAX_ANCHORS, Math.max(1, Math.floor(ANCHOR_BUDGET / Math.max(1, all.size)))); ; per = Math.floor(per / 2)) {
      const out: Record<PartitionKey, string[]> = {};
      let size = 2;
      for (const [k, a] of all) {
        const encoded = encodeAnchors(this.destStarts.get(k) ?? 0n, thinAnchors(a, Math.max(1, per)));
        const cost = JSON.stringify(k).length + JSON.stringify(encoded).length + 2;
        if (per <= 1 && size + cost > ANCHOR_BYTES) break;
        out[k] = encoded;
        size += cost;
      }
      if (size <= ANCHOR_BYTES || per <= 1) return out;
    }
  }
}

/**
 * Whether the destination holds copies of every source record after the last paired record: the
 * source records after it are matched in order, each to the first later destination record with
 * the same content (records with repeated content are told apart by their order, never by a
 * match past a copy that is still missing). Returns the number of source records without a copy
 * and the cut (just after the last copy), or null when no record could be paired at all.
 */
export function caughtUpAfter(
  source: readonly { offset: bigint; fp: string }[],
  dest: readonly { offset: bigint; fp: string }[],
  pairs: readonly [bigint, bigint][],
): { missing: number; cut: bigint; exact: boolean } | null {
  const last = pairs[pairs.length - 1];
  if (last === undefined) return null;
  const [s, d] = last;
  let j = dest.findIndex((r) => r.offset > d);
  if (j < 0) j = dest.length;
  let cut = d + 1n;
  let missing = 0;
  const suffix = dest.slice(j).map((r) => r.fp);
  let exact = new Set(suffix).size === suffix.length;
  for (const r of source) {
    if (r.offset <= s) continue;
    if (missing > 0) {
      missing++;
      continue;
    }
    let k = j;
    while (k < dest.length && dest[k].fp !== r.fp) k++;
    if (k === dest.length) missing++;
    else {
      cut = dest[k].offset + 1n;
      j = k + 1;
    }
  }
  // Destination records after the cut: the cut is exact only if none of them repeats matched content.
  if (j < dest.length) exact = exact && !dest.slice(j).some((r) => source.some((x) => x.offset > s && x.fp === r.fp));
  return { missing, cut, exact };
}

/** A topic a switch must cover: not internal, not Turnout's or MirrorMaker's own. */
export function isUserTopic(name: string): boolean {
  return (
    !name.startsWith('__') &&
    !name.startsWith('_turnout') &&
    !name.startsWith('mm2-') &&
    !/\.(checkpoints\.internal|internal|replica)$/.test(name) &&
    name !== 'heartbeats'
  );
}

export interface TopicComparison {
  topic: string;
  sourcePartitions: number | null;
  destPartitions: number | null;
  problem: string | null;
}

/** The partitions of `topics` on the source, and what differs on the destination. */
export async function compareTopics(
  source: ClusterAdmin,
  dest: ClusterAdmin,
  topics: string[],
): Promise<{ partitions: PartitionKey[]; topics: TopicComparison[] }> {
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
  const groups = (await source.groups()).filter(
    (g) => (g.protocolType === 'consumer' || g.protocolType === '') && (pattern === null || pattern.test(g.groupId)),
  );
  // One OffsetFetch per coordinator for many groups (ClusterAdmin.groupOffsetsMany), not one per group.
  const all = await source.groupOffsetsMany(groups.map((g) => g.groupId));
  const out: GroupOffsets[] = [];
  for (const g of groups) {
    const offsets = new Map([...(all.get(g.groupId) ?? [])].filter(([k]) => partitions.has(k)));
    if (offsets.size > 0) out.push({ groupId: g.groupId, state: g.state, offsets });
  }
  return out.sort((a, b) => a.groupId.localeCompare(b.groupId));
}

// ---- the last replication lag seen, per route ---------------------------------------------

/** What one comparison of the source with the destination found (preflight or a planned switch). */
export interface LagObservation {
  /** Milliseconds since the epoch. */
  at: number;
  from: string;
  to: string;
  partitions: number;
  /** Partitions not fully on the destination. */
  behind: number;
  /** Records missing on the destination, summed over partitions whose lag is known. */
  records: number;
  /** Partitions behind by an unknown amount (more than the compared window, unreadable, open transaction). */
  unknown: number;
}

export function observeLag(from: string, to: string, states: readonly PartitionState[], at = Date.now()): LagObservation {
  const behind = states.filter((p) => !p.caughtUp);
  return {
    at,
    from,
    to,
    partitions: states.length,
    behind: behind.length,
    records: behind.reduce((n, p) => n + (p.lag ?? 0), 0),
    unknown: behind.filter((p) => p.lag === null).length,
  };
}

/**
 * The last lag observation per route. It is all a gateway can say about what a hot switch leaves
 * behind once the source is unreachable: replication lag cannot be measured without the source.
 */
export class LagHistory {
  private readonly last = new Map<string, LagObservation>();

  note(route: string, o: LagObservation): void {
    this.last.set(route, o);
  }

  get(route: string): LagObservation | undefined {
    return this.last.get(route);
  }
}

/**
 * The loss window of a hot switch from `from` to `to`, in words: records `from` acknowledged that
 * replication had not copied. Based on the last observation; writes acknowledged after it, up to
 * the moment `from` became unreachable, may add to it.
 */
export function describeLossWindow(o: LagObservation | undefined, route: string, from: string, to: string, now = Date.now()): string {
  const tail = `records "${from}" acknowledged and replication had not copied to "${to}" stay on "${from}" (they come back only if "${from}" does); consumers continue from the offsets replication copied`;
  if (o === undefined || o.from !== from || o.to !== to) {
    return `unknown: this gateway has not measured replication from "${from}" to "${to}" for route "${route}" (a preflight or a planned switch does); ${tail}`;
  }
  const ago = Math.max(0, Math.round((now - o.at) / 1000));
  const seen =
    o.behind === 0
      ? `${o.partitions} partition(s), all caught up`
      : `${o.behind} of ${o.partitions} partition(s) behind by ${o.records} record(s)${o.unknown > 0 ? ` plus ${o.unknown} partition(s) behind by an unknown amount` : ''}`;
  return `last replication lag seen ${ago} s ago (${new Date(o.at).toISOString()}): ${seen}; writes acknowledged since then may add to it. ${tail[0].toUpperCase()}${tail.slice(1)}`;
}
