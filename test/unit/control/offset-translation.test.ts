// Offset translation never lands after a group's true position. Unit tests of the pure pieces
// (bounds, offset-sync index, tail alignment, MirrorMaker's record formats), then property tests:
// generated pairs of logs (an origin with transactions, markers, aborted records and compaction,
// and MirrorMaker's copy with its own compaction, restarts and a log start), MirrorMaker's offset
// syncs emitted by its own rule and partly lost, translated by the real ReplicationTracker over
// fake clusters in both directions (to the copy, and back to the origin); and two-way replication,
// where writes alternate between the clusters and originals and copies interleave on both.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PartitionKey } from '../../../src/control/cluster-admin.ts';
import { decodeCheckpoint, decodeOffsetSync, encodeCheckpoint, encodeOffsetSync } from '../../../src/control/mirror-maker.ts';
import {
  alignTails,
  anchorBound,
  decide,
  decodeAnchors,
  encodeAnchors,
  pairBounds,
  SyncIndex,
  thinAnchors,
  translateWithAnchors,
} from '../../../src/control/offset-translation.ts';
import { ReplicationTracker } from '../../../src/control/replication.ts';
import type { DecodedRecord } from '../../../src/protocol/records.ts';
import { prng } from '../../support/messages.ts';
import { FakeCluster } from './fake-cluster.ts';

// ---- pure pieces ----

test('decide: the highest lower bound wins; the re-read bound is the lowest upper bound minus it', () => {
  const t = decide(
    [
      { value: 10n, method: 'offset-sync' },
      { value: 7n, method: 'checkpoint' },
    ],
    [15n, 30n],
    0n,
    40n,
  );
  assert.deepEqual(t, { dest: 10n, method: 'offset-sync', reReadBound: 5n });
});

test('decide: nothing known continues at the destination log start; a lower bound before it is clamped up', () => {
  assert.deepEqual(decide([], [], 5n, 20n), { dest: 5n, method: 'start', reReadBound: 15n });
  assert.deepEqual(decide([{ value: 2n, method: 'tail' }], [], 5n, null), { dest: 5n, method: 'start', reReadBound: null });
});

test('decide: bounds that meet are exact; a lower bound past an upper bound is dropped (conservative)', () => {
  assert.deepEqual(decide([{ value: 9n, method: 'tail' }], [9n], 0n, 20n), { dest: 9n, method: 'exact', reReadBound: 0n });
  assert.deepEqual(
    decide(
      [
        { value: 12n, method: 'offset-sync' },
        { value: 4n, method: 'tail' },
      ],
      [9n],
      1n,
      20n,
    ),
    { dest: 4n, method: 'conservative', reReadBound: 5n },
  );
  // Only wrong evidence (a restarted MirrorMaker task's new syncs, before it copied everything again): the log start.
  assert.deepEqual(decide([{ value: 1_000_001n, method: 'offset-sync' }], [1_000_000n], 0n, 1_000_000n), {
    dest: 0n,
    method: 'conservative',
    reReadBound: 1_000_000n,
  });
});

test('SyncIndex: keeps the nearest sync at or before each committed offset and the nearest after it', () => {
  const idx = new SyncIndex([5n, 50n]);
  for (const [s, d] of [
    [0n, 100n],
    [4n, 103n],
    [5n, 104n],
    [20n, 110n],
    [60n, 130n],
    [70n, 140n],
  ] as const)
    idx.add(s, d);
  assert.deepEqual(idx.around(5n), { before: [5n, 104n], after: [20n, 110n] });
  assert.deepEqual(idx.around(50n), { before: [20n, 110n], after: [60n, 130n] });
});

test('SyncIndex: a sync that goes back (a restarted task copying again, a truncated destination) starts a new chain', () => {
  const idx = new SyncIndex([30n]);
  for (const [s, d] of [
    [0n, 0n],
    [10n, 10n],
    [25n, 25n],
    [40n, 40n],
  ] as const)
    idx.add(s, d);
  idx.add(20n, 45n); // restart: copies from 20 again, after 40
  assert.deepEqual(idx.around(30n), { before: [20n, 45n] }, 'the new chain only');
  idx.add(28n, 53n);
  idx.add(35n, 60n);
  assert.deepEqual(idx.around(30n), { before: [28n, 53n], after: [35n, 60n] });
  assert.equal(idx.chains, 2);
});

const fpRec = (offset: number, fp: string) => ({ offset: BigInt(offset), fp });

test('alignTails: pairs records from the newest back; records without a copy are left out', () => {
  // Source: a b X c d (X aborted, not copied); destination: q a b c d.
  const src = [fpRec(0, 'a'), fpRec(1, 'b'), fpRec(2, 'X'), fpRec(4, 'c'), fpRec(5, 'd')];
  const dst = [fpRec(10, 'q'), fpRec(11, 'a'), fpRec(12, 'b'), fpRec(13, 'c'), fpRec(14, 'd')];
  assert.deepEqual(alignTails(src, dst), [
    [0n, 11n],
    [1n, 12n],
    [4n, 13n],
    [5n, 14n],
  ]);
});

test('alignTails: records with repeated content are not paired (their copies cannot be told apart); pairs never cross', () => {
  const src = [fpRec(0, 'a'), fpRec(1, 'x'), fpRec(2, 'x'), fpRec(3, 'b'), fpRec(4, 'c')];
  const dst = [fpRec(7, 'x'), fpRec(8, 'a'), fpRec(9, 'b'), fpRec(10, 'c')];
  // 'a' at 8 would sit after 'b'... no: a(0)->8 is before b(3)->9, kept; x is repeated on the source.
  assert.deepEqual(alignTails(src, dst), [
    [0n, 8n],
    [3n, 9n],
    [4n, 10n],
  ]);
  const crossing = alignTails([fpRec(0, 'a'), fpRec(1, 'b')], [fpRec(5, 'b'), fpRec(6, 'a')]);
  assert.deepEqual(crossing, [[1n, 5n]]);
});

test('thinAnchors keeps the highest anchors and a spread of the rest; anchors survive encoding', () => {
  const many: [bigint, bigint][] = Array.from({ length: 200 }, (_, i) => [BigInt(i), BigInt(i * 2)]);
  const thin = thinAnchors(many, 10);
  assert.equal(thin.length, 10);
  assert.deepEqual(thin[thin.length - 1], [199n, 398n]);
  assert.deepEqual(thin[0], [0n, 0n]);
  const t = translateWithAnchors(encodeAnchors(3n, thin), 150n)!;
  assert.ok(t.dest <= 300n && t.dest >= 3n);
  assert.equal(t.method, 'anchor');
});

test('MirrorMaker record formats: offset syncs and checkpoints decode what MirrorMaker writes; anything else is null', () => {
  const s = encodeOffsetSync('orders', 2, 1234n, 567n);
  assert.equal(s.key.toString('hex'), '00066f72646572730000000' + '2');
  assert.deepEqual(decodeOffsetSync(s.key, s.value), { key: 'orders:2', upstream: 1234n, downstream: 567n });
  const c = encodeCheckpoint('app', 'orders', 1, 99n, 40n, 'meta');
  assert.deepEqual(decodeCheckpoint(c.key, c.value), { group: 'app', key: 'orders:1', upstream: 99n, downstream: 40n });
  assert.equal(decodeOffsetSync(null, s.value), null);
  assert.equal(decodeOffsetSync(s.key, Buffer.alloc(3)), null);
  assert.equal(decodeOffsetSync(Buffer.from('garbage'), s.value), null);
  assert.equal(decodeCheckpoint(c.key, Buffer.concat([Buffer.from([0, 1]), c.value.subarray(2)])), null, 'unknown version');
});

// ---- the property: generated logs, translated by the real tracker ----

const TOPIC = 'orders';
const KEY: PartitionKey = `${TOPIC}:0`;
const SYNCS = 'mm2-offset-syncs.copy.internal';

interface OriginEntry {
  offset: number;
  kind: 'committed' | 'aborted' | 'marker';
  id: number;
}

interface World {
  origin: FakeCluster;
  copy: FakeCluster;
  /** Origin offset of each record id that is committed and still in the origin log. */
  originOf: Map<number, number>;
  /** Copy offsets of each record id (several after a restart), still in the copy log. */
  copiesOf: Map<number, number[]>;
  /** Every copy ever made (a group reading the copy read them before compaction or retention removed any). */
  madeCopies: Map<number, number[]>;
  originEnd: number;
  copyEnd: number;
  restarted: boolean;
}

function record(id: number, offset: number, collide: boolean): DecodedRecord {
  // With `collide`, committed records come in runs of identical content (the same payload sent
  // several times within one millisecond): equal timestamp, key and value.
  const n = collide ? Math.floor(id / 3) : id;
  return { offset: BigInt(offset), timestamp: 1_700_000_000_000 + n, key: null, value: Buffer.from(`v${n}`) };
}

function generate(rand: () => number): World {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const collide = rand() < 0.2;
  // The origin: plain records and transactions (some aborted), each transaction ending in a marker.
  const entries: OriginEntry[] = [];
  let id = 0;
  const size = rand() < 0.2 ? int(500, 900) : int(5, 120);
  while (entries.length < size) {
    if (rand() < 0.5) entries.push({ offset: entries.length, kind: 'committed', id: id++ });
    else {
      const aborted = rand() < 0.35;
      for (let i = int(1, 12); i > 0; i--) entries.push({ offset: entries.length, kind: aborted ? 'aborted' : 'committed', id: aborted ? -1 - id++ : id++ });
      entries.push({ offset: entries.length, kind: 'marker', id: -1 });
    }
  }
  const originEnd = entries.length;
  // MirrorMaker copies committed records (read_committed) into a copy log that may already hold records.
  const copyBase = rand() < 0.5 ? 0 : int(1, 30);
  const copyLog: { offset: number; id: number; upstream: number }[] = [];
  const syncs: [number, number][] = [];
  const maxLag = int(1, 15);
  let next = copyBase;
  const copyRun = (from: number) => {
    let last = -1;
    let prevUp = -2;
    let prevDown = -2;
    for (const e of entries) {
      if (e.offset < from || e.kind !== 'committed') continue;
      const d = next++;
      copyLog.push({ offset: d, id: e.id, upstream: e.offset });
      // MirrorSourceTask's rule: first sync of a task, a skipped upstream offset, or too stale.
      if (last === -1 || e.offset - prevUp !== 1 || d - (last + 1) >= maxLag || d < prevDown) {
        syncs.push([e.offset, d]);
        last = d;
      }
      prevUp = e.offset;
      prevDown = d;
    }
  };
  const restarted = rand() < 0.2;
  if (restarted) {
    // A task copies part of the log, dies, and a new one copies again from an earlier offset.
    const cut = int(0, originEnd);
    const firstPart = entries.filter((e) => e.offset < cut);
    const saved = entries.splice(0, entries.length, ...firstPart);
    copyRun(0);
    entries.splice(0, entries.length, ...saved);
    copyRun(int(0, cut));
  } else copyRun(0);
  const copyEnd = next;
  // Offset syncs get lost (compaction of MirrorMaker's topic, never written).
  const lose = rand() < 0.3 ? 0 : rand() * 0.8;
  const kept = syncs.filter(() => rand() >= lose);
  // Compaction (or retention) removes records on either side after copying; offsets stay.
  // Compaction keeps the newest record of a key: of a run of identical records (one key), only the
  // last survives, on whichever side is compacted; records with other keys go when superseded.
  const superseded = (id: number) => collide && id >= 0 && Math.floor(id / 3) === Math.floor((id + 1) / 3);
  const compactOrigin = rand() < 0.3;
  const originGone = new Set(entries.filter((e) => compactOrigin && (superseded(e.id) || (!collide && rand() < 0.3))).map((e) => e.offset));
  // On the copy, compaction keeps the newest copy of a record or removes them all (a newer record
  // with the same key superseded it); it never keeps an older copy over a newer one.
  const copyGone = new Set<number>();
  const compactCopy = rand() < 0.3;
  const lastCopy = new Map<number, number>();
  for (const c of copyLog) lastCopy.set(c.id, c.offset);
  const dropAll = new Set([...lastCopy.keys()].filter((id) => compactCopy && (superseded(id) || (!collide && rand() < 0.3))));
  for (const c of copyLog) if (dropAll.has(c.id) || (compactCopy && lastCopy.get(c.id) !== c.offset && rand() < 0.5)) copyGone.add(c.offset);
  const copyStart = rand() < 0.2 ? copyBase + int(0, Math.max(0, Math.floor((copyEnd - copyBase) / 3))) : copyBase;

  const origin = new FakeCluster('origin');
  const originRecords = entries
    .filter((e) => e.kind !== 'marker' && !originGone.has(e.offset))
    .map((e) => record(e.kind === 'aborted' ? 100_000 + e.offset : e.id, e.offset, collide && e.kind === 'committed'));
  origin.set(KEY, originRecords, BigInt(originEnd));
  // MirrorMaker keeps its offset syncs on the origin (offset-syncs.topic.location=source), named after the copy.
  origin.set(
    `${SYNCS}:0`,
    kept.map(([u, d], i) => ({ offset: BigInt(i), timestamp: 0, ...encodeOffsetSync(TOPIC, 0, BigInt(u), BigInt(d)) })),
  );
  const copy = new FakeCluster('copy');
  const local = Array.from({ length: copyBase }, (_, i) => ({ offset: BigInt(i), timestamp: i, key: null, value: Buffer.from(`local-${i}`) }));
  const copyRecords = [...local, ...copyLog.filter((c) => !copyGone.has(c.offset)).map((c) => record(c.id, c.offset, collide))].filter(
    (r) => r.offset >= BigInt(copyStart),
  );
  copy.set(KEY, copyRecords, BigInt(copyEnd));
  copy.starts.set(KEY, BigInt(copyStart));

  const originOf = new Map<number, number>();
  for (const e of entries) if (e.kind === 'committed' && !originGone.has(e.offset)) originOf.set(e.id, e.offset);
  const copiesOf = new Map<number, number[]>();
  for (const c of copyLog) if (!copyGone.has(c.offset) && c.offset >= copyStart) copiesOf.set(c.id, [...(copiesOf.get(c.id) ?? []), c.offset]);
  const madeCopies = new Map<number, number[]>();
  for (const c of copyLog) madeCopies.set(c.id, [...(madeCopies.get(c.id) ?? []), c.offset]);
  return { origin, copy, originOf, copiesOf, madeCopies, originEnd, copyEnd, restarted };
}

/** The highest destination position from which a group committed at q misses nothing it has not read. */
function safeLimit(w: World, forward: boolean, q: number): number {
  let limit = forward ? w.copyEnd : w.originEnd;
  if (forward) {
    // Not yet read: committed origin records at >= q; each must still be at or after the position.
    for (const [id, at] of w.originOf) {
      if (at < q) continue;
      const copies = w.copiesOf.get(id);
      if (copies !== undefined) limit = Math.min(limit, Math.max(...copies));
    }
  } else {
    // Not yet read: records with no copy before q (a record copied twice was read at its first
    // copy); their originals must be at or after the position.
    for (const [id, copies] of w.madeCopies) {
      if (copies.some((c) => c < q)) continue;
      const at = w.originOf.get(id);
      if (at !== undefined) limit = Math.min(limit, at);
    }
  }
  return limit;
}

/** Records the group had read that lie at or after `dest` (re-reads); only meaningful without restarts. */
function reReads(w: World, forward: boolean, q: number, dest: number): number {
  let n = 0;
  for (const [id, at] of w.originOf) {
    const copies = w.copiesOf.get(id) ?? [];
    if (forward ? at < q && copies.some((c) => c >= dest) : copies.some((c) => c < q) && at >= dest) n++;
  }
  return n;
}

test('property: over generated logs, translation in both directions never lands after the true position, and re-reads stay within the reported bound', async () => {
  const runs = Number(process.env.TURNOUT_PROPERTY_RUNS ?? 1000);
  const seed0 = Number(process.env.TURNOUT_PROPERTY_SEED ?? 20261204);
  let exact = 0;
  let total = 0;
  for (let run = 0; run < runs; run++) {
    const seed = seed0 + run;
    const rand = prng(seed);
    const w = generate(rand);
    for (const forward of [true, false]) {
      const [src, dst] = forward ? [w.origin, w.copy] : [w.copy, w.origin];
      const srcEnd = forward ? w.originEnd : w.copyEnd;
      const queries = new Set<number>([srcEnd]);
      for (let i = 0; i < 6; i++) queries.add(Math.floor(rand() * (srcEnd + 1)));
      const t = new ReplicationTracker('mirrormaker2', src.admin, dst.admin);
      const [state] = await t.check(new Map([[KEY, BigInt(srcEnd)]]));
      await t.prepare(
        [...queries].map((q, i) => ({ groupId: `g${i}`, offsets: new Map([[KEY, BigInt(q)]]) })),
        ['origin'],
      );
      for (const q of queries) {
        const r = t.translate(KEY, BigInt(q));
        const limit = safeLimit(w, forward, q);
        const where = `seed ${seed}, ${forward ? 'origin -> copy' : 'copy -> origin'}, committed ${q}, caught up ${state.caughtUp}, restarted ${w.restarted}`;
        assert.ok(
          Number(r.dest) <= limit,
          `${where}: translated to ${r.dest} (${r.method}) but unread records start at ${limit}${process.env.TURNOUT_PROPERTY_DEBUG ? JSON.stringify({ tail: (t as unknown as { tailPairs: Map<string, unknown> }).tailPairs.get(KEY), syncs: w.origin.logs.get(`${SYNCS}:0`)?.records.map((x) => decodeOffsetSync(x.key, x.value)), originOf: [...w.originOf], copiesOf: [...w.copiesOf] }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) : ''}`,
        );
        if (!w.restarted && r.reReadBound !== null) {
          const again = reReads(w, forward, q, Number(r.dest));
          assert.ok(
            BigInt(again) <= r.reReadBound,
            `${where}: ${again} records re-read, bound ${r.reReadBound} (${r.method}, dest ${r.dest})${process.env.TURNOUT_PROPERTY_DEBUG ? JSON.stringify({ tail: (t as unknown as { tailPairs: Map<string, unknown> }).tailPairs.get(KEY), originOf: [...w.originOf], copiesOf: [...w.copiesOf] }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) : ''}`,
          );
        }
        total++;
        if (r.method === 'exact') exact++;
      }
    }
  }
  assert.ok(exact > total / 4, `exact translations: ${exact} of ${total}`);
});

// ---- the tracker's use of MirrorMaker's topics ----

/** Source records 0..n-1 and their copies at base.. on the destination, with distinct content. */
function copied(n: number, base: number): { source: FakeCluster; dest: FakeCluster } {
  const r = (i: number, offset: number): DecodedRecord => ({
    offset: BigInt(offset),
    timestamp: 1_700_000_000_000 + i,
    key: null,
    value: Buffer.from(`r${i}`),
  });
  const source = new FakeCluster('blue').set(
    KEY,
    Array.from({ length: n }, (_, i) => r(i, i)),
  );
  const dest = new FakeCluster('green').set(
    KEY,
    Array.from({ length: n }, (_, i) => r(i, base + i)),
  );
  return { source, dest };
}

const syncRecords = (pairs: [number, number][], topic = TOPIC) =>
  pairs.map(([u, d], i) => ({ offset: BigInt(i), timestamp: 0, ...encodeOffsetSync(topic, 0, BigInt(u), BigInt(d)) }));

test("tracker: MirrorMaker's checkpoint of the group is a lower bound when nothing nearer is known", async () => {
  const { source, dest } = copied(2000, 100);
  const cp = encodeCheckpoint('app', TOPIC, 0, 200n, 290n);
  dest.set('blue.checkpoints.internal:0', [{ offset: 0n, timestamp: 0, ...cp }]);
  const t = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  await t.check(new Map([[KEY, 2000n]]));
  await t.prepare([{ groupId: 'app', offsets: new Map([[KEY, 250n]]) }], ['blue']);
  assert.deepEqual(t.evidence.checkpoints, [{ topic: 'blue.checkpoints.internal', kept: 1 }]);
  const r = t.translate(KEY, 250n, 'app');
  assert.deepEqual([r.dest, r.method], [290n, 'checkpoint']);
  assert.ok(r.dest <= 350n, 'record 250 is at 350');
  // Another group has no checkpoint: the destination's log start.
  assert.equal(t.translate(KEY, 250n, 'other').method, 'start');
});

test('tracker: offset syncs of a flow to another cluster (naming other records) are ignored and listed', async () => {
  const { source, dest } = copied(2000, 100);
  // Syncs whose downstream offsets describe some other copy (offset + 7, not + 100).
  source.set(`mm2-offset-syncs.orange.internal:0`, syncRecords(Array.from({ length: 20 }, (_, i) => [i * 50, i * 50 + 7] as [number, number])));
  const t = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  await t.check(new Map([[KEY, 2000n]]));
  await t.prepare([{ groupId: 'app', offsets: new Map([[KEY, 260n]]) }], ['blue']);
  assert.equal(t.evidence.offsetSyncs.length, 0);
  assert.match(t.evidence.ignored[0] ?? '', /mm2-offset-syncs\.orange\.internal on "blue".*do not name the same records/);
  assert.equal(t.translate(KEY, 260n, 'app').method, 'start');
});

test('tracker: offset syncs of this flow are used forwards, and the same topic backwards for the switch back', async () => {
  const { source, dest } = copied(2000, 100);
  const pairs = Array.from({ length: 20 }, (_, i) => [i * 100, i * 100 + 100] as [number, number]);
  source.set('mm2-offset-syncs.green.internal:0', syncRecords(pairs));
  const forward = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  await forward.check(new Map([[KEY, 2000n]]));
  await forward.prepare(
    [
      { groupId: 'app', offsets: new Map([[KEY, 250n]]) },
      { groupId: 'done', offsets: new Map([[KEY, 300n]]) },
    ],
    ['blue'],
  );
  assert.deepEqual(forward.evidence.offsetSyncs, [{ domain: 'blue', topic: 'mm2-offset-syncs.green.internal', direction: 'forward', syncs: 20 }]);
  assert.deepEqual(forward.translate(KEY, 250n, 'app'), { key: KEY, source: 250n, dest: 301n, method: 'offset-sync', reReadBound: 99n });
  assert.deepEqual(forward.translate(KEY, 300n, 'done'), { key: KEY, source: 300n, dest: 400n, method: 'exact', reReadBound: 0n });
  const back = new ReplicationTracker('mirrormaker2', dest.admin, source.admin);
  await back.check(new Map([[KEY, 2100n]]));
  await back.prepare([{ groupId: 'app', offsets: new Map([[KEY, 350n]]) }], ['green']);
  assert.deepEqual(back.evidence.offsetSyncs, [{ domain: 'blue', topic: 'mm2-offset-syncs.green.internal', direction: 'reverse', syncs: 20 }]);
  assert.deepEqual(back.translate(KEY, 350n, 'app'), { key: KEY, source: 350n, dest: 201n, method: 'offset-sync', reReadBound: 99n });
});

test('tracker: syncs whose offsets are equal on both sides (a topic copied from its start) are used, whichever way the flow runs', async () => {
  const { source, dest } = copied(2000, 0);
  source.set('mm2-offset-syncs.green.internal:0', syncRecords(Array.from({ length: 20 }, (_, i) => [i * 100 + 4, i * 100 + 4] as [number, number])));
  for (const [from, to] of [
    [source, dest],
    [dest, source],
  ] as const) {
    const t = new ReplicationTracker('mirrormaker2', from.admin, to.admin);
    await t.check(new Map([[KEY, 2000n]]));
    await t.prepare([{ groupId: 'app', offsets: new Map([[KEY, 500n]]) }], ['blue']);
    assert.deepEqual(
      t.evidence.offsetSyncs.map((x) => x.direction),
      ['equal offsets'],
    );
    assert.deepEqual(t.translate(KEY, 500n, 'app'), { key: KEY, source: 500n, dest: 405n, method: 'offset-sync', reReadBound: 99n });
  }
});

test('tracker: offset syncs not read by the deadline are left out and listed; translation goes on with the other evidence', async () => {
  const { source, dest } = copied(2000, 100);
  source.set('mm2-offset-syncs.green.internal:0', syncRecords(Array.from({ length: 20 }, (_, i) => [i * 100, i * 100 + 100] as [number, number])));
  const t = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  await t.check(new Map([[KEY, 2000n]]));
  await t.prepare([{ groupId: 'app', offsets: new Map([[KEY, 250n]]) }], ['blue'], [KEY], Date.now() - 1);
  assert.equal(t.evidence.offsetSyncs.length, 0);
  assert.match(t.evidence.ignored[0] ?? '', /cannot be read \(reading mm2-offset-syncs\.green\.internal-0 stopped at its deadline/);
  assert.equal(t.translate(KEY, 250n, 'app').method, 'start');
  assert.equal(typeof t.evidence.readMs, 'number');
});

test('tracker: a partition whose own newest sync names different records is left out, even when the sampled partitions agree', async () => {
  const r = (p: number, i: number, offset: number): DecodedRecord => ({
    offset: BigInt(offset),
    timestamp: 1_700_000_000_000 + i,
    key: Buffer.from(`p${p}`),
    value: Buffer.from(`r${i}`),
  });
  const source = new FakeCluster('blue');
  const dest = new FakeCluster('green');
  const syncs: { offset: bigint; timestamp: number; key: Buffer; value: Buffer }[] = [];
  for (let p = 0; p < 4; p++) {
    const key = `${TOPIC}:${p}`;
    source.set(
      key,
      Array.from({ length: 2000 }, (_, i) => r(p, i, i)),
    );
    dest.set(
      key,
      Array.from({ length: 2000 }, (_, i) => r(p, i, 100 + i)),
    );
    // Partition 3's syncs describe some other copy (offset + 7).
    for (let i = 0; i < 20; i++)
      syncs.push({ offset: BigInt(syncs.length), timestamp: 0, ...encodeOffsetSync(TOPIC, p, BigInt(i * 100), BigInt(i * 100 + (p === 3 ? 7 : 100))) });
  }
  source.set('mm2-offset-syncs.green.internal:0', syncs);
  const t = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  await t.check(new Map([0, 1, 2, 3].map((p) => [`${TOPIC}:${p}`, 2000n] as const)));
  await t.prepare([{ groupId: 'app', offsets: new Map([0, 1, 2, 3].map((p) => [`${TOPIC}:${p}`, 250n] as const)) }], []);
  assert.deepEqual(
    t.evidence.offsetSyncs.map((x) => x.direction),
    ['forward'],
  );
  assert.match(t.evidence.ignored.join('\n'), /for 1 partition\(s\) \(orders:3\): their newest sync names different records/);
  assert.deepEqual([t.translate(`${TOPIC}:0`, 250n, 'app').method, t.translate(`${TOPIC}:3`, 250n, 'app').method], ['offset-sync', 'start']);
});

// ---- two-way replication: writes alternate between the clusters, as across switches ----

interface TwoWay {
  a: FakeCluster;
  b: FakeCluster;
  /** Offset of each committed record id on each cluster (original or copy). */
  at: { a: Map<number, number>; b: Map<number, number> };
  end: { a: number; b: number };
  phases: number;
}

/**
 * Phases of writes alternate between A and B (a route switched back and forth); after each
 * phase, MirrorMaker copies the phase's committed originals to the other cluster (copies are
 * never copied back: the bothWays transforms), writing offset syncs by its own rule into the
 * flow's topic on the flow's source. Both logs then interleave originals and copies.
 */
function generateTwoWay(rand: () => number): TwoWay {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const logs = { a: [] as { id: number; kind: 'committed' | 'aborted' | 'marker' }[], b: [] as { id: number; kind: 'committed' | 'aborted' | 'marker' }[] };
  const syncs = { a: [] as [number, number][], b: [] as [number, number][] }; // by flow source
  const at = { a: new Map<number, number>(), b: new Map<number, number>() };
  const maxLag = int(1, 15);
  let id = 0;
  const phases = int(2, 5);
  const long = rand() < 0.2; // logs longer than the compared tail window
  for (let ph = 0; ph < phases; ph++) {
    const from = ph % 2 === 0 ? 'a' : 'b';
    const to = from === 'a' ? 'b' : 'a';
    const start = logs[from].length;
    for (let n = long ? int(100, 500) : int(3, 80); n > 0; ) {
      if (rand() < 0.5) {
        at[from].set(id, logs[from].length);
        logs[from].push({ id: id++, kind: 'committed' });
        n--;
      } else {
        const aborted = rand() < 0.35;
        for (let i = int(1, 8); i > 0; i--, n--) {
          if (!aborted) at[from].set(id, logs[from].length);
          logs[from].push({ id: id++, kind: aborted ? 'aborted' : 'committed' });
        }
        logs[from].push({ id: -1, kind: 'marker' });
      }
    }
    // MirrorMaker copies this phase's committed originals; one task lifetime per phase.
    let last = -1;
    let prevUp = -2;
    for (let o = start; o < logs[from].length; o++) {
      const e = logs[from][o];
      if (e.kind !== 'committed') continue;
      const d = logs[to].length;
      at[to].set(e.id, d);
      logs[to].push({ id: e.id, kind: 'committed' });
      if (last === -1 || o - prevUp !== 1 || d - (last + 1) >= maxLag) {
        if (rand() > 0.3) syncs[from].push([o, d]);
        last = d;
      }
      prevUp = o;
    }
  }
  const cluster = (name: 'a' | 'b') => {
    const c = new FakeCluster(name);
    c.set(
      KEY,
      logs[name].flatMap((e, o) => (e.kind === 'marker' ? [] : [record(e.kind === 'aborted' ? 100_000 + e.id : e.id, o, false)])),
      BigInt(logs[name].length),
    );
    const other = name === 'a' ? 'b' : 'a';
    c.set(
      `mm2-offset-syncs.${other}.internal:0`,
      syncs[name].map(([u, d], i) => ({ offset: BigInt(i), timestamp: 0, ...encodeOffsetSync(TOPIC, 0, BigInt(u), BigInt(d)) })),
    );
    return c;
  };
  return { a: cluster('a'), b: cluster('b'), at, end: { a: logs.a.length, b: logs.b.length }, phases };
}

test('property: with two-way replication (originals and copies interleaved on both clusters), translation never lands after the true position', async () => {
  const runs = Number(process.env.TURNOUT_PROPERTY_RUNS ?? 1000);
  const seed0 = Number(process.env.TURNOUT_PROPERTY_SEED ?? 20261204);
  let offsetSync = 0;
  let viaSyncs = 0;
  for (let run = 0; run < runs; run++) {
    const seed = seed0 + run;
    const rand = prng(seed);
    const w = generateTwoWay(rand);
    for (const [from, to] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const srcEnd = w.end[from];
      const queries = new Set<number>([srcEnd]);
      for (let i = 0; i < 6; i++) queries.add(Math.floor(rand() * (srcEnd + 1)));
      const t = new ReplicationTracker('mirrormaker2', w[from].admin, w[to].admin);
      await t.check(new Map([[KEY, BigInt(srcEnd)]]));
      await t.prepare(
        [...queries].map((q, i) => ({ groupId: `g${i}`, offsets: new Map([[KEY, BigInt(q)]]) })),
        [],
      );
      for (const q of queries) {
        const r = t.translate(KEY, BigInt(q));
        // Not yet read: committed records at or after q on the source; each must be at or after the position.
        let limit = w.end[to];
        for (const [rid, o] of w.at[from]) if (o >= q) limit = Math.min(limit, w.at[to].get(rid) ?? limit);
        assert.ok(
          Number(r.dest) <= limit,
          `seed ${seed}, ${from} -> ${to} (${w.phases} phases), committed ${q}: translated to ${r.dest} (${r.method}) but unread records start at ${limit}`,
        );
      }
      // Both flows' sync topics are found, and each is used in the direction it runs.
      if (t.evidence.offsetSyncs.length === 2) offsetSync++;
      for (const q of queries)
        if (t.translate(KEY, BigInt(q)).method === 'offset-sync') viaSyncs++;
        else if (process.env.TURNOUT_PROPERTY_DEBUG) console.log(seed, from, JSON.stringify(t.evidence));
    }
  }
  assert.ok(offsetSync > runs / 2, `both sync topics used in ${offsetSync} of ${2 * runs} translations`);
  assert.ok(viaSyncs > 0, 'some offsets were translated from offset syncs');
});

// ---- the pure pieces at their edges ----

test('pairBounds: a pair at the committed offset is exact, one before it a lower bound one past it, one after it an upper bound', () => {
  assert.deepEqual(pairBounds(5n, 105n, 5n, 'tail'), { lower: { value: 105n, method: 'exact', exact: true }, upper: 105n });
  assert.deepEqual(pairBounds(5n, 105n, 9n, 'tail'), { lower: { value: 106n, method: 'tail' } });
  assert.deepEqual(pairBounds(5n, 105n, 4n, 'tail'), { upper: 105n });
});

test('decide: on equal lower bounds the first (better) method is kept, an exact bound wins over any other, and the log start over a bound at it', () => {
  const checkpoint = { value: 10n, method: 'checkpoint' } as const;
  const exact = { value: 10n, method: 'exact', exact: true } as const;
  assert.deepEqual(decide([checkpoint, { value: 10n, method: 'tail' }], [20n], 0n, null), { dest: 10n, method: 'checkpoint', reReadBound: 10n });
  assert.deepEqual(decide([checkpoint, exact], [], 0n, null), { dest: 10n, method: 'exact', reReadBound: 0n });
  assert.deepEqual(decide([{ ...checkpoint, exact: false }, exact], [], 0n, null), { dest: 10n, method: 'exact', reReadBound: 0n });
  assert.deepEqual(decide([exact], [], 0n, null), { dest: 10n, method: 'exact', reReadBound: 0n }, 'exact even with no upper bound known');
  assert.deepEqual(
    decide(
      [
        { value: 12n, method: 'offset-sync' },
        { value: 10n, method: 'exact', exact: true },
      ],
      [30n],
      0n,
      null,
    ),
    { dest: 12n, method: 'offset-sync', reReadBound: 18n },
    'a higher bound beats a lower exact one',
  );
  assert.deepEqual(
    decide(
      [
        { value: 12n, method: 'offset-sync' },
        { value: 10n, method: 'tail' },
      ],
      [30n],
      0n,
      null,
    ),
    { dest: 12n, method: 'offset-sync', reReadBound: 18n },
  );
  assert.deepEqual(decide([{ value: 5n, method: 'checkpoint' }], [], 5n, 20n), { dest: 5n, method: 'start', reReadBound: 15n });
});

test('decide: on a contradiction the highest lower bound at or below the upper bound is kept', () => {
  assert.deepEqual(
    decide(
      [
        { value: 12n, method: 'offset-sync' },
        { value: 9n, method: 'tail' },
      ],
      [9n],
      1n,
      20n,
    ),
    { dest: 9n, method: 'conservative', reReadBound: 0n },
  );
  assert.deepEqual(
    decide(
      [
        { value: 12n, method: 'offset-sync' },
        { value: 8n, method: 'tail' },
        { value: 4n, method: 'checkpoint' },
      ],
      [9n],
      1n,
      20n,
    ),
    { dest: 8n, method: 'conservative', reReadBound: 1n },
  );
});

test('SyncIndex: committed offsets may come in any order; without any, every pair is still found', () => {
  const idx = new SyncIndex([50n, 5n, 50n, 20n]);
  for (const [s, d] of [
    [0n, 100n],
    [4n, 103n],
    [5n, 104n],
    [20n, 110n],
    [60n, 130n],
    [70n, 140n],
  ] as const)
    idx.add(s, d);
  assert.deepEqual(idx.around(5n), { before: [5n, 104n], after: [20n, 110n] });
  assert.deepEqual(idx.around(20n), { before: [20n, 110n], after: [60n, 130n] });
  assert.deepEqual(idx.around(50n), { before: [20n, 110n], after: [60n, 130n] });
  assert.deepEqual([idx.seen, idx.chains], [6, 1]);
  assert.deepEqual(idx.newest(), [70n, 140n]);
  const none = new SyncIndex([]);
  none.add(1n, 10n);
  none.add(9n, 20n);
  assert.deepEqual(none.around(9n), { before: [9n, 20n] });
  assert.deepEqual(none.around(100n), { before: [9n, 20n] });
});

test('SyncIndex: the nearest pair before an offset is found in an earlier slot, and never one after the offset', () => {
  const idx = new SyncIndex([5n, 50n]);
  idx.add(1n, 1n);
  assert.deepEqual(idx.around(50n), { before: [1n, 1n] }, 'slot of 50 is empty: the pair is in the slot of 5');
  const coarse = new SyncIndex([50n]);
  coarse.add(10n, 10n);
  coarse.add(40n, 40n);
  // An offset that was not asked for: only the last pair of its slot is known, and it lies after 20.
  assert.deepEqual(coarse.around(20n), {}, 'never a pair after the offset as "before"');
  assert.deepEqual(coarse.around(40n), { before: [40n, 40n] });
  assert.deepEqual(coarse.around(5n), {}, 'nothing at or before 5');
});

test('SyncIndex: a sync that repeats a source offset, or a destination offset, or goes back starts a new chain and forgets the old one', () => {
  const sameSource = new SyncIndex([5n, 10n]);
  for (const [s, d] of [
    [0n, 0n],
    [10n, 10n],
    [10n, 12n],
  ] as const)
    sameSource.add(s, d);
  assert.deepEqual([sameSource.around(5n), sameSource.chains], [{ after: [10n, 12n] }, 2]);
  const sameDest = new SyncIndex([5n, 10n]);
  for (const [s, d] of [
    [0n, 0n],
    [10n, 10n],
    [11n, 10n],
  ] as const)
    sameDest.add(s, d);
  assert.deepEqual([sameDest.around(5n), sameDest.chains], [{ after: [11n, 10n] }, 2]);
  const destBack = new SyncIndex([5n, 10n]);
  for (const [s, d] of [
    [0n, 5n],
    [10n, 10n],
    [11n, 7n],
  ] as const)
    destBack.add(s, d);
  assert.deepEqual([destBack.around(5n), destBack.chains], [{ after: [11n, 7n] }, 2]);
  const stale = new SyncIndex([5n, 30n]);
  for (const [s, d] of [
    [0n, 0n],
    [10n, 10n],
    [2n, 1n],
  ] as const)
    stale.add(s, d);
  assert.deepEqual(stale.around(30n), { before: [2n, 1n] }, "the old chain's pair at 10 is gone");
  assert.deepEqual([stale.seen, stale.chains], [3, 2]);
});

test('anchorBound: the highest anchor at or before the committed offset', () => {
  const anchors = [
    [10n, 100n],
    [20n, 200n],
    [5n, 150n],
  ] as const;
  assert.deepEqual(anchorBound(anchors, 15n, 'anchor'), { value: 150n, method: 'anchor' });
  assert.deepEqual(anchorBound(anchors, 20n, 'anchor'), { value: 200n, method: 'anchor' });
  assert.equal(anchorBound(anchors, 4n, 'anchor'), undefined);
});

test('thinAnchors sorts, keeps the highest lower bound per source offset, and thins to exactly the top half and an even spread', () => {
  assert.deepEqual(
    thinAnchors([
      [5n, 50n],
      [1n, 10n],
      [3n, 30n],
      [3n, 35n],
      [3n, 32n],
      [1n, 9n],
    ]),
    [
      [1n, 10n],
      [3n, 35n],
      [5n, 50n],
    ],
  );
  assert.deepEqual(
    thinAnchors([
      [5n, 10n],
      [1n, 50n],
      [3n, 30n],
    ]),
    [
      [1n, 50n],
      [3n, 30n],
      [5n, 10n],
    ],
    'sorted by source offset, whatever the destination offsets',
  );
  const many: [bigint, bigint][] = Array.from({ length: 200 }, (_, i) => [BigInt(i), BigInt(i * 2)]);
  const expected = [0, 39, 78, 117, 156, 195, 196, 197, 198, 199].map((a) => [BigInt(a), BigInt(a * 2)]);
  assert.deepEqual(thinAnchors(many.reverse(), 10), expected);
  const ten = many.slice(0, 10);
  assert.deepEqual(
    thinAnchors(ten, 10),
    [...ten].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
    'exactly max: all of them',
  );
});

test('decodeAnchors: a log start alone is valid; anything malformed is null', () => {
  assert.deepEqual(decodeAnchors(['5']), { destStart: 5n, anchors: [] });
  assert.deepEqual(decodeAnchors(['5', '1', '7']), { destStart: 5n, anchors: [[1n, 7n]] });
  for (const bad of [[], ['5', '1'], ['x'], ['5', '1', 'y']]) assert.equal(decodeAnchors(bad), null, JSON.stringify(bad));
});

test('a SyncIndex answers the same whatever order its queries were given in', () => {
  const syncs: [bigint, bigint][] = [
    [5n, 105n],
    [12n, 112n],
    [19n, 119n],
    [33n, 133n],
    [48n, 148n],
  ];
  const sorted = new SyncIndex([10n, 20n, 30n, 40n]);
  const shuffled = new SyncIndex([30n, 10n, 40n, 20n]);
  for (const [s, d] of syncs) {
    sorted.add(s, d);
    shuffled.add(s, d);
  }
  for (const q of [10n, 20n, 30n, 40n]) assert.deepEqual(shuffled.around(q), sorted.around(q), `q=${q}`);
  assert.deepEqual(shuffled.around(30n), { before: [19n, 119n], after: [33n, 133n] });
});

test('the highest lower bound wins whatever order the bounds come in; an exact one wins a tie', () => {
  const high = { value: 120n, method: 'offset-sync' as const };
  const low = { value: 110n, method: 'tail' as const };
  assert.equal(decide([high, low], [], 100n, null).dest, 120n);
  assert.equal(decide([low, high], [], 100n, null).dest, 120n);
  const exact = { value: 120n, method: 'exact' as const, exact: true };
  assert.deepEqual(decide([exact, high], [], 100n, null), { dest: 120n, method: 'exact', reReadBound: 0n });
});

test('thinning sorts anchors by source offset and keeps, per source offset, the highest destination offset', () => {
  const anchors: [bigint, bigint][] = [
    [30n, 130n],
    [10n, 110n],
    [20n, 118n],
    [20n, 121n],
    [10n, 109n],
  ];
  assert.deepEqual(thinAnchors(anchors, 8), [
    [10n, 110n],
    [20n, 121n],
    [30n, 130n],
  ]);
});
