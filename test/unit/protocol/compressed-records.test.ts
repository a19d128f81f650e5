// Compressed record batches, as Kafka's clients write them (gzip, raw and xerial snappy, lz4
// frames, zstd), decode to the same records as uncompressed ones, alone and mixed in one Fetch
// blob; what cannot be read fails with a RecordBatchError naming the batch's offset, its codec and
// why; and one decode call never decompresses past its budget: it stops before the batch that
// would pass it (the reader continues there), or throws when that is the first batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import {
  type DecodedRecord,
  decodeRecordBatches,
  decodeRecordBatchesWithEnd,
  encodeRecordBatch,
  RecordBatchError,
  RecordBatchErrorCode,
  type RecordToEncode,
} from '../../../src/protocol/records.ts';
import { CODEC_NAME, compressedBatch, compressWith, recordsSection, TEST_CODECS, withBody } from './compressed-batch.ts';

const t0 = 1_700_000_000_000;
const records = (n: number, from = 0, size = 40): RecordToEncode[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i % 5 === 0 ? null : Buffer.from(`key-${from + i}`),
    value: i % 7 === 3 ? null : Buffer.from(`value-${from + i}-`.padEnd(size, 'x')),
    timestamp: t0 + from + i,
  }));
const plain = (r: DecodedRecord) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });

function rejects(fn: () => unknown, code: string, offset: bigint, codec: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RecordBatchError, `a RecordBatchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.baseOffset, offset);
    assert.equal(err.codec, codec);
    assert.match(err.message, message);
    return true;
  });
}

for (const codec of TEST_CODECS) {
  test(`${codec}: a compressed batch decodes to the same records, offsets and timestamps as the uncompressed one`, () => {
    const input = records(200);
    const expected = decodeRecordBatches(encodeRecordBatch(input, { baseOffset: 1000n })).map(plain);
    const batch = compressedBatch(input, codec, { baseOffset: 1000n });
    assert.ok(batch.length < encodeRecordBatch(input).length, 'it is smaller');
    const { records: decoded, endOffset } = decodeRecordBatchesWithEnd(batch);
    assert.deepEqual(decoded.map(plain), expected);
    assert.equal(endOffset, 1200n);
  });

  test(`${codec}: a compressed batch whose data is damaged (CRC recomputed, as a broker would store it) names offset and codec`, () => {
    const good = compressedBatch(records(50), codec, { baseOffset: 77n });
    const body = Buffer.from(good.subarray(61));
    const damaged = withBody(good, good.readInt16BE(21) & 7, body.subarray(0, Math.floor(body.length / 2)));
    rejects(
      () => decodeRecordBatches(damaged),
      RecordBatchErrorCode.Corrupt,
      77n,
      CODEC_NAME[codec],
      new RegExp(`^record batch at offset 77 (cannot be decompressed: corrupt ${CODEC_NAME[codec]} data|is malformed)`),
    );
  });
}

test('compressed and uncompressed batches of every codec mix in one blob, in log order, with a cut batch at the end skipped', () => {
  const parts: Buffer[] = [];
  const expected: ReturnType<typeof plain>[] = [];
  let offset = 0;
  for (const codec of [...TEST_CODECS, 'none' as const]) {
    const input = records(30, offset);
    expected.push(...decodeRecordBatches(encodeRecordBatch(input, { baseOffset: offset })).map(plain));
    parts.push(codec === 'none' ? encodeRecordBatch(input, { baseOffset: offset }) : compressedBatch(input, codec, { baseOffset: offset }));
    offset += 30;
  }
  const cut = compressedBatch(records(30, offset), 'zstd', { baseOffset: offset });
  const { records: decoded, endOffset } = decodeRecordBatchesWithEnd(Buffer.concat([...parts, cut.subarray(0, cut.length - 5)]));
  assert.deepEqual(decoded.map(plain), expected);
  assert.equal(endOffset, BigInt(offset));
});

test('an unknown codec (attributes bits 0-2 = 5..7) is refused as unsupported, naming it and the offset', () => {
  const batch = encodeRecordBatch(records(3), { baseOffset: 9n });
  for (const id of [5, 6, 7]) {
    rejects(
      () => decodeRecordBatches(withBody(batch, id, recordsSection(batch))),
      RecordBatchErrorCode.Unsupported,
      9n,
      `codec ${id}`,
      /not a compression codec Kafka defines/,
    );
  }
});

test('decompressed records that do not fit (record count says more) are malformed, with the codec', () => {
  const batch = compressedBatch(records(4), 'lz4', { baseOffset: 5n });
  const lying = Buffer.from(batch);
  lying.writeInt32BE(5, 57);
  lying.writeUInt32BE(crc32c(lying.subarray(21)), 17);
  rejects(() => decodeRecordBatches(lying), RecordBatchErrorCode.Corrupt, 5n, 'lz4', /is malformed/);
});

test('a single batch that decompresses past the budget is refused as too large, naming offset, codec and limit', () => {
  for (const codec of TEST_CODECS) {
    const batch = compressedBatch([{ key: null, value: Buffer.alloc(200_000, 'a') }], codec, { baseOffset: 42n });
    assert.ok(batch.length < 20_000, `${codec}: ${batch.length} bytes`);
    rejects(
      () => decodeRecordBatches(batch, { maxDecompressedBytes: 100_000 }),
      RecordBatchErrorCode.TooLarge,
      42n,
      CODEC_NAME[codec],
      new RegExp(`offset 42 is ${CODEC_NAME[codec]}-compressed and decompresses to more than 100000 bytes`),
    );
    assert.equal(decodeRecordBatches(batch, { maxDecompressedBytes: 300_000 })[0].value?.length, 200_000, `${codec} within a larger budget`);
  }
});

test('the budget covers one call: batches past it are left for the next read, which continues at endOffset', () => {
  // Three zstd batches of ~120 kB each once decompressed; a budget of 300 kB takes two per call.
  const batches = [0, 10, 20].map((base) => compressedBatch(records(10, base, 12_000), 'zstd', { baseOffset: base }));
  const blob = Buffer.concat(batches);
  const first = decodeRecordBatchesWithEnd(blob, { maxDecompressedBytes: 300_000 });
  assert.equal(first.records.length, 20);
  assert.equal(first.endOffset, 20n);
  assert.ok(first.decompressedBytes > 200_000 && first.decompressedBytes <= 300_000, `${first.decompressedBytes} bytes decompressed, within the budget`);
  // What a reader does next: fetch from endOffset, i.e. from the third batch.
  const second = decodeRecordBatchesWithEnd(batches[2], { maxDecompressedBytes: 300_000 });
  assert.deepEqual(
    second.records.map((r) => r.offset),
    Array.from({ length: 10 }, (_, i) => BigInt(20 + i)),
  );
  // Uncompressed batches cost nothing against the budget: they are already in memory.
  const mixed = Buffer.concat([
    encodeRecordBatch(records(10, 0, 12_000), { baseOffset: 0 }),
    batches[1],
    encodeRecordBatch(records(10, 20, 12_000), { baseOffset: 20 }),
  ]);
  assert.equal(decodeRecordBatches(mixed, { maxDecompressedBytes: 130_000 }).length, 30);
});

test('the default budget is generous for real batches: a 10 MB gzip batch of text decodes', () => {
  const big = records(1000, 0, 10_000);
  assert.equal(decodeRecordBatches(compressedBatch(big, 'gzip')).length, 1000);
});

test('a control batch is skipped without being decompressed (its codec is not looked at)', () => {
  const marker = encodeRecordBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { baseOffset: 4n });
  const control = withBody(marker, 5, compressWith('gzip', recordsSection(marker)));
  control.writeInt16BE(control.readInt16BE(21) | 0x20, 21);
  control.writeUInt32BE(crc32c(control.subarray(21)), 17);
  assert.deepEqual(decodeRecordBatchesWithEnd(control), { records: [], endOffset: 5n, decompressedBytes: 0 });
});
