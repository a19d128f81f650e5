// Reading many partitions' ranges batched (partition-reader.ts): one Fetch per leader broker names
// up to a thousand partitions, only partitions not completely returned are fetched again, and
// one partition's trouble (out of range, unreadable, not the leader) is that partition's only.
// Driven by a fake broker that answers Fetch from in-memory batches as Kafka does (KIP-74: the
// first partition gets a whole batch whatever the limits, the others at most partitionMaxBytes,
// cut mid-batch, until the answer's maxBytes is spent).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostPort } from '../../../src/config/types.ts';
import type { PartitionKey } from '../../../src/control/cluster-admin.ts';
import { type FetchIO, type FetchPlan, ReadDeadlineError, type ReadRange, readRanges } from '../../../src/control/partition-reader.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { compressedBatch, withBody } from '../protocol/compressed-batch.ts';

interface FakePartition {
  batches: Buffer[];
  hw: bigint;
  lso?: bigint;
  start?: bigint;
  errors?: number[];
}

const lastOffset = (b: Buffer) => b.readBigInt64BE(0) + BigInt(b.readInt32BE(23));

/** One broker per leader address; counts Fetches and how many partitions each named. */
class FakeBrokers implements FetchIO {
  readonly domainName = 'blue';
  maxDecompressedBytes = 64 * 1024 * 1024;
  timeoutMs = 2000;
  readonly partitions = new Map<PartitionKey, FakePartition>();
  readonly leader = new Map<PartitionKey, number>();
  readonly fetches: { broker: number; partitions: number; keys: PartitionKey[]; offsets: bigint[] }[] = [];
  leaderLookups = 0;

  add(key: PartitionKey, p: FakePartition, broker = 1): this {
    this.partitions.set(key, p);
    this.leader.set(key, broker);
    return this;
  }

  async leaders(keys: readonly PartitionKey[]): Promise<Map<PartitionKey, HostPort>> {
    this.leaderLookups++;
    return new Map(keys.filter((k) => this.leader.has(k)).map((k) => [k, { host: 'broker', port: this.leader.get(k)! }]));
  }

  async startOffsets(keys: readonly PartitionKey[]): Promise<Map<PartitionKey, bigint>> {
    return new Map(keys.map((k) => [k, this.partitions.get(k)?.start ?? 0n]));
  }

  async fetch(address: HostPort, plan: FetchPlan): Promise<FetchResponse> {
    const keys = plan.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}:${p.partition}`));
    this.fetches.push({ broker: address.port, partitions: keys.length, keys, offsets: plan.topics.flatMap((t) => t.partitions.map((p) => p.fetchOffset)) });
    let left = plan.maxBytes;
    let first = true;
    const responses = plan.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((req) => {
        const key = `${t.topic}:${req.partition}`;
        const p = this.partitions.get(key)!;
        const error = p.errors?.shift();
        const base = {
          partitionIndex: req.partition,
          highWatermark: p.hw,
          lastStableOffset: p.lso ?? p.hw,
          logStartOffset: p.start ?? 0n,
          abortedTransactions: [],
        };
        if (error !== undefined && error !== 0) return { ...base, errorCode: error, records: null };
        if (this.leader.get(key) !== address.port) return { ...base, errorCode: 6, records: null };
        if (req.fetchOffset < (p.start ?? 0n) || req.fetchOffset > p.hw) return { ...base, errorCode: 1, records: null };
        const bound = plan.isolationLevel === 1 ? (p.lso ?? p.hw) : p.hw;
        const from = p.batches.filter((b) => lastOffset(b) >= req.fetchOffset && b.readBigInt64BE(0) < bound);
        const all = Buffer.concat(from);
        const limit = Math.min(req.partitionMaxBytes, left);
        // The first partition with data gets its first batch whole; the others are cut at the limit.
        const size = first && from.length > 0 ? Math.max(from[0].length, Math.min(all.length, limit)) : Math.min(all.length, limit);
        const records = all.subarray(0, size);
        if (records.length > 0) first = false;
        left = Math.max(0, left - records.length);
        return { ...base, errorCode: 0, records };
      }),
    }));
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] } as unknown as FetchResponse;
  }
}

const rec = (n: number, size = 20) => ({ key: Buffer.from(`k${n}`), value: Buffer.from(`v${n}-`.padEnd(size, 'z')), timestamp: 1_700_000_000_000 + n });
/** `n` records from offset `at`, `perBatch` to a batch. */
function batches(at: number, n: number, perBatch = 1, size = 20): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i += perBatch)
    out.push(
      encodeRecordBatch(
        Array.from({ length: Math.min(perBatch, n - i) }, (_, j) => rec(at + i + j, size)),
        { baseOffset: at + i },
      ),
    );
  return out;
}
const full = (key: PartitionKey, from: number, to: number): ReadRange => ({ key, from: BigInt(from), to: BigInt(to) });

test('6,000 partitions on one broker are read with 6 Fetches of 1,000 partitions, not 6,000', async () => {
  const io = new FakeBrokers();
  const ranges: ReadRange[] = [];
  for (let t = 0; t < 1000; t++)
    for (let p = 0; p < 6; p++) {
      io.add(`big-${t}:${p}`, { batches: batches(0, 5, 2), hw: 5n });
      ranges.push(full(`big-${t}:${p}`, 0, 5));
    }
  const r = await readRanges(io, ranges);
  assert.equal(io.fetches.length, 6);
  assert.ok(io.fetches.every((f) => f.partitions === 1000));
  assert.equal(io.leaderLookups, 1, 'leaders looked up once, in one request');
  assert.equal(r.read.size, 6000);
  assert.equal(r.unreadable.size, 0);
  for (const [, v] of r.read) {
    assert.deepEqual(
      v.records.map((x) => x.offset),
      [0n, 1n, 2n, 3n, 4n],
    );
    assert.equal(v.readTo, 5n);
  }
});

test('partitions of three brokers: one Fetch per broker per round, each naming only its own partitions', async () => {
  const io = new FakeBrokers();
  const ranges: ReadRange[] = [];
  for (let p = 0; p < 3000; p++) {
    io.add(`t:${p}`, { batches: batches(0, 3), hw: 3n }, 1 + (p % 3));
    ranges.push(full(`t:${p}`, 0, 3));
  }
  const r = await readRanges(io, ranges);
  assert.equal(r.read.size, 3000);
  assert.deepEqual(io.fetches.map((f) => f.broker).sort(), [1, 2, 3]);
  for (const f of io.fetches) assert.ok(f.keys.every((k) => io.leader.get(k) === f.broker));
});

test('an answer that ran out of bytes: only the partitions it left out or cut are fetched again, from where they stopped', async () => {
  const io = new FakeBrokers();
  const ranges: ReadRange[] = [];
  // 20 partitions of 10 records of ~90 bytes; an answer holds at most 3 kB, a partition 1 kB.
  for (let p = 0; p < 20; p++) {
    io.add(`t:${p}`, { batches: batches(100, 10, 1, 20), hw: 110n });
    ranges.push(full(`t:${p}`, 100, 110));
  }
  const r = await readRanges(io, ranges, { maxBytes: 3000, partitionMaxBytes: 1000 });
  for (const [, v] of r.read)
    assert.deepEqual(
      v.records.map((x) => Number(x.offset)),
      Array.from({ length: 10 }, (_, i) => 100 + i),
    );
  assert.ok(io.fetches.length > 1 && io.fetches.length < 20, `${io.fetches.length} Fetches`);
  // A partition is asked again only from where it stopped (never for offsets it has), and never once complete.
  const at = new Map<PartitionKey, bigint[]>();
  for (const f of io.fetches) {
    f.keys.forEach((k, i) => {
      at.set(k, [...(at.get(k) ?? []), f.offsets[i]]);
    });
  }
  for (const [k, offsets] of at) {
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i] >= offsets[i - 1], `${k}: fetched at ${offsets.join(', ')}`);
    assert.ok(
      offsets.every((o) => o < 110n),
      `${k} fetched past its range`,
    );
  }
  assert.ok(io.fetches.reduce((n, f) => n + f.partitions, 0) < 20 * 10, 'not a Fetch per record');
});

test('a batch larger than partitionMaxBytes in a partition that is not first is fetched again first, and read whole', async () => {
  const io = new FakeBrokers();
  io.add('t:0', { batches: batches(0, 5), hw: 5n });
  io.add('t:1', { batches: [encodeRecordBatch([rec(1, 5000)], { baseOffset: 0 })], hw: 1n });
  const r = await readRanges(io, [full('t:0', 0, 5), full('t:1', 0, 1)], { partitionMaxBytes: 1000 });
  assert.equal(r.read.get('t:1')?.records.length, 1);
  assert.equal(r.read.get('t:0')?.records.length, 5);
  assert.deepEqual(
    io.fetches.map((f) => f.keys),
    [['t:0', 't:1'], ['t:1']],
  );
});

test('OFFSET_OUT_OF_RANGE continues at the log start for that partition only; a retriable error is retried; the others are read once', async () => {
  const io = new FakeBrokers();
  io.add('t:0', { batches: batches(50, 10), hw: 60n, start: 50n });
  io.add('t:1', { batches: batches(0, 4), hw: 4n, errors: [6] });
  io.add('t:2', { batches: batches(0, 4), hw: 4n });
  const r = await readRanges(io, [full('t:0', 40, 60), full('t:1', 0, 4), full('t:2', 0, 4)]);
  assert.deepEqual(
    r.read.get('t:0')?.records.map((x) => Number(x.offset)),
    Array.from({ length: 10 }, (_, i) => 50 + i),
  );
  assert.equal(r.read.get('t:1')?.records.length, 4);
  assert.equal(io.fetches.filter((f) => f.keys.includes('t:2')).length, 1);
  assert.ok(io.leaderLookups >= 2, 'leaders asked again after NOT_LEADER_OR_FOLLOWER');
});

test('a corrupt batch makes its partition unreadable (offset, codec, why) and the others are still read', async () => {
  const io = new FakeBrokers();
  const bad = compressedBatch([rec(0), rec(1)], 'lz4', { baseOffset: 0 });
  io.add('t:0', { batches: [withBody(bad, 3, bad.subarray(61, bad.length - 9))], hw: 2n });
  io.add('t:1', { batches: batches(0, 3), hw: 3n });
  const r = await readRanges(io, [full('t:0', 0, 2), full('t:1', 0, 3)]);
  assert.equal(r.unreadable.get('t:0')?.codec, 'lz4');
  assert.equal(r.unreadable.get('t:0')?.offset, 0n);
  assert.equal(r.read.has('t:0'), false);
  assert.equal(r.read.get('t:1')?.records.length, 3);
});

test('the decompression budget is per answer: a partition past what the others left is read in the next Fetch, not called unreadable', async () => {
  const io = new FakeBrokers();
  io.maxDecompressedBytes = 100_000;
  // Each partition's one zstd batch decompresses to ~60 kB: two do not fit one answer's budget.
  for (const p of [0, 1])
    io.add(`t:${p}`, {
      batches: [
        compressedBatch(
          Array.from({ length: 20 }, (_, i) => rec(i, 3000)),
          'zstd',
          { baseOffset: 0 },
        ),
      ],
      hw: 20n,
    });
  const r = await readRanges(io, [full('t:0', 0, 20), full('t:1', 0, 20)]);
  assert.equal(r.unreadable.size, 0);
  assert.equal(r.read.get('t:0')?.records.length, 20);
  assert.equal(r.read.get('t:1')?.records.length, 20);
  assert.deepEqual(
    io.fetches.map((f) => f.keys),
    [['t:0', 't:1'], ['t:1']],
  );
});

test('read_committed stops at the last stable offset and says so in readTo; a range already empty costs no Fetch', async () => {
  const io = new FakeBrokers();
  io.add('t:0', { batches: batches(0, 10), hw: 10n, lso: 6n });
  const r = await readRanges(io, [full('t:0', 0, 10), full('t:1', 5, 5)], { readCommitted: true });
  assert.deepEqual(
    r.read.get('t:0')?.records.map((x) => Number(x.offset)),
    [0, 1, 2, 3, 4, 5],
  );
  assert.equal(r.read.get('t:0')?.readTo, 6n);
  assert.deepEqual(r.read.get('t:1'), { records: [], readTo: 5n });
  assert.ok(io.fetches.every((f) => !f.keys.includes('t:1')));
});

test('past its deadline a read stops before its next Fetch and says how far it got', async () => {
  const io = new FakeBrokers();
  for (let p = 0; p < 3; p++) io.add(`t:${p}`, { batches: batches(0, 3), hw: 3n });
  await assert.rejects(readRanges(io, [full('t:0', 0, 3), full('t:1', 0, 3), full('t:2', 0, 3)], { deadline: Date.now() - 1 }), (err: unknown) => {
    assert.ok(err instanceof ReadDeadlineError);
    assert.deepEqual([err.done, err.total], [0, 3]);
    assert.match(err.message, /stopped at its deadline \(0 of 3 partition\(s\) read\)/);
    return true;
  });
  assert.equal(io.fetches.length, 0);
});

test('a partition whose leader never answers fails the read after the timeout, naming it', async () => {
  const io = new FakeBrokers();
  io.timeoutMs = 300;
  io.add('t:0', { batches: batches(0, 3), hw: 3n, errors: Array(100).fill(6) });
  await assert.rejects(readRanges(io, [full('t:0', 0, 3)]), /streaming domain "blue": Fetch t-0 failed: Fetch t-0: NOT_LEADER_OR_FOLLOWER \(6\)/);
});
