// What a planned switch knows about replication: where a committed source offset lands on the
// destination, which topics a switch covers, and when a destination has caught up. The tracker
// is driven by fake clusters that implement only the two calls it makes (endOffsets, readRecords).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterAdmin, PartitionKey } from '../../../src/control/cluster-admin.ts';
import { estimate, isUserTopic, ReplicationTracker, TAIL_WINDOW, translateWithCut, type PartitionState } from '../../../src/control/replication.ts';
import type { ReplicationType } from '../../../src/config/types.ts';
import type { DecodedRecord } from '../../../src/protocol/records.ts';

// ---- estimate, translateWithCut, isUserTopic ----

test('estimate: a committed offset n records before the source end lands n records before the destination cut', () => {
  assert.equal(estimate(95n, 100n, 40n), 35n);
  assert.equal(estimate(0n, 10n, 1000n), 990n);
});

test('estimate: a group that consumed everything lands exactly on the destination cut', () => {
  assert.equal(estimate(100n, 100n, 40n), 40n);
  assert.equal(estimate(0n, 0n, 7n), 7n);
});

test('estimate: never below 0 and never above the destination cut', () => {
  assert.equal(estimate(10n, 100n, 40n), 0n, 'further back than the destination holds');
  assert.equal(estimate(0n, 100n, 0n), 0n);
  assert.equal(estimate(150n, 100n, 40n), 40n, 'committed past the source end');
});

test('estimate errs early: with gaps on the source (transaction markers) the estimate is at or before the true copy', () => {
  // Source offsets 0..9, with markers at 3 and 6: data records 0,1,2,4,5,7,8,9 copied densely to
  // destination offsets 20..27 (cut 28). Offset 4 was copied to 23.
  const sourceData = [0, 1, 2, 4, 5, 7, 8, 9];
  const destOf = (o: number) => BigInt(20 + sourceData.indexOf(o));
  for (const o of sourceData) assert.ok(estimate(BigInt(o), 10n, 28n) <= destOf(o), `offset ${o}`);
  assert.equal(estimate(4n, 10n, 28n), 22n);
});

test('translateWithCut: offset-preserving replication keeps offsets, with or without a cut', () => {
  assert.equal(translateWithCut('offset-preserving', {}, 'orders:0', 42n), 42n);
  assert.equal(translateWithCut('offset-preserving', { 'orders:0': ['100', '7'] }, 'orders:0', 42n), 42n);
});

test('translateWithCut: MirrorMaker 2 uses the partition\'s cut [source end, destination cut]', () => {
  const cut = { 'orders:0': ['100', '40'], 'orders:1': ['5', '5'] } satisfies Record<PartitionKey, [string, string]>;
  assert.equal(translateWithCut('mirrormaker2', cut, 'orders:0', 100n), 40n);
  assert.equal(translateWithCut('mirrormaker2', cut, 'orders:0', 90n), 30n);
  assert.equal(translateWithCut('mirrormaker2', cut, 'orders:0', 3n), 0n);
  assert.equal(translateWithCut('mirrormaker2', cut, 'orders:1', 2n), 2n);
});

test('translateWithCut: a partition the cut does not cover translates to null', () => {
  assert.equal(translateWithCut('mirrormaker2', { 'orders:0': ['100', '40'] }, 'orders:1', 5n), null);
  assert.equal(translateWithCut('mirrormaker2', {}, 'orders:0', 0n), null);
});

test('isUserTopic: Kafka\'s, Turnout\'s and MirrorMaker\'s own topics are not covered by a switch', () => {
  for (const t of ['__consumer_offsets', '__transaction_state', '_turnout_state', 'mm2-offset-syncs.kafka1.internal', 'mm2-configs.kafka2.internal', 'kafka1.checkpoints.internal', 'heartbeats']) {
    assert.equal(isUserTopic(t), false, t);
  }
});

test('isUserTopic: ordinary topic names are covered', () => {
  for (const t of ['orders', 'a.b-c_d', 'payments.v2', 'my-heartbeats', 'internal', 'x_turnout']) assert.equal(isUserTopic(t), true, t);
});

// ---- ReplicationTracker with fake clusters ----

const KEY: PartitionKey = 'orders:0';

/** A partition log of one fake cluster: records by offset, and the log end offset. */
interface Log { records: DecodedRecord[]; end: bigint }

/** Implements the two ClusterAdmin calls the tracker makes, and records them. */
class FakeCluster {
  readonly logs = new Map<PartitionKey, Log>();
  readonly endOffsetCalls: PartitionKey[][] = [];
  readonly reads: { key: PartitionKey; from: bigint; to: bigint }[] = [];

  set(key: PartitionKey, records: DecodedRecord[], end?: bigint): this {
    this.logs.set(key, { records, end: end ?? (records.length === 0 ? 0n : records[records.length - 1].offset + 1n) });
    return this;
  }

  async endOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    const list = [...keys];
    this.endOffsetCalls.push(list);
    return new Map(list.filter((k) => this.logs.has(k)).map((k) => [k, this.logs.get(k)!.end]));
  }

  /** As the real one: records in [from, to), a negative `from` reads from 0. */
  async readRecords(topic: string, partition: number, from: bigint, to: bigint): Promise<DecodedRecord[]> {
    const key = `${topic}:${partition}`;
    this.reads.push({ key, from, to });
    return (this.logs.get(key)?.records ?? []).filter((r) => r.offset >= from && r.offset < to);
  }

  get admin(): ClusterAdmin {
    return this as unknown as ClusterAdmin;
  }
}

/** Record number n: distinct timestamp, key and value. */
const rec = (n: number, offset: bigint | number): DecodedRecord => ({
  offset: BigInt(offset), timestamp: 1_700_000_000_000 + n, key: Buffer.from(`k${n}`), value: Buffer.from(`v${n}`),
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

test('mirrormaker2: the destination has caught up when the source tail\'s last record is at its tail; the cut is just after that copy', async () => {
  // Source records 0..9 at offsets 0..9; the destination holds 3 older records, the copies at 3..12, then one of its own.
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), local(2, 1), local(3, 2), ...run(0, 10, 3), local(4, 13)]);
  const s = await checkOne(tracker('mirrormaker2', source, dest), 10n);
  assert.deepEqual(s, { key: KEY, sourceEnd: 10n, destEnd: 14n, caughtUp: true, lag: 0, destCut: 13n, method: 'match' });
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
  const a = 'orders:0', b = 'orders:1', c = 'payments:0';
  const source = new FakeCluster().set(a, run(0, 5, 0)).set(b, run(100, 105, 0)).set(c, []);
  const dest = new FakeCluster().set(a, run(0, 5, 10)).set(b, run(100, 103, 0)).set(c, []);
  const states = await tracker('mirrormaker2', source, dest).check(new Map([[c, 0n], [a, 5n], [b, 5n]]));
  assert.deepEqual(states.map((s) => [s.key, s.caughtUp, s.lag, s.method]), [[c, true, 0, 'empty'], [a, true, 0, 'match'], [b, false, 2, 'match']]);
});

test('mirrormaker2 translate: a group that consumed everything moves to the destination cut', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), ...run(0, 10, 1), local(2, 11)]);
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 10n);
  assert.deepEqual(t.translate(KEY, 10n), { key: KEY, source: 10n, dest: 11n, method: 'end' });
});

test('mirrormaker2 translate: a committed offset whose record is on the destination moves to that copy', async () => {
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [local(1, 0), local(2, 1), ...run(0, 10, 2)]);
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 10n);
  assert.deepEqual(t.translate(KEY, 4n), { key: KEY, source: 4n, dest: 6n, method: 'matched' });
  assert.deepEqual(t.translate(KEY, 0n), { key: KEY, source: 0n, dest: 2n, method: 'matched' });
});

test('mirrormaker2 translate: a committed offset on a transaction marker moves to the copy of the next record', async () => {
  // Source data at 0,1,2,4,5 (3 is a marker); copies at 10..14.
  const src = [rec(0, 0), rec(1, 1), rec(2, 2), rec(4, 4), rec(5, 5)];
  const source = new FakeCluster().set(KEY, src, 6n);
  const dest = new FakeCluster().set(KEY, src.map((r, i) => ({ ...r, offset: BigInt(10 + i) })));
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 6n);
  assert.deepEqual(t.translate(KEY, 3n), { key: KEY, source: 3n, dest: 13n, method: 'matched' });
});

test('mirrormaker2 translate: a duplicated copy on the destination is translated to its first copy (re-reads, never skips)', async () => {
  const source = new FakeCluster().set(KEY, run(0, 6, 0));
  // MirrorMaker restarted and copied records 2..3 twice: copies at 0,1,2,3,4,5,6,7.
  const dest = new FakeCluster().set(KEY, [...run(0, 4, 0), ...run(2, 6, 4)]);
  const t = tracker('mirrormaker2', source, dest);
  const s = await checkOne(t, 6n);
  assert.equal(s.destCut, 8n);
  assert.equal(t.translate(KEY, 3n).dest, 3n);
});

test('mirrormaker2 translate: a record not yet on the destination gets an estimate before where it will land', async () => {
  // 10 source records, copies of 0..6 at 5..11: 3 behind.
  const source = new FakeCluster().set(KEY, run(0, 10, 0));
  const dest = new FakeCluster().set(KEY, [...run(100, 105, 0), ...run(0, 7, 5)]);
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, 10n);
  // Record 8 would land at 13 (after 7 at 12); the estimate counts back 2 from the destination end 12.
  assert.deepEqual(t.translate(KEY, 8n), { key: KEY, source: 8n, dest: 10n, method: 'estimated' });
  assert.deepEqual(t.translate(KEY, 10n), { key: KEY, source: 10n, dest: 12n, method: 'estimated' }, 'no cut while behind: counted from the destination end');
});

test('mirrormaker2 translate: a committed offset older than the compared window is estimated, never moved past its record', async () => {
  // 700 source records; the tail read is offsets 200..699. Copies at the same offsets + 1000.
  const n = TAIL_WINDOW + 200;
  const source = new FakeCluster().set(KEY, run(0, n, 0));
  const dest = new FakeCluster().set(KEY, run(0, n, 1000));
  const t = tracker('mirrormaker2', source, dest);
  await checkOne(t, BigInt(n));
  const r = t.translate(KEY, 50n);
  assert.ok(r.dest <= 1050n, `record 50 was copied to 1050; translated to ${r.dest} (${r.method}), which skips ${r.dest - 1050n} records`);
  assert.equal(r.method, 'estimated');
  assert.equal(r.dest, 1050n);
});

test('mirrormaker2 translate: a partition never checked keeps its offset', () => {
  const t = tracker('mirrormaker2', new FakeCluster(), new FakeCluster());
  assert.deepEqual(t.translate(KEY, 7n), { key: KEY, source: 7n, dest: 7n, method: 'same' });
});

test('offset-preserving: caught up exactly when the destination end reached the source end; offsets translate to themselves', async () => {
  const source = new FakeCluster();
  const dest = new FakeCluster().set('a:0', [], 10n).set('b:0', [], 12n).set('c:0', [], 7n);
  const t = tracker('offset-preserving', source, dest);
  const states = await t.check(new Map([['a:0', 10n], ['b:0', 10n], ['c:0', 10n]]));
  assert.deepEqual(states, [
    { key: 'a:0', sourceEnd: 10n, destEnd: 10n, caughtUp: true, lag: 0, destCut: 10n, method: 'offsets' },
    { key: 'b:0', sourceEnd: 10n, destEnd: 12n, caughtUp: true, lag: 0, destCut: 10n, method: 'offsets' },
    { key: 'c:0', sourceEnd: 10n, destEnd: 7n, caughtUp: false, lag: 3, destCut: 10n, method: 'offsets' },
  ]);
  assert.equal(source.reads.length + dest.reads.length, 0, 'no records are read');
  for (const k of ['a:0', 'c:0']) assert.deepEqual(t.translate(k, 4n), { key: k, source: 4n, dest: 4n, method: 'same' });
  assert.deepEqual(t.translate('c:0', 10n), { key: 'c:0', source: 10n, dest: 10n, method: 'same' });
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

test('cut(): [source end, destination cut] as strings per partition, the destination end where there is no cut', async () => {
  const a = 'orders:0', b = 'orders:1', c = 'orders:2';
  const source = new FakeCluster().set(a, run(0, 10, 0)).set(b, run(20, 30, 0)).set(c, []);
  const dest = new FakeCluster().set(a, [...run(0, 10, 3), local(1, 13)]).set(b, run(20, 25, 0)).set(c, [local(2, 0)]);
  const t = tracker('mirrormaker2', source, dest);
  await t.check(new Map([[a, 10n], [b, 10n], [c, 0n]]));
  assert.deepEqual(t.cut(), { [a]: ['10', '13'], [b]: ['10', '5'], [c]: ['0', '1'] });
  // What an instance does with it for an OffsetCommit it held agrees with the tracker on the end.
  assert.equal(translateWithCut('mirrormaker2', t.cut(), a, 10n), t.translate(a, 10n).dest);
});

test('cut(): empty before any check', () => {
  assert.deepEqual(tracker('mirrormaker2', new FakeCluster(), new FakeCluster()).cut(), {});
});
