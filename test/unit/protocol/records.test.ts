// Record batches (magic v2, uncompressed): what encodeRecordBatch writes decodes back to the same
// records, and decoding copes with what a Fetch response carries: several batches, tombstones,
// null keys, control batches and a batch cut at the end, and refuses corrupt ones or unknown
// codecs. Compressed batches: compressed-records.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import { decodeRecordBatches, decodeRecordBatchesWithEnd, encodeRecordBatch } from '../../../src/protocol/records.ts';
import { recordBatch, crc32c as supportCrc32c } from '../../support/record-batch.ts';

const text = (b: Buffer | null) => (b === null ? null : b.toString('utf8'));

/** Rewrites a batch's attributes and fixes its CRC, as a broker-made batch would have them. */
function withAttributes(batch: Buffer, attributes: number): Buffer {
  const b = Buffer.from(batch);
  b.writeInt16BE(attributes, 21);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

test('crc32c matches the CRC-32C check value and is the one test/support re-exports', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(supportCrc32c, crc32c);
});

test('a batch round-trips: offsets from the base offset, keys, values and timestamps', () => {
  const t0 = 1_700_000_000_000;
  const records = [
    { key: Buffer.from('switch/orders'), value: Buffer.from('{"active":"blue"}'), timestamp: t0 },
    { key: Buffer.from('switch/payments'), value: Buffer.from('ünïcödé ✓'), timestamp: t0 + 5 },
    { key: Buffer.from('k'), value: Buffer.alloc(0), timestamp: t0 - 3 },
  ];
  const batch = encodeRecordBatch(records, { baseOffset: 42n });
  const decoded = decodeRecordBatches(batch);
  assert.deepEqual(
    decoded.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: text(r.key), value: text(r.value) })),
    [
      { offset: 42n, timestamp: t0, key: 'switch/orders', value: '{"active":"blue"}' },
      { offset: 43n, timestamp: t0 + 5, key: 'switch/payments', value: 'ünïcödé ✓' },
      { offset: 44n, timestamp: t0 - 3, key: 'k', value: '' },
    ],
  );
  assert.equal(decodeRecordBatchesWithEnd(batch).endOffset, 45n);
  assert.equal(decodeRecordBatches(encodeRecordBatch(records, { baseOffset: 7 }))[0].offset, 7n, 'a number base offset works too');
});

test('a tombstone (null value) and a record without a key decode as nulls', () => {
  const batch = encodeRecordBatch([
    { key: Buffer.from('gone'), value: null },
    { key: null, value: Buffer.from('no key') },
    { key: null, value: null },
  ]);
  const decoded = decodeRecordBatches(batch);
  assert.deepEqual(
    decoded.map((r) => [r.offset, text(r.key), text(r.value)]),
    [
      [0n, 'gone', null],
      [1n, null, 'no key'],
      [2n, null, null],
    ],
  );
  assert.ok(Math.abs(decoded[0].timestamp - Date.now()) < 5000, 'timestamp defaults to now');
});

test('several batches in one blob decode in order; large values and many records survive', () => {
  const big = Buffer.alloc(100_000, 'x');
  const many = Array.from({ length: 300 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) }));
  const blob = Buffer.concat([encodeRecordBatch([{ key: Buffer.from('big'), value: big }], { baseOffset: 0n }), encodeRecordBatch(many, { baseOffset: 1n })]);
  const decoded = decodeRecordBatches(blob);
  assert.equal(decoded.length, 301);
  assert.deepEqual(decoded[0].value, big);
  assert.deepEqual(
    decoded.map((r) => r.offset),
    Array.from({ length: 301 }, (_, i) => BigInt(i)),
  );
  assert.equal(text(decoded[300].value), 'v299');
});

test('reads the batches the test support writer makes (the ones Kafka accepts in other tests)', () => {
  const decoded = decodeRecordBatches(recordBatch(['a', 'b'], 1234));
  assert.deepEqual(
    decoded.map((r) => [r.offset, r.timestamp, r.key, text(r.value)]),
    [
      [0n, 1234, null, 'a'],
      [1n, 1234, null, 'b'],
    ],
  );
});

test('a corrupted byte fails the CRC check', () => {
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('value') }], { baseOffset: 9n });
  const corrupt = Buffer.from(batch);
  corrupt[corrupt.length - 3] ^= 0xff;
  assert.throws(() => decodeRecordBatches(corrupt), /record batch at offset 9 is corrupt: CRC-32C/);
});

test('a partial batch at the end (Fetch size limit) is skipped; the whole batches before it are read', () => {
  const first = encodeRecordBatch([{ key: Buffer.from('a'), value: Buffer.from('1') }], { baseOffset: 0n });
  const second = encodeRecordBatch(
    [
      { key: Buffer.from('b'), value: Buffer.from('2') },
      { key: Buffer.from('c'), value: Buffer.from('3') },
    ],
    { baseOffset: 1n },
  );
  for (const cut of [1, 11, 12, 30, second.length - 1]) {
    const { records, endOffset } = decodeRecordBatchesWithEnd(Buffer.concat([first, second.subarray(0, cut)]));
    assert.deepEqual(
      records.map((r) => text(r.key)),
      ['a'],
      `cut at ${cut}`,
    );
    assert.equal(endOffset, 1n);
  }
  assert.deepEqual(decodeRecordBatchesWithEnd(second.subarray(0, 20)), { records: [], endOffset: null, decompressedBytes: 0 });
  assert.deepEqual(decodeRecordBatchesWithEnd(new Uint8Array(0)), { records: [], endOffset: null, decompressedBytes: 0 });
});

test('control batches are skipped but still move the end offset', () => {
  const marker = withAttributes(
    encodeRecordBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { baseOffset: 1n }),
    0x20 | 0x10,
  );
  const data = encodeRecordBatch([{ key: Buffer.from('x'), value: Buffer.from('y') }], { baseOffset: 0n });
  assert.deepEqual(
    decodeRecordBatches(Buffer.concat([data, marker])).map((r) => r.offset),
    [0n],
  );
  assert.deepEqual(decodeRecordBatchesWithEnd(marker), { records: [], endOffset: 2n, decompressedBytes: 0 });
});

test('log-append-time batches give every record the batch max timestamp', () => {
  const batch = withAttributes(
    encodeRecordBatch([
      { key: null, value: Buffer.from('a'), timestamp: 10 },
      { key: null, value: Buffer.from('b'), timestamp: 20 },
    ]),
    0x08,
  );
  assert.deepEqual(
    decodeRecordBatches(batch).map((r) => r.timestamp),
    [20, 20],
  );
});

test('unknown codecs, records that are not what their codec says and other magics are refused with a clear error', () => {
  const batch = encodeRecordBatch([{ key: null, value: Buffer.from('a') }], { baseOffset: 3n });
  assert.throws(() => decodeRecordBatches(withAttributes(batch, 5)), /offset 3 cannot be decompressed: codec 5 is not a compression codec Kafka defines/);
  assert.throws(() => decodeRecordBatches(withAttributes(batch, 1)), /offset 3 cannot be decompressed: corrupt gzip data/);
  const v1 = Buffer.from(batch);
  v1.writeInt8(1, 16);
  assert.throws(() => decodeRecordBatches(v1), /has magic 1; only magic 2/);
});

test('records that do not fit their batch are reported as malformed', () => {
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }]);
  const lying = Buffer.from(batch);
  lying.writeInt32BE(2, 57); // record count 2, only one there
  lying.writeUInt32BE(crc32c(lying.subarray(21)), 17);
  assert.throws(() => decodeRecordBatches(lying), /malformed/);
});

test('an empty record list cannot be encoded', () => {
  assert.throws(() => encodeRecordBatch([]), /at least one record/);
});

/** A batch of `values` at `base`, rewritten as transactional (producer `pid`) or as a control batch (a marker). */
function txnBatch(values: string[], base: number, pid: bigint, control = false): Buffer {
  const b = encodeRecordBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1 })),
    { baseOffset: base },
  );
  b.writeInt16BE(0x10 | (control ? 0x20 : 0), 21);
  b.writeBigInt64BE(pid, 43);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

test("read committed: data batches of an aborted transaction are left out, until that producer's marker; others stay", () => {
  const log = Buffer.concat([
    txnBatch(['a1', 'a2'], 0, 7n), // producer 7: aborted below
    txnBatch(['b1'], 2, 8n), // producer 8: committed
    txnBatch(['marker'], 3, 7n, true), // abort marker of 7
    txnBatch(['marker'], 4, 8n, true), // commit marker of 8
    txnBatch(['a3'], 5, 7n), // producer 7's next transaction: committed
    encodeRecordBatch([{ key: null, value: Buffer.from('plain'), timestamp: 1 }], { baseOffset: 6 }),
  ]);
  const values = (opts: Parameters<typeof decodeRecordBatches>[1]) => decodeRecordBatches(log, opts).map((r) => `${r.offset}:${r.value?.toString()}`);
  assert.deepEqual(values({ abortedTransactions: [{ producerId: 7n, firstOffset: 0n }] }), ['2:b1', '5:a3', '6:plain']);
  assert.deepEqual(values({}), ['0:a1', '1:a2', '2:b1', '5:a3', '6:plain'], 'read uncommitted: everything');
  assert.deepEqual(values({ abortedTransactions: [] }), ['0:a1', '1:a2', '2:b1', '5:a3', '6:plain'], 'no aborted transactions in range');
});

test('headers are written, and read back only when asked for', () => {
  const batch = encodeRecordBatch([
    {
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      headers: [
        { key: 'turnout-mac', value: Buffer.from('sig') },
        { key: 'n', value: null },
      ],
    },
    { key: Buffer.from('k2'), value: null },
  ]);
  const plain = decodeRecordBatches(batch);
  assert.equal(plain[0].headers, undefined);
  const withHeaders = decodeRecordBatchesWithEnd(batch, { headers: true }).records;
  assert.deepEqual(withHeaders[0].headers, [
    { key: 'turnout-mac', value: Buffer.from('sig') },
    { key: 'n', value: null },
  ]);
  assert.equal(withHeaders[1].headers, undefined);
  assert.equal(withHeaders[1].value, null);
});
