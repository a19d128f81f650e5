// Compressed record batches for tests, made with the same libraries the gateway decompresses with
// (node:zlib, snappy, lz4-napi) in the framings Kafka's clients write: gzip, raw snappy (librdkafka,
// franz-go), xerial-framed snappy (the Java producer), the LZ4 frame format, zstd. Not a test file:
// the protocol and control unit tests and the compressed-records integration test import it.
import zlib from 'node:zlib';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress } from 'snappy';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import { encodeRecordBatch, type RecordToEncode } from '../../../src/protocol/records.ts';

export type TestCodec = 'gzip' | 'snappy' | 'snappy-xerial' | 'lz4' | 'zstd';
export const TEST_CODECS: readonly TestCodec[] = ['gzip', 'snappy', 'snappy-xerial', 'lz4', 'zstd'];
export const CODEC_ID: Record<TestCodec, number> = { gzip: 1, snappy: 2, 'snappy-xerial': 2, lz4: 3, zstd: 4 };
/** The codec name the gateway reports for each. */
export const CODEC_NAME: Record<TestCodec, string> = { gzip: 'gzip', snappy: 'snappy', 'snappy-xerial': 'snappy', lz4: 'lz4', zstd: 'zstd' };

/** Bytes of a batch before its records. */
const RECORDS_START = 61;

/** snappy-java's framing: magic, version 1, compatible version 1, then [int32 length][raw snappy] blocks. */
export function xerialSnappy(data: Buffer, blockSize = 32 * 1024): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (let i = 0; i < data.length || i === 0; i += blockSize) {
    const block = snappyCompress(data.subarray(i, i + blockSize));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

export function compressWith(codec: TestCodec, data: Buffer): Buffer {
  switch (codec) {
    case 'gzip':
      return zlib.gzipSync(data);
    case 'snappy':
      return snappyCompress(data);
    case 'snappy-xerial':
      return xerialSnappy(data);
    case 'lz4':
      return compressFrameSync(data);
    case 'zstd':
      return zlib.zstdCompressSync(data);
  }
}

/** `batch` with its records section replaced by `body` and codec id `codecId` in its attributes; length and CRC fixed. */
export function withBody(batch: Buffer, codecId: number, body: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, RECORDS_START), body]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt16BE((out.readInt16BE(21) & ~0x07) | codecId, 21);
  out.writeUInt32BE(crc32c(out.subarray(21)), 17);
  return out;
}

/** One magic v2 batch holding `records`, its records compressed with `codec`. */
export function compressedBatch(records: RecordToEncode[], codec: TestCodec, opts: { baseOffset?: bigint | number } = {}): Buffer {
  const plain = encodeRecordBatch(records, opts);
  return withBody(plain, CODEC_ID[codec], compressWith(codec, plain.subarray(RECORDS_START)));
}

/** The records section of an uncompressed batch (what a codec compresses). */
export function recordsSection(batch: Buffer): Buffer {
  return batch.subarray(RECORDS_START);
}
