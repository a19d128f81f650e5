// What a planned switch knows about replication: where a committed source offset lands on the
// destination, which topics a switch covers, and when a destination has caught up. The tracker
// is driven by fake clusters that implement only the two calls it makes (endOffsets, readRecords).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReplicationType } from '../../../src/config/types.ts';
import type { PartitionKey } from '../../../src/control/cluster-admin.ts';
import { decodeAnchors, translateWithAnchors } from '../../../src/control/offset-translation.ts';
import {
  describeLossWindow,
  isUserTopic,
  LagHistory,
  observeLag,
  type PartitionState,
  ReplicationTracker,
  TAIL_WINDOW,
} from '../../../src/control/replication.ts';
import type { DecodedRecord } from '../../../src/protocol/records.ts';
import { FakeCluster } from './fake-cluster.ts';

// ---- isUserTopic ----

test("isUserTopic: Kafka's, Turnout's and MirrorMaker's own topics are not covered by a switch", () => {
  for (const t of [
    '__consumer_offsets',
    '__transaction_state',
    '_turnout_state',
    'mm2-offset-syncs.kafka1.internal',
    'mm2-configs.kafka2.internal',
    'kafka1.checkpoints.internal',
    'heartbeats',
  ]) {
    assert.equal(isUserTopic(t), false, t);
  }
});

test('isUserTopic: ordinary topic names are covered', () => {
  for (const t of ['orders', 'a.b-c_d', 'payments.v2', 'my-heartbeats', 'internal', 'x_turnout']) assert.equal(isUserTopic(t), true, t);
});

// ---- ReplicationTracker with fake clusters ----

const KEY: PartitionKey = 'orders:0';

/** Record number n: distinct timestamp, key and value. */
const rec = (n: number, offset: bigint | number): DecodedRecord => ({
  offset: BigInt(offset),
  timestamp: 1_700_000_000_000 + n,
  key: Buffer.from(`k${n}`),
  value: Buffer.from(`v${n}`),
});
/** Records numbered from..to-1 at consecutive offsets from `at`. */
const run = (from: number, to: number, at: number): DecodedRecord[] => Array.from({ length: to - from }, (_, i) => rec(from + i, at + i));
/** A record only the destination has (written there directly, not a copy). */
const local = (n: number, offset: number): DecodedRecord => ({ offset: BigInt(offset), timestamp: n, key: null, value: Buffer.from(`local-${n}`) });

function tracker(type: ReplicationType, source: FakeCluster, dest: FakeCluster): ReplicationTracker {
  return new ReplicationTracker(type, source.admin, dest.admin);
}

async function checkOne(t: ReplicationTracker, sourceEnd: bigint, key = KEY): Promise<PartitionState> {
  const states = await t.check(new Map([[key, sourceEnd]]));
  assert.equal(states.length, 1);
  return states[0];
}

test("mirrormaker2: the destination has caught up when the source tail's last record is at its tail; the cut is just after that copy", async () => {
  // Source records 0..9 at offsets 0..9; the destination holds 3 older records, the copies at 3..12, then one of its own.
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), local(2, 1), local(3, 2), ...run(0, 10, 3), local(4, 13)]);
  const s = await checkOne(tracker('mirrormaker2', source, dest), 10n);
  assert.deepEqual(s, { key: KEY, sourceEnd: 10n, destEnd: 14n, caughtUp: true, lag: 0, destCut: 13n, cutExact: true, method: 'match' });
});

test('mirrormaker2: a destination k records behind has lag k and is not caught up', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), ...run(0, 7, 1)]);
  const s = await checkOne(tracker('mirrormaker2', source, dest), 10n);
  assert.deepEqual(s, { key: KEY, sourceEnd: 10n, destEnd: 8n, caughtUp: false, lag: 3, destCut: null, method: 'match' });
});

test('mirrormaker2: a destination with none of the source tail has an unknown lag', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  for (const dest of [new FakeCluster().set(KEY, [local(1, 0), local(2, 1)]), new FakeCluster().set(KEY, [])]) {
    const s = await checkOne(tracker('mirrormaker2', source, dest), 10n);
    assert.equal(s.caughtUp, false);
    assert.equal(s.lag, null);
    assert.equal(s.destCut, null);
  }
});

test('mirrormaker2: an empty source partition has nothing to copy and is caught up at the destination end', async () => {
  const source = new FakeCluster().set(KEY, []);
  const dest = new FakeCluster().set(KEY, [local(1, 0), local(2, 1)]);
  const s = await checkOne(tracker('mirrormaker2', source, dest), 0n);
  assert.deepEqual(s, { key: KEY, sourceEnd: 0n, destEnd: 2n, caughtUp: true, lag: 0, destCut: 2n, method: 'empty' });
});

test('mirrormaker2: only the last TAIL_WINDOW offsets of each side are read', async () => {
  const n = TAIL_WINDOW + 100;
  const source = new FakeCluster().set(KEY, run(0, n, 0));
  const dest = new FakeCluster().set(KEY, run(0, n, 50));
  const s = await checkOne(tracker('mirrormaker2', source, dest), BigInt(n));
  assert.equal(s.caughtUp, true);
  assert.deepEqual(source.reads, [{ key: KEY, from: 100n, to: BigInt(n) }]);
  assert.deepEqual(dest.reads, [{ key: KEY, from: BigInt(n + 50 - TAIL_WINDOW), to: BigInt(n + 50) }]);
});

test('mirrormaker2: the source tail is read once; the destination is read again until it has caught up, then no more', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, run(0, 6, 0));
  const t = tracker('mirrormaker2', source, dest);
  assert.equal((await checkOne(t, 10n)).lag, 4);
  dest.set(KEY, run(0, 10, 0));
  const caught = await checkOne(t, 10n);
  assert.equal(caught.caughtUp, true);
  assert.equal(caught.destCut, 10n);
  await checkOne(t, 10n);
  assert.equal(source.reads.length, 1);
  assert.equal(dest.reads.length, 2);
  assert.deepEqual(dest.endOffsetCalls, [[KEY], [KEY]], 'a caught-up partition is not asked for again');
});

test('mirrormaker2: check answers every partition asked for, in the order given', async () => {
  const a = 'orders:0',
    b = 'orders:1',
    c = 'payments:0';
  const source = new FakeCluster()
    .set(a, run(0, 5, 0))
    .set(b, run(100, 105, 0))
    .set(c, []);
  const dest = new FakeCluster()
    .set(a, run(0, 5, 10))
    .set(b, run(100, 103, 0))
    .set(c, []);
  const states = await tracker('mirrormaker2', source, dest).check(
    new Map([
      [c, 0n],
      [a, 5n],
      [b, 5n],
    ]),
  );
  assert.deepEqual(
    states.map((s) => [s.key, s.caughtUp, s.lag, s.method]),
    [
      [c, true, 0, 'empty'],
      [a, true, 0, 'match'],
      [b, false, 2, 'match'],
    ],
  );
});

test('mirrormaker2 translate: a group that consumed everything moves to the destination cut', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), ...run(0, 10, 1), local(2, 11)]);
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 10n);
  assert.deepEqual(t.translate(KEY, 10n), { key: KEY, source: 10n, dest: 11n, method: 'exact', reReadBound: 0n });
});

test('mirrormaker2 translate: a committed offset whose record is on the destination moves to that copy', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), local(2, 1), ...run(0, 10, 2)]);
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 10n);
  assert.deepEqual(t.translate(KEY, 4n), { key: KEY, source: 4n, dest: 6n, method: 'exact', reReadBound: 0n });
  assert.deepEqual(t.translate(KEY, 0n), { key: KEY, source: 0n, dest: 2n, method: 'exact', reReadBound: 0n });
});

test('mirrormaker2 translate: a committed offset on a transaction marker moves to the copy of the next record', async () => {
  // Source data at 0,1,2,4,5 (3 is a marker); copies at 10..14.
  const src = [rec(0, 0), rec(1, 1), rec(2, 2), rec(4, 4), rec(5, 5)];
  const source = new FakeCluster().set(KEY, src, 6n);
  const dest = new FakeCluster().set(
    KEY,
    src.map((r, i) => ({ ...r, offset: BigInt(10 + i) })),
  );
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 6n);
  // One past the copy of record 2, and no later than the copy of record 4: exact.
  assert.deepEqual(t.translate(KEY, 3n), { key: KEY, source: 3n, dest: 13n, method: 'exact', reReadBound: 0n });
});

test('mirrormaker2 translate: records copied twice are not paired; the group continues just after the nearest record paired before its offset', async () => {
  const source = new FakeCluster().set(KEY, run(0, 6, 0));
  // MirrorMaker restarted and copied records 2..3 twice: copies at 0,1,2,3,4,5,6,7.
  const dest = new FakeCluster().set(KEY, [...run(0, 4, 0), ...run(2, 6, 4)]);
  const t = tracker('mirrormaker2', source, dest);
  const s = await checkOne(t, 6n);
  assert.equal(s.destCut, 8n);
  // Records 2 and 3 have two copies each, so they are not paired; 1 is at 1 and 4 at 6.
  assert.deepEqual(t.translate(KEY, 3n), { key: KEY, source: 3n, dest: 2n, method: 'tail', reReadBound: 4n });
});

test('mirrormaker2 translate: while the destination is behind, a committed offset past its last copy continues just after that copy, with no bound on re-reads', async () => {
  // 10 source records, copies of 0..6 at 5..11: 3 behind.
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [...run(100, 105, 0), ...run(0, 7, 5)]);
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 10n);
  // Record 6 is at 11; records 7.. will land from 12 on.
  assert.deepEqual(t.translate(KEY, 8n), { key: KEY, source: 8n, dest: 12n, method: 'tail', reReadBound: null });
  assert.deepEqual(t.translate(KEY, 10n), { key: KEY, source: 10n, dest: 12n, method: 'tail', reReadBound: null });
  assert.deepEqual(t.translate(KEY, 6n), { key: KEY, source: 6n, dest: 11n, method: 'exact', reReadBound: 0n });
});

test("mirrormaker2 translate: a committed offset older than the compared window, with no offset syncs, continues at the destination's log start", async () => {
  // 700 source records; the tail read is offsets 200..699. Copies at the same offsets + 1000.
  const n = TAIL_WINDOW + 200;
  const source = new FakeCluster().set(KEY, run(0, n, 0));
  const dest = new FakeCluster().set(KEY, run(0, n, 1000));
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, BigInt(n));
  await t.prepare([{ groupId: 'g', offsets: new Map([[KEY, 50n]]) }], ['fake']);
  // Never past record 50's copy at 1050; at most up to the first paired record (200 at 1200).
  assert.deepEqual(t.translate(KEY, 50n, 'g'), { key: KEY, source: 50n, dest: 1000n, method: 'start', reReadBound: 200n });
});

test('mirrormaker2 translate: a partition never checked continues at the destination log start (nothing known, nothing skipped)', () => {
  const t = tracker('mirrormaker2', new FakeCluster(), new FakeCluster());
  assert.deepEqual(t.translate(KEY, 7n), { key: KEY, source: 7n, dest: 0n, method: 'start', reReadBound: null });
});

test('offset-preserving: caught up exactly when the destination end reached the source end; offsets translate to themselves', async () => {
  const source = new FakeCluster();
  const dest = new FakeCluster().set('a:0', [], 10n).set('b:0', [], 12n).set('c:0', [], 7n);
  const t = tracker('offset-preserving', source, dest);
  const states = await t.check(
    new Map([
      ['a:0', 10n],
      ['b:0', 10n],
      ['c:0', 10n],
    ]),
  );
  assert.deepEqual(states, [
    { key: 'a:0', sourceEnd: 10n, destEnd: 10n, caughtUp: true, lag: 0, destCut: 10n, method: 'offsets' },
    { key: 'b:0', sourceEnd: 10n, destEnd: 12n, caughtUp: true, lag: 0, destCut: 10n, method: 'offsets' },
    { key: 'c:0', sourceEnd: 10n, destEnd: 7n, caughtUp: false, lag: 3, destCut: 10n, method: 'offsets' },
  ]);
  for (const k of ['a:0', 'c:0']) assert.deepEqual(t.translate(k, 4n), { key: k, source: 4n, dest: 4n, method: 'same', reReadBound: 0n });
  assert.deepEqual(t.translate('c:0', 10n), { key: 'c:0', source: 10n, dest: 10n, method: 'same', reReadBound: 0n });
});

test('offset-preserving: a partition the destination does not have counts as end 0', async () => {
  const s = await checkOne(tracker('offset-preserving', new FakeCluster(), new FakeCluster()), 5n);
  assert.deepEqual([s.destEnd, s.caughtUp, s.lag], [0n, false, 5]);
});

test('replication none: never caught up, nothing read', async () => {
  const source = new FakeCluster().set(KEY, run(0, 3, 0));
  const dest = new FakeCluster().set(KEY, run(0, 3, 0));
  const s = await checkOne(tracker('none', source, dest), 3n);
  assert.deepEqual(s, { key: KEY, sourceEnd: 3n, destEnd: 3n, caughtUp: false, lag: null, destCut: null, method: 'none' });
  assert.equal(source.reads.length + dest.reads.length, 0);
});

test('offset-preserving: the last offsets of a caught-up partition are compared; a different record there is a mismatch', async () => {
  const source = new FakeCluster().set('a:0', run(0, 20, 0)).set('b:0', run(0, 20, 0));
  const dest = new FakeCluster().set('a:0', run(0, 20, 0)).set('b:0', [...run(0, 19, 0), local(9, 19)]);
  const [a, b] = await tracker('offset-preserving', source, dest).check(
    new Map([
      ['a:0', 20n],
      ['b:0', 20n],
    ]),
  );
  assert.equal(a.caughtUp, true);
  assert.equal(a.mismatch, undefined);
  assert.equal(b.caughtUp, false);
  assert.match(b.mismatch ?? '', /records at offset 19 differ/);
});

test('anchors(): per partition the destination start and lower anchors; a held OffsetCommit translates with them, never past its record', async () => {
  // Source data at 0..9 except 3 and 6 (markers); copies at 100.. in order.
  const data = [0, 1, 2, 4, 5, 7, 8, 9];
  const source = new FakeCluster().set(
    KEY,
    data.map((n) => rec(n, n)),
    10n,
  );
  const dest = new FakeCluster().set(
    KEY,
    data.map((n, i) => rec(n, 100 + i)),
  );
  const t = tracker('mirrormaker2', source, dest);
  await t.check(new Map([[KEY, 10n]]));
  await t.prepare([], ['fake']);
  const anchors = t.anchors()[KEY];
  assert.equal(decodeAnchors(anchors)?.destStart, 100n);
  const copyOf = (o: number) => 100n + BigInt(data.findIndex((n) => n >= o));
  for (let q = 0; q <= 10; q++) {
    const r = translateWithAnchors(anchors, BigInt(q))!;
    const truth = q === 10 ? 108n : copyOf(q);
    assert.ok(r.dest <= truth, `held commit ${q}: ${r.dest} is past its record at ${truth}`);
    assert.equal(r.dest, truth, `held commit ${q} is exact within the tail`);
  }
  assert.equal(translateWithAnchors(undefined, 5n), null);
  assert.equal(translateWithAnchors(['x'], 5n), null);
});

/** A switch over `n` partitions of `topic`, each holding `records` records copied at +4e9, checked and prepared. */
async function manyPartitions(topic: string, n: number, records: number): Promise<ReplicationTracker> {
  const source = new FakeCluster();
  const dest = new FakeCluster();
  const ends = new Map<PartitionKey, bigint>();
  for (let p = 0; p < n; p++) {
    const k = `${topic}:${p}`;
    source.set(k, run(p * 1000, p * 1000 + records, 1_000_000_000));
    dest.set(k, run(p * 1000, p * 1000 + records, 5_000_000_000));
    ends.set(k, BigInt(1_000_000_000 + records));
  }
  const t = tracker('mirrormaker2', source, dest);
  await t.check(ends);
  await t.prepare([], ['fake']);
  return t;
}

test("anchors(): the route record stays well under a broker's 1 MB message limit, however many partitions a switch covers", async () => {
  const t = await manyPartitions('orders', 5000, 60);
  const size = JSON.stringify(t.anchors()).length;
  assert.ok(size < 650_000, `${size} bytes`);
  assert.ok(
    Object.values(t.anchors()).every((a) => a.length >= 3),
    'the log start and an anchor per partition at least',
  );
  assert.equal(Object.keys(t.anchors()).length, 5000);
});

test('anchors(): past the byte budget, partitions go without anchors (their held commits are left alone) rather than the record growing', async () => {
  const t = await manyPartitions('a-rather-long-topic-name-for-a-switch-over-many-partitions', 20_000, 3);
  const anchors = t.anchors();
  assert.ok(JSON.stringify(anchors).length <= 600_000, `${JSON.stringify(anchors).length} bytes`);
  assert.ok(Object.keys(anchors).length > 1000 && Object.keys(anchors).length < 20_000, `${Object.keys(anchors).length} partitions with anchors`);
});

test('mirrormaker2: an open transaction on the source (last stable offset below the end) is not caught up, and says why', async () => {
  const source = new FakeCluster('blue').set(KEY, run(0, 10, 0));
  source.stable.set(KEY, 7n);
  const dest = new FakeCluster().set(KEY, run(0, 10, 0));
  const s = await checkOne(tracker('mirrormaker2', source, dest), 10n);
  assert.equal(s.caughtUp, false);
  assert.match(s.waiting ?? '', /open transaction on "blue" \(last stable offset 7, end 10\)/);
});

test('mirrormaker2: a tail of only aborted transactions is widened back to the last committed record, which must be on the destination', async () => {
  // Committed records at 0..99; offsets 100..699 hold only aborted records and markers (not read committed).
  const source = new FakeCluster().set(KEY, run(0, 100, 0), 700n);
  const behind = await checkOne(tracker('mirrormaker2', source, new FakeCluster().set(KEY, run(0, 90, 0))), 700n);
  assert.deepEqual([behind.caughtUp, behind.lag, behind.method], [false, 10, 'match'], 'not "empty": the last 10 committed records are missing');
  const caught = await checkOne(tracker('mirrormaker2', source, new FakeCluster().set(KEY, run(0, 100, 0))), 700n);
  assert.deepEqual([caught.caughtUp, caught.destCut], [true, 100n]);
});

test('the loss window of a hot switch comes from the last lag seen for the same pair of clusters, and says when it is unknown', () => {
  const at = Date.parse('2026-01-01T00:00:00Z');
  const states = [
    { key: 't:0', sourceEnd: 10n, destEnd: 10n, caughtUp: true, lag: 0, destCut: 10n, method: 'offsets' },
    { key: 't:1', sourceEnd: 30n, destEnd: 18n, caughtUp: false, lag: 12, destCut: null, method: 'offsets' },
    { key: 't:2', sourceEnd: 900n, destEnd: 0n, caughtUp: false, lag: null, destCut: null, method: 'match' },
  ] as const;
  const o = observeLag('blue', 'green', states as never, at);
  assert.deepEqual(
    { partitions: o.partitions, behind: o.behind, records: o.records, unknown: o.unknown },
    { partitions: 3, behind: 2, records: 12, unknown: 1 },
  );
  const text = describeLossWindow(o, 'orders', 'blue', 'green', at + 42_000);
  assert.match(
    text,
    /last replication lag seen 42 s ago \(2026-01-01T00:00:00.000Z\): 2 of 3 partition\(s\) behind by 12 record\(s\) plus 1 partition\(s\) behind by an unknown amount/,
  );
  assert.match(text, /stay on "blue"/);
  assert.doesNotMatch(text, /nothing was lost/i);
  assert.match(describeLossWindow(undefined, 'orders', 'blue', 'green'), /^unknown: this gateway has not measured replication from "blue" to "green"/);
  assert.match(describeLossWindow(o, 'orders', 'green', 'blue'), /^unknown/, 'a lag measured the other way round says nothing');
  const history = new LagHistory();
  history.note('orders', o);
  assert.equal(history.get('orders'), o);
  assert.equal(history.get('payments'), undefined);
});

// ---- before the fence, then only what changed ----

/** A source and a destination of `n` partitions ("big-<p/6>:<p%6>"), each with `records` copied records, the copies at +base. */
function fleetOfPartitions(n: number, records: number, base = 7): { source: FakeCluster; dest: FakeCluster; ends: Map<PartitionKey, bigint> } {
  const source = new FakeCluster('blue');
  const dest = new FakeCluster('green');
  const ends = new Map<PartitionKey, bigint>();
  for (let p = 0; p < n; p++) {
    const k = `big-${Math.floor(p / 6)}:${p % 6}`;
    source.set(k, run(p * 10_000, p * 10_000 + records, 0));
    dest.set(k, run(p * 10_000, p * 10_000 + records, base));
    ends.set(k, BigInt(records));
  }
  return { source, dest, ends };
}

/** Appends records numbered from..to-1 to a fake's partition, at its end. */
function append(c: FakeCluster, key: PartitionKey, from: number, to: number): void {
  const log = c.logs.get(key)!;
  c.set(key, [...log.records, ...run(from, to, Number(log.end))]);
}

test('6,000 partitions: the check reads every tail with one batched read per cluster; after writes, only the partitions that moved, and only their new offsets', async () => {
  const { source, dest, ends } = fleetOfPartitions(6000, 20);
  const t = tracker('mirrormaker2', source, dest);
  const before = await t.check(ends);
  assert.ok(before.every((s) => s.caughtUp));
  assert.deepEqual([source.rangeCalls, dest.rangeCalls], [[6000], [6000]], 'one batched read per side, not a read per partition');
  // Writes go on before the fence: 10 partitions gain 3 records each, replicated.
  const moved = [...ends.keys()].filter((_, i) => i % 600 === 0);
  for (const k of moved) {
    const n = Number(k.split(':')[1]) * 1_000_000 + 500_000;
    append(source, k, n, n + 3);
    append(dest, k, n, n + 3);
  }
  const after = new Map([...ends].map(([k, e]) => [k, moved.includes(k) ? e + 3n : e]));
  source.reads.length = 0;
  dest.reads.length = 0;
  const states = await t.check(after);
  assert.ok(states.every((s) => s.caughtUp));
  assert.deepEqual(source.rangeCalls, [6000, 10]);
  assert.deepEqual(dest.rangeCalls, [6000, 10]);
  assert.deepEqual(
    source.reads.map((r) => [r.key, r.from, r.to]),
    moved.map((k) => [k, 20n, 23n]),
    'only the new offsets of the source',
  );
  assert.deepEqual(
    dest.reads.map((r) => [r.key, r.from, r.to]),
    moved.map((k) => [k, 27n, 30n]),
    'only the new offsets of the destination',
  );
  assert.deepEqual(dest.endOffsetCalls.at(-1), moved, 'partitions caught up at an unchanged end are not asked for again');
});

test('a partition caught up before the fence whose source end moved is checked again: not caught up until the new records are on the destination', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, run(0, 10, 5));
  const t = tracker('mirrormaker2', source, dest);
  assert.equal((await checkOne(t, 10n)).caughtUp, true);
  append(source, KEY, 10, 14);
  const behind = await checkOne(t, 14n);
  assert.deepEqual([behind.caughtUp, behind.lag, behind.destCut], [false, 4, null]);
  assert.deepEqual(t.translate(KEY, 14n).reReadBound, null, 'no exact cut while records are missing');
  append(dest, KEY, 10, 14);
  const caught = await checkOne(t, 14n);
  assert.deepEqual([caught.caughtUp, caught.destCut, caught.sourceEnd], [true, 19n, 14n]);
  assert.deepEqual(t.translate(KEY, 14n), { key: KEY, source: 14n, dest: 19n, method: 'exact', reReadBound: 0n });
});

/** A deterministic pseudo-random sequence (tests must not depend on luck). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

test('states and translations after a check of only what changed equal those of a tracker that reads everything at the new ends', async () => {
  const random = lcg(25);
  for (let round = 0; round < 40; round++) {
    // Before: source records, the destination a copy (maybe behind), with records of its own among them.
    const n = 5 + Math.floor(random() * 900);
    const behindBefore = Math.floor(random() * 3) === 0 ? Math.floor(random() * Math.min(n, 40)) : 0;
    const src = run(0, n, Math.floor(random() * 50));
    const dst = [...run(100_000, 100_000 + Math.floor(random() * 5), 0)];
    for (const r of src.slice(0, n - behindBefore)) {
      if (random() < 0.02) dst.push(local(dst.length, dst.length));
      dst.push({ ...r, offset: BigInt(dst.length) });
    }
    const source = new FakeCluster().set(KEY, src);
    const dest = new FakeCluster().set(KEY, dst);
    const incremental = tracker('mirrormaker2', source, dest);
    await checkOne(incremental, source.logs.get(KEY)!.end);
    // Writes until the fence: k new records (sometimes more than the window), copied or not, perhaps with a gap.
    const k = [0, 1, 7, 300, TAIL_WINDOW + 50][Math.floor(random() * 5)];
    const gap = random() < 0.3 ? Math.floor(random() * 30) : 0;
    const added = run(n, n + k, Number(source.logs.get(KEY)!.end) + gap);
    source.set(KEY, [...src, ...added]);
    const copied = [...src.slice(n - behindBefore), ...added].slice(0, Math.floor(random() * (behindBefore + k + 1)));
    dest.set(KEY, [...dst, ...copied.map((r, i) => ({ ...r, offset: BigInt(dst.length + i) }))]);
    const end = source.logs.get(KEY)!.end;
    const delta = await checkOne(incremental, end);
    const fresh = tracker('mirrormaker2', source, dest);
    const whole = await checkOne(fresh, end);
    assert.deepEqual(delta, whole, `round ${round}: n ${n}, behind ${behindBefore}, added ${k}, gap ${gap}, copied ${copied.length}`);
    for (const q of [0n, BigInt(n - 1), BigInt(n), end - 1n, end]) {
      if (q < 0n) continue;
      assert.deepEqual(incremental.translate(KEY, q), fresh.translate(KEY, q), `round ${round}: translation of ${q}`);
    }
  }
});

test('after the fence, a tail whose new offsets hold only aborted records is widened as a whole read would be', async () => {
  // Committed records at 0..99; the fence finds 600 more offsets of aborted records (not read committed).
  const source = new FakeCluster().set(KEY, run(0, 100, 0));
  const dest = new FakeCluster().set(KEY, run(0, 100, 0));
  const t = tracker('mirrormaker2', source, dest);
  assert.equal((await checkOne(t, 100n)).caughtUp, true);
  source.set(KEY, run(0, 100, 0), 700n);
  const s = await checkOne(t, 700n);
  assert.deepEqual([s.caughtUp, s.destCut, s.method], [true, 100n, 'match']);
  dest.set(KEY, run(0, 98, 0));
  const fresh = await checkOne(tracker('mirrormaker2', source, dest), 700n);
  assert.deepEqual([fresh.caughtUp, fresh.lag], [false, 2], 'the same source tail found by a fresh tracker');
});
