// Reading partitions whose batches are compressed, corrupt or too large: ClusterAdmin.readRecords
// decompresses every codec across as many Fetches as its budget needs, and turns a batch it cannot
// read into an UnreadableRecordsError naming domain, partition, offset, codec and reason (not
// retried); the ReplicationTracker reports such a partition as unreadable (which side, where, why)
// instead of failing the whole check; preflight's table says so. ClusterAdmin is driven through a
// fake broker that answers Fetch from an in-memory log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPreflight } from '../../../src/cli/preflight.ts';
import type { StreamingDomainConfig } from '../../../src/config/types.ts';
import { ClusterAdmin, type PartitionKey, UnreadableRecordsError } from '../../../src/control/cluster-admin.ts';
import type { RangesRead, ReadRange } from '../../../src/control/partition-reader.ts';
import { describeUnreadable, type PartitionState, ReplicationTracker } from '../../../src/control/replication.ts';
import type { PreflightReport } from '../../../src/control/switch-controller.ts';
import { type DecodedRecord, encodeRecordBatch, RecordBatchError, RecordBatchErrorCode, type RecordToEncode } from '../../../src/protocol/records.ts';
import { compressedBatch, recordsSection, type TestCodec, withBody } from '../protocol/compressed-batch.ts';
import { readRangesVia } from './fake-cluster.ts';

const t0 = 1_700_000_000_000;
const recs = (from: number, n: number, size = 30): RecordToEncode[] =>
  Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`k${from + i}`),
    value: Buffer.from(`v${from + i}-`.padEnd(size, 'z')),
    timestamp: t0 + from + i,
  }));

const domain: StreamingDomainConfig = {
  name: 'blue',
  type: 'kafka',
  kafkaCluster: { name: 'blue', bootstrapServers: [{ id: 'plaintext', endpoints: [{ host: '127.0.0.1', port: 1 }], security: { protocol: 'PLAINTEXT' } }] },
};

/** A ClusterAdmin whose Fetches are answered from `batches` (one partition), as a broker would: from the batch holding the offset, up to maxBytes. */
function adminOver(batches: Buffer[], opts: { maxDecompressedBytes?: number } = {}): { admin: ClusterAdmin; fetches: bigint[] } {
  const admin = new ClusterAdmin(domain, domain.kafkaCluster.bootstrapServers[0], 2000, opts);
  const fetches: bigint[] = [];
  const fake = {
    leadersOf: async (keys: string[]) => new Map(keys.map((k) => [k, { host: '127.0.0.1', port: 1 }])),
    call: async (
      _address: unknown,
      _apiKey: number,
      body: (v: number) => { maxBytes: number; topics: { topic: string; partitions: { partition: number; fetchOffset: bigint }[] }[] },
    ) => {
      const req = body(12);
      const {
        topic,
        partitions: [{ partition, fetchOffset: offset }],
      } = req.topics[0];
      fetches.push(offset);
      const from = batches.filter((b) => b.readBigInt64BE(0) + BigInt(b.readInt32BE(23)) >= offset);
      let size = 0;
      const sent = from.filter((b, i) => (size += b.length) <= req.maxBytes || i === 0);
      return {
        errorCode: 0,
        responses: [
          { topic, partitions: [{ partitionIndex: partition, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, records: Buffer.concat(sent) }] },
        ],
      };
    },
  };
  Object.assign(admin as unknown as object, fake);
  return { admin, fetches };
}

test('readRecords: gzip, snappy, lz4 and zstd batches of a partition are read across Fetches; [from, to) only', async () => {
  const codecs: TestCodec[] = ['gzip', 'snappy-xerial', 'lz4', 'zstd', 'snappy'];
  const batches = codecs.map((c, i) => compressedBatch(recs(i * 20, 20), c, { baseOffset: i * 20 }));
  const { admin } = adminOver(batches);
  const read = await admin.readRecords('orders', 0, 15n, 95n, 600);
  assert.deepEqual(
    read.map((r) => r.offset),
    Array.from({ length: 80 }, (_, i) => BigInt(15 + i)),
  );
  assert.equal(read[0].value?.toString(), 'v15-'.padEnd(30, 'z'));
});

test('readRecords: a Fetch answer that decompresses past the budget is read in several steps, none lost', async () => {
  // 6 zstd batches of ~60 kB decompressed each, all in one 4 MiB Fetch answer; a 150 kB budget takes two per step.
  const batches = [0, 1, 2, 3, 4, 5].map((i) => compressedBatch(recs(i * 20, 20, 3000), 'zstd', { baseOffset: i * 20 }));
  const { admin, fetches } = adminOver(batches, { maxDecompressedBytes: 150_000 });
  const read = await admin.readRecords('orders', 0, 0n, 120n);
  assert.equal(read.length, 120);
  assert.deepEqual(fetches, [0n, 40n, 80n]);
});

test('readRecords: a corrupt batch throws UnreadableRecordsError naming domain, partition, offset, codec and why, at once', async () => {
  const good = compressedBatch(recs(0, 10), 'lz4', { baseOffset: 0 });
  const bad = compressedBatch(recs(10, 10), 'lz4', { baseOffset: 10 });
  const damaged = withBody(bad, 3, bad.subarray(61, bad.length - 9));
  const { admin, fetches } = adminOver([good, damaged]);
  await assert.rejects(admin.readRecords('orders', 3, 0n, 20n), (err: unknown) => {
    assert.ok(err instanceof UnreadableRecordsError, String(err));
    assert.equal(err.code, 'TURNOUT_UNREADABLE_RECORDS');
    assert.deepEqual([err.domain, err.topic, err.partition, err.offset, err.codec], ['blue', 'orders', 3, 10n, 'lz4']);
    assert.match(err.reason, /^cannot be decompressed: corrupt lz4 data/);
    assert.match(err.message, /^streaming domain "blue": cannot read orders-3: record batch at offset 10 cannot be decompressed: corrupt lz4 data/);
    assert.ok(err.cause instanceof RecordBatchError);
    return true;
  });
  assert.equal(fetches.length, 1, 'not retried: the same bytes would come back');
});

test('readRecords: an unknown codec and a too-large batch are unreadable too, with their codec', async () => {
  const plain = encodeRecordBatch(recs(0, 3), { baseOffset: 0 });
  await assert.rejects(
    adminOver([withBody(plain, 6, recordsSection(plain))]).admin.readRecords('t', 0, 0n, 3n),
    (err: unknown) => err instanceof UnreadableRecordsError && err.codec === 'codec 6' && /not a compression codec Kafka defines/.test(err.reason),
  );
  const bomb = compressedBatch([{ key: null, value: Buffer.alloc(2_000_000) }], 'zstd', { baseOffset: 0 });
  await assert.rejects(
    adminOver([bomb], { maxDecompressedBytes: 1_000_000 }).admin.readRecords('t', 1, 0n, 1n),
    (err: unknown) =>
      err instanceof UnreadableRecordsError &&
      err.cause instanceof RecordBatchError &&
      err.cause.code === RecordBatchErrorCode.TooLarge &&
      err.reason === 'is zstd-compressed and decompresses to more than 1000000 bytes, the limit for reading it',
  );
});

// ---- the tracker ----

const KEY: PartitionKey = 'orders:0';
const rec = (n: number, offset: number): DecodedRecord => ({
  offset: BigInt(offset),
  timestamp: t0 + n,
  key: Buffer.from(`k${n}`),
  value: Buffer.from(`v${n}`),
});
const unreadable = (domainName: string, topic: string, partition: number, offset: bigint) =>
  new UnreadableRecordsError(
    domainName,
    topic,
    partition,
    new RecordBatchError(RecordBatchErrorCode.Corrupt, offset, 'snappy', 'cannot be decompressed: corrupt snappy data: x'),
  );

/** endOffsets (and as stable offsets), startOffsets, readRecords and readRanges of one side; reading throws what `fail` says for a partition. */
class FakeSide {
  readonly reads: PartitionKey[] = [];
  fail = new Map<PartitionKey, Error>();
  readonly logs: Map<PartitionKey, DecodedRecord[]>;
  constructor(logs: Map<PartitionKey, DecodedRecord[]>) {
    this.logs = logs;
  }
  async endOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return new Map(
      [...keys].map((k) => {
        const l = this.logs.get(k) ?? [];
        return [k, l.length === 0 ? 0n : l[l.length - 1].offset + 1n];
      }),
    );
  }
  stableOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return this.endOffsets(keys);
  }
  async startOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return new Map([...keys].map((k) => [k, 0n]));
  }
  async readRecords(topic: string, partition: number, from: bigint, to: bigint): Promise<DecodedRecord[]> {
    const k = `${topic}:${partition}`;
    this.reads.push(k);
    const f = this.fail.get(k);
    if (f !== undefined) throw f;
    return (this.logs.get(k) ?? []).filter((r) => r.offset >= from && r.offset < to);
  }
  readRanges(ranges: readonly ReadRange[]): Promise<RangesRead> {
    return readRangesVia((t, p, from, to) => this.readRecords(t, p, from, to), ranges);
  }
  get admin(): ClusterAdmin {
    return this as unknown as ClusterAdmin;
  }
}

const run = (n: number, at: number) => Array.from({ length: n }, (_, i) => rec(i, at + i));

test('tracker: a partition whose source records cannot be read is unreadable (side, domain, offset, codec, reason); the others are judged', async () => {
  const source = new FakeSide(
    new Map([
      [KEY, run(10, 0)],
      ['orders:1', run(10, 0)],
    ]),
  );
  const dest = new FakeSide(
    new Map([
      [KEY, run(10, 5)],
      ['orders:1', run(10, 5)],
    ]),
  );
  source.fail.set(KEY, unreadable('blue', 'orders', 0, 4n));
  const states = await new ReplicationTracker('mirrormaker2', source.admin, dest.admin).check(
    new Map([
      [KEY, 10n],
      ['orders:1', 10n],
    ]),
  );
  assert.deepEqual(states[0], {
    key: KEY,
    sourceEnd: 10n,
    destEnd: 15n,
    caughtUp: false,
    lag: null,
    destCut: null,
    method: 'unreadable',
    unreadable: { side: 'source', domain: 'blue', offset: 4n, codec: 'snappy', reason: 'cannot be decompressed: corrupt snappy data: x' },
  });
  assert.equal(states[1].caughtUp, true);
  assert.equal(states[1].unreadable, undefined);
  assert.equal(
    describeUnreadable(KEY, states[0].unreadable!),
    'orders:0 on "blue" (the source): the record batch at offset 4 cannot be decompressed: corrupt snappy data: x',
  );
});

test("tracker: unreadable destination records are reported as the destination's; once readable the partition is judged normally", async () => {
  const source = new FakeSide(new Map([[KEY, run(10, 0)]]));
  const dest = new FakeSide(new Map([[KEY, run(10, 3)]]));
  dest.fail.set(KEY, unreadable('green', 'orders', 0, 7n));
  const t = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  const first = (await t.check(new Map([[KEY, 10n]])))[0];
  assert.equal(first.method, 'unreadable');
  assert.deepEqual([first.unreadable?.side, first.unreadable?.domain, first.unreadable?.offset], ['destination', 'green', 7n]);
  assert.equal(t.translate(KEY, 4n).method, 'start', 'nothing compared: the group would restart at the destination log start, never past its record');
  dest.fail.clear();
  const second: PartitionState = (await t.check(new Map([[KEY, 10n]])))[0];
  assert.deepEqual([second.caughtUp, second.destCut, second.method, second.unreadable], [true, 13n, 'match', undefined]);
  assert.equal(source.reads.length, 1, 'the source tail was read once');
});

test('tracker: other failures (a cluster that cannot be reached) still fail the check', async () => {
  const source = new FakeSide(new Map([[KEY, run(10, 0)]]));
  source.fail.set(KEY, new Error('no bootstrap server answered'));
  await assert.rejects(
    new ReplicationTracker('mirrormaker2', source.admin, new FakeSide(new Map()).admin).check(new Map([[KEY, 10n]])),
    /no bootstrap server answered/,
  );
});

test('preflight table: an unreadable partition shows which side, offset and codec instead of a lag', () => {
  const report: PreflightReport = {
    route: 'orders',
    from: 'blue',
    to: 'green',
    replication: 'mirrormaker2',
    at: '2024-01-01T00:00:00.000Z',
    topics: [{ topic: 'orders', sourcePartitions: 1, destPartitions: 1, problem: null }],
    partitions: [
      {
        partition: KEY,
        sourceEnd: '10',
        destEnd: '15',
        caughtUp: false,
        lag: null,
        unreadable: {
          side: 'source',
          domain: 'blue',
          offset: '4',
          codec: 'zstd',
          reason: 'is corrupt',
          message: 'orders:0 on "blue" (the source): the record batch at offset 4 is corrupt',
        },
      },
    ],
    groups: [],
    blockers: ['cannot tell whether "green" has caught up with orders:0 on "blue" (the source): the record batch at offset 4 is corrupt'],
    warnings: [],
  };
  const text = formatPreflight(report, report.blockers);
  assert.match(text, /orders:0\s+10\s+15\s+unreadable \(source offset 4, zstd\)/);
  assert.match(
    text,
    /NOT SAFE:\n {2}- cannot tell whether "green" has caught up with orders:0 on "blue" \(the source\): the record batch at offset 4 is corrupt/,
  );
});
