// Where a consumer group's committed source offset continues on the destination, from evidence
// that never points past the group's true position. Pure: no I/O.
//
// "True position" of a committed offset q: the destination offset of the first record the group
// has not consumed yet (the first record at source offset >= q that the destination holds). It is
// monotone in q. Evidence comes in two kinds:
// - pairs (s, d): the record at source offset s is at destination offset d (MirrorMaker 2's offset
//   syncs, in either direction, and records matched at the caught-up tail). For q == s the true
//   position is d; for q > s it is at least d + 1 (records after s were copied after d); for
//   q <= s it is at most d (record s has not been consumed and sits at d).
// - lower anchors (a, b): for every q >= a the true position is at least b (checkpoints written by
//   MirrorMaker, translations already installed for a group).
// The translation is the highest lower bound (never past the true position: re-reads, never
// skips), clamped up to the destination's log start; the re-read bound is the lowest upper bound
// minus it. A lower bound that exceeds an upper bound is wrong evidence: such bounds are dropped,
// the highest remaining one (or the log start) is taken, and the method says "conservative".

/** How a translation was found, best first. */
export type TranslationMethod =
  /** Offset-preserving replication: offsets are equal. */
  | 'same'
  /** Exact: a record known on both sides at exactly the committed offset, or the caught-up end. */
  | 'exact'
  /** One past the nearest record pair before the committed offset (records compared at the tail). */
  | 'tail'
  /** One past the nearest MirrorMaker 2 offset sync before the committed offset. */
  | 'offset-sync'
  /** MirrorMaker 2's checkpoint of this group. */
  | 'checkpoint'
  /** A translation installed earlier at the same switch (held OffsetCommits). */
  | 'anchor'
  /** Nothing known before the committed offset: the destination's log start (re-reads all it holds). */
  | 'start'
  /** Evidence contradicted itself: lower bounds past an upper bound were dropped. */
  | 'conservative';

export interface Translation {
  dest: bigint;
  method: TranslationMethod;
  /** At most this many destination offsets may be delivered again (0: exact; null: unknown). */
  reReadBound: bigint | null;
}

/** A lower bound and where it came from. */
export interface Bound {
  value: bigint;
  method: TranslationMethod;
  exact?: boolean;
}

/** The bounds a pair (s, d) gives for committed offset q. */
export function pairBounds(s: bigint, d: bigint, q: bigint, method: TranslationMethod): { lower?: Bound; upper?: bigint } {
  if (q === s) return { lower: { value: d, method: 'exact', exact: true }, upper: d };
  if (q > s) return { lower: { value: d + 1n, method } };
  return { upper: d };
}

/**
 * Picks the translation from the lower bounds and upper bounds gathered for one committed offset.
 * `destStart` is the destination's log start (a position before it would reset the consumer),
 * `destEnd` the destination's end (an upper bound once replication caught up).
 */
export function decide(lowers: readonly Bound[], uppers: readonly bigint[], destStart: bigint, destEnd: bigint | null): Translation {
  let best: Bound = { value: destStart, method: 'start' };
  for (const l of lowers) if (l.value > best.value || (l.value === best.value && l.exact === true && best.exact !== true)) best = l;
  let upper: bigint | null = destEnd;
  for (const u of uppers) if (upper === null || u < upper) upper = u;
  // Nothing exists before the log start (retention): records the group had not read there are gone.
  if (upper !== null && upper < destStart) upper = destStart;
  if (upper !== null && best.value > upper) {
    // Contradiction: a lower bound lies after a position the group's next record is known to be
    // at or before. That lower bound is wrong (e.g. offset syncs of a MirrorMaker task that restarted
    // and has not copied everything again yet); drop every such bound and keep the rest.
    let kept: bigint = destStart;
    for (const l of lowers) if (l.value <= upper && l.value > kept) kept = l.value;
    return { dest: kept, method: 'conservative', reReadBound: upper - kept };
  }
  const bound = best.exact === true ? 0n : upper === null ? null : upper - best.value;
  return { dest: best.value, method: bound === 0n ? 'exact' : best.method, reReadBound: bound };
}

/**
 * The offset syncs of one partition reduced to what a known set of committed offsets needs, in
 * memory proportional to the number of those offsets (a sync topic can hold millions of syncs).
 *
 * Syncs arrive in the order MirrorMaker wrote them. Within one MirrorMaker task lifetime they
 * increase in both coordinates; a sync that does not (a restart that copies again, a destination
 * topic truncated or recreated) starts a new chain and everything kept from the old one is
 * dropped, so that only evidence about the current destination log is used.
 *
 * `key` is the coordinate of the switch's source: upstream for syncs of the source->destination
 * flow, downstream for syncs of a destination->source flow.
 */
export class SyncIndex {
  private readonly queries: bigint[];
  /** Per slot k (key in (queries[k-1], queries[k]]; slot queries.length: above all): first and last pair. */
  private readonly first: ([bigint, bigint] | undefined)[];
  private readonly last: ([bigint, bigint] | undefined)[];
  private prev: [bigint, bigint] | null = null;
  /** Pairs seen and chains started (for reports). */
  seen = 0;
  chains = 0;

  constructor(queries: Iterable<bigint>) {
    this.queries = [...new Set(queries)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.first = new Array(this.queries.length + 1).fill(undefined);
    this.last = new Array(this.queries.length + 1).fill(undefined);
  }

  /** Adds a pair: the record at switch-source offset `s` is at destination offset `d`. */
  add(s: bigint, d: bigint): void {
    this.seen++;
    if (this.prev === null || s <= this.prev[0] || d <= this.prev[1]) {
      this.first.fill(undefined);
      this.last.fill(undefined);
      this.chains++;
    }
    this.prev = [s, d];
    const k = this.slot(s);
    if (this.first[k] === undefined) this.first[k] = [s, d];
    this.last[k] = [s, d];
  }

  /** The newest pair added (null: none). */
  newest(): [bigint, bigint] | null {
    return this.prev;
  }

  /** The nearest pair at or before q, and the nearest after it. Precise for the queries given to the constructor; for any other q still never after the nearest pair before it (safe), but possibly further back. */
  around(q: bigint): { before?: [bigint, bigint]; after?: [bigint, bigint] } {
    const j = this.slot(q);
    const out: { before?: [bigint, bigint]; after?: [bigint, bigint] } = {};
    for (let k = j; k >= 0; k--) {
      const p = this.last[k];
      if (p !== undefined && p[0] <= q) {
        out.before = p;
        break;
      }
    }
    for (let k = j; k < this.first.length; k++) {
      // Slot j may hold pairs at exactly q (not after it): look for the first pair above q.
      const p = k === j ? undefined : this.first[k];
      if (p !== undefined) {
        out.after = p;
        break;
      }
    }
    return out;
  }

  /** Index of the first query >= s (queries.length when above all). */
  private slot(s: bigint): number {
    let lo = 0;
    let hi = this.queries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queries[mid] < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Bounds from a SyncIndex for committed offset q. */
export function syncBounds(index: SyncIndex, q: bigint, method: TranslationMethod): { lowers: Bound[]; uppers: bigint[] } {
  const { before, after } = index.around(q);
  const lowers: Bound[] = [];
  const uppers: bigint[] = [];
  if (before !== undefined) {
    const b = pairBounds(before[0], before[1], q, method);
    if (b.lower !== undefined) lowers.push(b.lower);
    if (b.upper !== undefined) uppers.push(b.upper);
  }
  if (after !== undefined) uppers.push(after[1]);
  return { lowers, uppers };
}

/** Bounds from a sorted list of pairs (both coordinates increasing) for committed offset q. */
export function pairListBounds(pairs: readonly (readonly [bigint, bigint])[], q: bigint, method: TranslationMethod): { lowers: Bound[]; uppers: bigint[] } {
  let lo = 0;
  let hi = pairs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pairs[mid][0] <= q) lo = mid + 1;
    else hi = mid;
  }
  const lowers: Bound[] = [];
  const uppers: bigint[] = [];
  const before = pairs[lo - 1];
  if (before !== undefined) {
    const b = pairBounds(before[0], before[1], q, method);
    if (b.lower !== undefined) lowers.push(b.lower);
    if (b.upper !== undefined) uppers.push(b.upper);
  }
  const after = pairs[lo];
  if (after !== undefined) uppers.push(after[1]);
  return { lowers, uppers };
}

/** Bounds from lower anchors (a, b) for committed offset q: the highest b with a <= q. */
export function anchorBound(anchors: readonly (readonly [bigint, bigint])[], q: bigint, method: TranslationMethod): Bound | undefined {
  let best: Bound | undefined;
  for (const [a, b] of anchors) if (a <= q && (best === undefined || b > best.value)) best = { value: b, method };
  return best;
}

/** Anything with a fingerprint: records compared by timestamp, key and value. */
export interface Fingerprinted {
  offset: bigint;
  fp: string;
}

/**
 * Pairs the records of the source's tail with their copies at the destination's tail. Only
 * records whose fingerprint occurs once in each window are paired, and pairs must increase in both
 * coordinates (walking back from the newest source record, a pair that would cross a later one is
 * dropped). Records with repeated content (an aborted transaction retried with the same records,
 * as Kafka Streams does under exactly-once) are left out: their copy cannot be told apart.
 */
export function alignTails(source: readonly Fingerprinted[], dest: readonly Fingerprinted[]): [bigint, bigint][] {
  const count = (rs: readonly Fingerprinted[]) => {
    const m = new Map<string, number>();
    for (const r of rs) m.set(r.fp, (m.get(r.fp) ?? 0) + 1);
    return m;
  };
  const inSource = count(source);
  const inDest = count(dest);
  const at = new Map<string, bigint>();
  for (const r of dest) if (inDest.get(r.fp) === 1) at.set(r.fp, r.offset);
  const out: [bigint, bigint][] = [];
  let below: bigint | null = null;
  for (let i = source.length - 1; i >= 0; i--) {
    const r = source[i];
    if (inSource.get(r.fp) !== 1) continue;
    const d = at.get(r.fp);
    if (d === undefined || (below !== null && d >= below)) continue;
    out.push([r.offset, d]);
    below = d;
  }
  return out.reverse();
}

// ---- anchors carried in the committed route state, for OffsetCommits held by the fence ----

/** At most this many anchors per partition travel in the route record. */
export const MAX_ANCHORS = 48;

/**
 * Lower anchors (a, b) for one partition, thinned to `max`: any subset of valid anchors is still
 * valid, so thinning only costs precision. The highest anchors are kept, then every k-th.
 */
export function thinAnchors(anchors: readonly (readonly [bigint, bigint])[], max = MAX_ANCHORS): [bigint, bigint][] {
  const sorted = [...anchors].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  // Keep, per source offset, the highest lower bound.
  const dedup: [bigint, bigint][] = [];
  for (const [a, b] of sorted) {
    const last = dedup[dedup.length - 1];
    if (last !== undefined && last[0] === a) last[1] = b > last[1] ? b : last[1];
    else dedup.push([a, b]);
  }
  if (dedup.length <= max) return dedup;
  const keepTop = Math.floor(max / 2);
  const rest = dedup.slice(0, dedup.length - keepTop);
  const step = rest.length / (max - keepTop);
  const out: [bigint, bigint][] = [];
  for (let i = 0; i < max - keepTop; i++) out.push(rest[Math.floor(i * step)]);
  return [...out, ...dedup.slice(dedup.length - keepTop)];
}

/** The anchors of one partition as the route record stores them: [destStart, a0, b0, a1, b1, ...]. */
export function encodeAnchors(destStart: bigint, anchors: readonly (readonly [bigint, bigint])[]): string[] {
  return [String(destStart), ...anchors.flatMap(([a, b]) => [String(a), String(b)])];
}

export function decodeAnchors(encoded: readonly string[]): { destStart: bigint; anchors: [bigint, bigint][] } | null {
  try {
    if (encoded.length < 1 || encoded.length % 2 !== 1) return null;
    const destStart = BigInt(encoded[0]);
    const anchors: [bigint, bigint][] = [];
    for (let i = 1; i < encoded.length; i += 2) anchors.push([BigInt(encoded[i]), BigInt(encoded[i + 1])]);
    return { destStart, anchors };
  } catch {
    return null;
  }
}

/** Translates an OffsetCommit held by the fence with a partition's anchors from the route record. */
export function translateWithAnchors(encoded: readonly string[] | undefined, q: bigint): Translation | null {
  if (encoded === undefined) return null;
  const a = decodeAnchors(encoded);
  if (a === null) return null;
  const lower = anchorBound(a.anchors, q, 'anchor');
  return decide(lower === undefined ? [] : [lower], [], a.destStart, null);
}
