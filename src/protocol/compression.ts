// Decompression of the records of a Kafka record batch (magic v2), whose attributes name the codec
// in bits 0-2: gzip 1, snappy 2, lz4 3, zstd 4. gzip and zstd come from node:zlib; snappy and lz4
// from napi-rs packages (`snappy`, `lz4-napi`: prebuilt binaries shipped as npm optional
// dependencies). The gateway only decompresses what it reads itself (tail comparisons, offset
// translation, its state log); forwarded frames stay compressed and untouched.
//
// Every call is bounded by `maxBytes`, so that a hostile or corrupt batch cannot make the gateway
// allocate without limit: zlib stops at maxOutputLength; snappy states each block's size in a
// preamble, checked before decompressing; an LZ4 frame bounds its output by its block sizes (at
// most the frame's block maximum, and at most 255 times the compressed block), checked before
// decompressing with one block of slack (a last block is rarely full), and the output after.
import zlib from 'node:zlib';
import { decompressFrameSync as lz4DecompressFrame } from 'lz4-napi';
import { uncompressSync as snappyUncompress } from 'snappy';
import { TurnoutError } from '../errors.ts';

export const Codec = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;
export type CodecId = (typeof Codec)[keyof typeof Codec];

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** "gzip", "snappy", ... or "codec 5" for an id Kafka does not define. */
export function codecName(id: number): string {
  return NAMES[id] ?? `codec ${id}`;
}

export const CompressionErrorCode = {
  /** An id Kafka does not define (5-7), or one this Node.js cannot decompress. */
  UnknownCodec: 'TURNOUT_COMPRESSION_UNKNOWN_CODEC',
  /** The data would decompress to more than the caller allows. */
  TooLarge: 'TURNOUT_COMPRESSION_TOO_LARGE',
  /** The data is not valid for its codec. */
  Corrupt: 'TURNOUT_COMPRESSION_CORRUPT',
} as const;
export type CompressionErrorCode = (typeof CompressionErrorCode)[keyof typeof CompressionErrorCode];

export class CompressionError extends TurnoutError {
  readonly codec: string;
  constructor(code: CompressionErrorCode, codec: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.codec = codec;
  }
}

/**
 * The decompressed bytes of `data` compressed with codec `codec` (a batch's attributes & 7).
 * Throws CompressionError: UnknownCodec, TooLarge (more than `maxBytes`), or Corrupt.
 */
export function decompress(codec: number, data: Uint8Array, maxBytes: number): Buffer {
  if (!(maxBytes >= 1)) throw new RangeError(`maxBytes must be at least 1, not ${maxBytes}`);
  switch (codec) {
    case Codec.None:
      if (data.length > maxBytes) throw tooLarge('none', maxBytes);
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case Codec.Gzip:
      return inflateWithZlib('gzip', () => zlib.gunzipSync(data, { maxOutputLength: maxBytes }), maxBytes);
    case Codec.Zstd:
      if (typeof zlib.zstdDecompressSync !== 'function') {
        throw new CompressionError(CompressionErrorCode.UnknownCodec, 'zstd', `zstd needs Node.js 22.15 or later (this is ${process.version})`);
      }
      return inflateWithZlib('zstd', () => zlib.zstdDecompressSync(data, { maxOutputLength: maxBytes }), maxBytes);
    case Codec.Snappy:
      return snappy(Buffer.from(data.buffer, data.byteOffset, data.byteLength), maxBytes);
    case Codec.Lz4:
      return lz4(Buffer.from(data.buffer, data.byteOffset, data.byteLength), maxBytes);
    default:
      throw new CompressionError(
        CompressionErrorCode.UnknownCodec,
        codecName(codec),
        `${codecName(codec)} is not a compression codec Kafka defines (gzip 1, snappy 2, lz4 3, zstd 4)`,
      );
  }
}

function tooLarge(codec: string, maxBytes: number, size?: number): CompressionError {
  const what = size === undefined ? 'more than' : `${size} bytes, more than`;
  return new CompressionError(CompressionErrorCode.TooLarge, codec, `${codec} data decompresses to ${what} the limit of ${maxBytes} bytes`);
}

function corrupt(codec: string, what: string, cause?: unknown): CompressionError {
  return new CompressionError(CompressionErrorCode.Corrupt, codec, `corrupt ${codec} data: ${what}`, cause === undefined ? undefined : { cause });
}

function inflateWithZlib(codec: string, run: () => Buffer, maxBytes: number): Buffer {
  try {
    return run();
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(codec, maxBytes);
    throw corrupt(codec, (err as Error).message, err);
  }
}

// ---- snappy: raw, or in xerial's framing (what the Java producer writes) ----

/** snappy-java's stream header: magic, then int32 version and int32 compatible version. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;

function snappy(data: Buffer, maxBytes: number): Buffer {
  // A raw stream cannot start with the xerial magic: 0x82 0x53 would be its length preamble and
  // 'N' (a copy) its first element, which has nothing to copy from.
  if (data.length >= XERIAL_MAGIC.length && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    if (data.length < XERIAL_HEADER) throw corrupt('snappy', `the xerial header is cut at ${data.length} bytes`);
    const blocks: Buffer[] = [];
    let total = 0;
    let pos = XERIAL_HEADER;
    while (pos < data.length) {
      if (pos + 4 > data.length) throw corrupt('snappy', `a xerial block length is cut at byte ${pos}`);
      const length = data.readInt32BE(pos);
      pos += 4;
      if (length < 0 || pos + length > data.length)
        throw corrupt('snappy', `a xerial block claims ${length} bytes at byte ${pos - 4}, ${data.length - pos} remain`);
      const block = data.subarray(pos, pos + length);
      pos += length;
      total += snappyLength(block);
      if (total > maxBytes) throw tooLarge('snappy', maxBytes, total);
      blocks.push(rawSnappy(block));
    }
    return blocks.length === 1 ? blocks[0] : Buffer.concat(blocks, total);
  }
  const size = snappyLength(data);
  if (size > maxBytes) throw tooLarge('snappy', maxBytes, size);
  return rawSnappy(data);
}

/** The uncompressed length a raw snappy block states in its preamble (a varint below 2^32). */
function snappyLength(block: Buffer): number {
  let n = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw corrupt('snappy', 'the length preamble is cut');
    const b = block[i];
    n += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (n > 0xffffffff) break;
      return n;
    }
  }
  throw corrupt('snappy', 'the length preamble is longer than 32 bits');
}

function rawSnappy(block: Buffer): Buffer {
  let out: Buffer;
  try {
    out = snappyUncompress(block, { asBuffer: true }) as Buffer;
  } catch (err) {
    throw corrupt('snappy', (err as Error).message, err);
  }
  return out;
}

// ---- lz4: the LZ4 frame format (magic v2 batches; v0/v1's broken header checksum is not supported) ----

const LZ4_MAGIC = 0x184d2204;
/** Block maximum sizes by the BD byte's bits 4-6. */
const LZ4_BLOCK_MAX: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };
/** A compressed LZ4 block cannot expand more than this (one length byte adds at most 255 bytes). */
const LZ4_MAX_RATIO = 255;

function lz4(data: Buffer, maxBytes: number): Buffer {
  const { bound, blockMax } = lz4FrameBound(data);
  // The bound counts the last block as full; past the limit by more than that, it cannot fit.
  if (bound - blockMax > maxBytes) throw tooLarge('lz4', maxBytes);
  let out: Buffer;
  try {
    out = lz4DecompressFrame(data);
  } catch (err) {
    throw corrupt('lz4', (err as Error).message, err);
  }
  if (out.length > maxBytes) throw tooLarge('lz4', maxBytes, out.length);
  return out;
}

/**
 * The most bytes the LZ4 frames in `data` can decompress to, from their headers and block sizes,
 * and the largest block maximum among them; throws Corrupt when the structure does not hold (the
 * library is not asked to decode it then).
 */
export function lz4FrameBound(data: Buffer): { bound: number; blockMax: number } {
  let pos = 0;
  let bound = 0;
  let largest = 0;
  let frames = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw corrupt('lz4', `${data.length - pos} stray bytes after ${frames} frame(s)`);
    const magic = data.readUInt32LE(pos);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // a skippable frame
      if (pos + 8 > data.length) throw corrupt('lz4', 'a skippable frame header is cut');
      const size = data.readUInt32LE(pos + 4);
      if (pos + 8 + size > data.length) throw corrupt('lz4', 'a skippable frame is cut');
      pos += 8 + size;
      continue;
    }
    if (magic !== LZ4_MAGIC) throw corrupt('lz4', `no LZ4 frame magic at byte ${pos} (0x${magic.toString(16)})`);
    if (pos + 7 > data.length) throw corrupt('lz4', 'the frame descriptor is cut');
    const flg = data[pos + 4];
    const bd = data[pos + 5];
    if (flg >> 6 !== 1) throw corrupt('lz4', `frame version ${flg >> 6} (only 1 exists)`);
    const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 0x07];
    if (blockMax === undefined) throw corrupt('lz4', `block maximum size id ${(bd >> 4) & 0x07}`);
    largest = Math.max(largest, blockMax);
    const blockChecksums = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const hasDictId = (flg & 0x01) !== 0;
    pos += 6;
    let contentSize: number | null = null;
    if (hasContentSize) {
      if (pos + 8 > data.length) throw corrupt('lz4', 'the content size is cut');
      const size = data.readBigUInt64LE(pos);
      contentSize = size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size);
      pos += 8;
    }
    if (hasDictId) pos += 4;
    pos += 1; // header checksum (the library checks it)
    let frameBound = 0;
    for (;;) {
      if (pos + 4 > data.length) throw corrupt('lz4', 'a block size is cut (no end mark)');
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break; // end mark
      const size = word & 0x7fffffff;
      const stored = (word & 0x80000000) !== 0;
      if (size > blockMax) throw corrupt('lz4', `a block of ${size} bytes is larger than the frame's block maximum of ${blockMax}`);
      if (pos + size + (blockChecksums ? 4 : 0) > data.length) throw corrupt('lz4', `a block of ${size} bytes is cut`);
      frameBound += stored ? size : Math.min(blockMax, size * LZ4_MAX_RATIO);
      pos += size + (blockChecksums ? 4 : 0);
    }
    if (contentChecksum) {
      if (pos + 4 > data.length) throw corrupt('lz4', 'the content checksum is cut');
      pos += 4;
    }
    // A content size the blocks cannot fill is a lie; refused before the library could trust it.
    if (contentSize !== null && contentSize > frameBound)
      throw corrupt('lz4', `the frame states ${contentSize} bytes of content but its blocks hold at most ${frameBound}`);
    bound += contentSize ?? frameBound;
    frames++;
  }
  if (frames === 0) throw corrupt('lz4', 'no frame');
  return { bound, blockMax: largest };
}
