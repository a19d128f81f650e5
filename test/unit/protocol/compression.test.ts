// Decompressing Kafka's four codecs (compression.ts): gzip, snappy (raw and xerial-framed), lz4
// (frame format) and zstd, made with the same libraries; every codec is bounded by maxBytes (a
// decompression bomb fails before or while it is inflated, never allocating past the limit), and
// corrupt data or an unknown codec fails with a coded CompressionError naming the codec.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress } from 'snappy';
import { Codec, CompressionError, CompressionErrorCode, codecName, decompress, lz4FrameBound } from '../../../src/protocol/compression.ts';
import { CODEC_ID, compressWith, TEST_CODECS, type TestCodec, xerialSnappy } from './compressed-batch.ts';

const MiB = 1024 * 1024;
/** Text that compresses a little, like real record values. */
const sample = Buffer.from(Array.from({ length: 2000 }, (_, i) => `{"order":${i},"sku":"A-${(i * 7919) % 1000}","qty":${i % 13}}`).join('\n'));

function rejects(fn: () => unknown, code: string, codec: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CompressionError, `a CompressionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.codec, codec);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

test("codec names follow Kafka's attribute ids, and unknown ids are named by number", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 7].map(codecName), ['none', 'gzip', 'snappy', 'lz4', 'zstd', 'codec 5', 'codec 7']);
  assert.deepEqual(Codec, { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 });
});

for (const codec of TEST_CODECS) {
  test(`${codec}: what the library compressed decompresses to the same bytes`, () => {
    const compressed = compressWith(codec, sample);
    assert.ok(compressed.length < sample.length, 'it did compress');
    assert.deepEqual(decompress(CODEC_ID[codec], compressed, 10 * MiB), sample);
  });

  test(`${codec}: empty input decompresses to nothing`, () => {
    assert.equal(decompress(CODEC_ID[codec], compressWith(codec, Buffer.alloc(0)), 1).length, 0);
  });

  test(`${codec}: exactly maxBytes is allowed, one byte less is refused as too large`, () => {
    const compressed = compressWith(codec, sample);
    assert.equal(decompress(CODEC_ID[codec], compressed, sample.length).length, sample.length);
    rejects(
      () => decompress(CODEC_ID[codec], compressed, sample.length - 1),
      CompressionErrorCode.TooLarge,
      codec.replace('-xerial', ''),
      /limit of \d+ bytes/,
    );
  });

  test(`${codec}: a decompression bomb (64 MiB of zeros) is refused at a 1 MiB limit`, () => {
    const bomb = compressWith(codec, Buffer.alloc(64 * MiB));
    assert.ok(bomb.length < 4 * MiB, `${bomb.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    rejects(() => decompress(CODEC_ID[codec], bomb, MiB), CompressionErrorCode.TooLarge, codec.replace('-xerial', ''));
    // Nothing near the bomb's size was kept (a loose check: other tests allocate too).
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 * MiB);
  });

  test(`${codec}: garbage and cut data are refused as corrupt`, () => {
    const compressed = compressWith(codec, sample);
    const name = codec.replace('-xerial', '');
    rejects(() => decompress(CODEC_ID[codec], compressed.subarray(0, Math.floor(compressed.length / 2)), 10 * MiB), CompressionErrorCode.Corrupt, name);
    const garbage = Buffer.from(compressed);
    for (let i = 20; i < garbage.length; i += 7) garbage[i] ^= 0x5a;
    // Flipped bits inside the data may still decode (snappy and lz4 carry no checksum here); they
    // must then fail cleanly or give other bytes, never hang or crash.
    try {
      const out = decompress(CODEC_ID[codec], garbage, 10 * MiB);
      assert.ok(out.length <= 10 * MiB);
    } catch (err) {
      assert.ok(err instanceof CompressionError && err.code !== CompressionErrorCode.UnknownCodec, String(err));
    }
    rejects(() => decompress(CODEC_ID[codec], Buffer.from('definitely not compressed data'), 10 * MiB), CompressionErrorCode.Corrupt, name);
  });
}

test('unknown codec ids (5-7) are refused as unknown, naming the id', () => {
  for (const id of [5, 6, 7])
    rejects(() => decompress(id, Buffer.from('x'), MiB), CompressionErrorCode.UnknownCodec, `codec ${id}`, /not a compression codec Kafka defines/);
});

test('snappy: a raw preamble claiming 4 GiB is refused before anything is decompressed', () => {
  rejects(
    () => decompress(Codec.Snappy, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 64 * MiB),
    CompressionErrorCode.TooLarge,
    'snappy',
    /4294967295 bytes/,
  );
  rejects(
    () => decompress(Codec.Snappy, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 64 * MiB),
    CompressionErrorCode.Corrupt,
    'snappy',
    /longer than 32 bits/,
  );
});

test('snappy: xerial framing with several blocks, and the raw format, both decode; the framing is told apart by its magic', () => {
  const big = Buffer.concat([sample, sample, sample, sample]);
  const framed = xerialSnappy(big, 16 * 1024);
  assert.ok(framed.readInt32BE(16) > 0 && big.length > 3 * 16 * 1024, 'several blocks');
  assert.deepEqual(decompress(Codec.Snappy, framed, 10 * MiB), big);
  assert.deepEqual(decompress(Codec.Snappy, snappyCompress(big), 10 * MiB), big);
});

test('snappy: xerial blocks add up against the limit, and a lying block length is corrupt', () => {
  const framed = xerialSnappy(Buffer.alloc(100_000, 'a'), 32 * 1024);
  rejects(() => decompress(Codec.Snappy, framed, 70_000), CompressionErrorCode.TooLarge, 'snappy', /98304 bytes/);
  const lying = Buffer.from(framed);
  lying.writeInt32BE(1 << 30, 16);
  rejects(() => decompress(Codec.Snappy, lying, MiB), CompressionErrorCode.Corrupt, 'snappy', /claims 1073741824 bytes/);
  rejects(() => decompress(Codec.Snappy, framed.subarray(0, 12), MiB), CompressionErrorCode.Corrupt, 'snappy', /header is cut/);
});

test('lz4: the frame bound comes from block sizes before the library runs; a wrong magic or a lying content size is corrupt', () => {
  const frame = compressFrameSync(sample);
  const { bound, blockMax } = lz4FrameBound(frame);
  assert.ok(bound >= sample.length && bound - blockMax < sample.length, `bound ${bound}, block maximum ${blockMax}`);
  const wrongMagic = Buffer.from(frame);
  wrongMagic[0] ^= 0xff;
  rejects(() => decompress(Codec.Lz4, wrongMagic, MiB), CompressionErrorCode.Corrupt, 'lz4', /no LZ4 frame magic/);
  // A frame descriptor stating 1 TiB of content (FLG content-size bit, 8 bytes after BD).
  const flg = frame[4] | 0x08;
  const lying = Buffer.concat([frame.subarray(0, 4), Buffer.from([flg, frame[5]]), Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]), frame.subarray(6)]);
  rejects(() => decompress(Codec.Lz4, lying, 1024 * 1024 * MiB), CompressionErrorCode.Corrupt, 'lz4', /states 1099511627776 bytes of content/);
  rejects(() => decompress(Codec.Lz4, frame.subarray(0, frame.length - 4), MiB), CompressionErrorCode.Corrupt, 'lz4', /no end mark|is cut/);
});

test('lz4: a frame whose blocks could exceed the limit is refused without decompressing', () => {
  const frame = compressFrameSync(Buffer.alloc(10 * MiB));
  rejects(() => decompress(Codec.Lz4, frame, MiB), CompressionErrorCode.TooLarge, 'lz4');
  assert.ok(lz4FrameBound(frame).bound >= 10 * MiB);
});

test('gzip and zstd: the limit is enforced by zlib while inflating', () => {
  for (const codec of ['gzip', 'zstd'] as TestCodec[]) {
    rejects(() => decompress(CODEC_ID[codec], compressWith(codec, Buffer.alloc(2 * MiB)), MiB), CompressionErrorCode.TooLarge, codec);
  }
});
