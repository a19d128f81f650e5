// Kafka record batches (magic v2). Writing makes one uncompressed batch with no producer id, epoch
// or sequence (enough for Turnout's own state log, whose records carry a signature header); reading walks every batch of a
// Fetch response's `records` blob, decompressing gzip, snappy, lz4 and zstd batches (compression.ts)
// within a byte budget, so that the gateway can read any producer's records.
//
// Batch layout: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
// crc uint32 (CRC-32C of everything after it), attributes int16, lastOffsetDelta int32,
// baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16,
// baseSequence int32, recordCount int32, records (compressed as a whole with the codec named in
// attributes bits 0-2). A record: length varint, attributes int8, timestampDelta varlong,
// offsetDelta varint, key (varint length, -1 = null), value (likewise), header count varint,
// headers (key and value, each with a varint length).
import { TurnoutError } from '../errors.ts';
import { CompressionError, CompressionErrorCode, codecName, decompress } from './compression.ts';
import { crc32c } from './crc32c.ts';
import { CodecError, CodecErrorCode } from './errors.ts';
import {
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_CONTROL_FLAG,
  BATCH_CRC_OFFSET,
  BATCH_LOG_OVERHEAD,
  BATCH_MAGIC_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  BATCH_TRANSACTIONAL_FLAG,
  BATCH_V2_HEADER_SIZE,
} from './produce-scan.ts';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordToEncode {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds since the epoch (default: now). */
  timestamp?: number;
  headers?: readonly RecordHeader[];
}

export interface DecodedRecord {
  offset: bigint;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Only when DecodeOptions.headers asked for them (and the record has any). */
  headers?: RecordHeader[];
}

// The batch layout (offsets of its header fields) is produce-scan.ts's, which reads the same
// header in Produce requests.
const BATCH_OVERHEAD = BATCH_V2_HEADER_SIZE;
const LOG_OVERHEAD = BATCH_LOG_OVERHEAD;
/** Offset of the first byte the CRC covers (attributes). */
const CRC_START = BATCH_ATTRIBUTES_OFFSET;
const MAGIC_OFFSET = BATCH_MAGIC_OFFSET;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_LOG_APPEND = 0x08;
const CONTROL_FLAG = BATCH_CONTROL_FLAG;

/** What one decode call may decompress to by default, all its batches together (see DecodeOptions). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface DecodeOptions {
  /**
   * The most bytes the compressed batches of one call may decompress to, together (default
   * DEFAULT_MAX_DECOMPRESSED_BYTES). A batch that would go past it ends the call before it when
   * whole batches were read already (endOffset points at it, so the reader continues there);
   * when it is the first batch, the call throws RecordBatchError TooLarge.
   */
  maxDecompressedBytes?: number;
  /**
   * Read committed: the aborted transactions a read_committed Fetch returned with the records.
   * Data batches of an aborted transaction are left out, as a read_committed consumer does: a
   * producer's transaction counts as aborted from its first offset until its next marker.
   */
  abortedTransactions?: readonly { producerId: bigint; firstOffset: bigint }[];
  /** Return each record's headers (default: skipped, which allocates nothing for them). */
  headers?: boolean;
}

export const RecordBatchErrorCode = {
  /** CRC mismatch, records that do not fit their batch, or data its codec cannot decompress. */
  Corrupt: 'TURNOUT_RECORDS_CORRUPT',
  /** A magic other than 2, or a codec Kafka does not define. */
  Unsupported: 'TURNOUT_RECORDS_UNSUPPORTED',
  /** The batch decompresses to more than the reader allows. */
  TooLarge: 'TURNOUT_RECORDS_TOO_LARGE',
} as const;
export type RecordBatchErrorCode = (typeof RecordBatchErrorCode)[keyof typeof RecordBatchErrorCode];

/** A batch that cannot be read: its base offset, its codec ("none", "gzip", ..., "codec 5") and why. */
export class RecordBatchError extends TurnoutError {
  readonly baseOffset: bigint;
  readonly codec: string;
  readonly reason: string;
  constructor(code: RecordBatchErrorCode, baseOffset: bigint, codec: string, reason: string, options?: { cause?: unknown }) {
    super(code, `record batch at offset ${baseOffset} ${reason}`, options);
    this.baseOffset = baseOffset;
    this.codec = codec;
    this.reason = reason;
  }
}

/** One uncompressed magic v2 batch holding `records`, offsets counted from `baseOffset` (default 0). */
export function encodeRecordBatch(records: RecordToEncode[], opts: { baseOffset?: bigint | number } = {}): Buffer {
  if (records.length === 0) throw new CodecError(CodecErrorCode.Internal, 'a record batch needs at least one record');
  const now = Date.now();
  const timestamps = records.map((r) => r.timestamp ?? now);
  const baseTimestamp = timestamps[0];
  const maxTimestamp = Math.max(...timestamps);
  const body = new ByteWriter();
  records.forEach((r, i) => {
    const rec = new ByteWriter();
    rec.int8(0); // attributes (unused)
    rec.varlong(timestamps[i] - baseTimestamp);
    rec.varlong(i);
    rec.nullableBytes(r.key);
    rec.nullableBytes(r.value);
    const headers = r.headers ?? [];
    rec.varlong(headers.length);
    for (const h of headers) {
      rec.nullableBytes(Buffer.from(h.key, 'utf8'));
      rec.nullableBytes(h.value);
    }
    const bytes = rec.toBuffer();
    body.varlong(bytes.length);
    body.bytes(bytes);
  });
  const recordBytes = body.toBuffer();

  const batch = Buffer.alloc(BATCH_OVERHEAD + recordBytes.length);
  batch.writeBigInt64BE(BigInt(opts.baseOffset ?? 0), 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8);
  batch.writeInt32BE(-1, 12); // partitionLeaderEpoch: the broker sets it
  batch.writeInt8(2, MAGIC_OFFSET);
  batch.writeInt16BE(0, 21); // attributes: no compression, create time, not transactional, not control
  batch.writeInt32BE(records.length - 1, 23);
  batch.writeBigInt64BE(BigInt(baseTimestamp), 27);
  batch.writeBigInt64BE(BigInt(maxTimestamp), 35);
  batch.writeBigInt64BE(-1n, 43); // producerId
  batch.writeInt16BE(-1, 51); // producerEpoch
  batch.writeInt32BE(-1, 53); // baseSequence
  batch.writeInt32BE(records.length, 57);
  recordBytes.copy(batch, BATCH_OVERHEAD);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), BATCH_CRC_OFFSET);
  return batch;
}

/**
 * The data records of every whole batch in `buf` (a Fetch response's records), in log order.
 * Control batches (transaction markers) are skipped, and so is a partial batch at the end, which
 * Fetch leaves when the size limit cuts a batch. Throws RecordBatchError on a magic other than 2,
 * a CRC mismatch, an unknown codec, data its codec cannot decompress, a batch larger than the
 * budget (DecodeOptions) once decompressed, or records that do not fit their batch.
 */
export function decodeRecordBatches(buf: Uint8Array, opts: DecodeOptions = {}): DecodedRecord[] {
  return decodeRecordBatchesWithEnd(buf, opts).records;
}

/**
 * As decodeRecordBatches, plus `endOffset`: the offset after the last whole batch read, control
 * and emptied (compacted) batches included, or null when `buf` holds no whole batch. A reader
 * continues from there, so that it does not fetch a batch without data records again and again,
 * and reads the rest of a response cut short by the decompression budget. `decompressedBytes` is
 * what the call's compressed batches decompressed to (a reader of several partitions' records
 * shares one budget among them).
 */
export function decodeRecordBatchesWithEnd(
  buf: Uint8Array,
  opts: DecodeOptions = {},
): { records: DecodedRecord[]; endOffset: bigint | null; decompressedBytes: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: DecodedRecord[] = [];
  let budget = opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  let decompressedBytes = 0;
  let endOffset: bigint | null = null;
  let pos = 0;
  const pendingAborts = [...(opts.abortedTransactions ?? [])].sort((x, y) => (x.firstOffset < y.firstOffset ? -1 : x.firstOffset > y.firstOffset ? 1 : 0));
  const aborting = new Set<bigint>();
  while (b.length - pos >= LOG_OVERHEAD) {
    const baseOffset = b.readBigInt64BE(pos);
    const batchLength = b.readInt32BE(pos + 8);
    const end = pos + LOG_OVERHEAD + batchLength;
    if (batchLength < 0) throw new RecordBatchError(RecordBatchErrorCode.Corrupt, baseOffset, 'unknown', `has a negative length (${batchLength})`);
    if (end > b.length) break; // cut by the Fetch size limit
    const magic = b.readInt8(pos + MAGIC_OFFSET);
    if (magic !== 2)
      throw new RecordBatchError(
        RecordBatchErrorCode.Unsupported,
        baseOffset,
        'unknown',
        `has magic ${magic}; only magic 2 (Kafka 0.11+ record batches) is supported`,
      );
    if (pos + BATCH_OVERHEAD > end)
      throw new RecordBatchError(RecordBatchErrorCode.Corrupt, baseOffset, 'unknown', `is ${batchLength + LOG_OVERHEAD} bytes, shorter than a batch header`);
    const attributes = b.readInt16BE(pos + 21);
    const compression = attributes & COMPRESSION_MASK;
    const codec = codecName(compression);
    const storedCrc = b.readUInt32BE(pos + 17);
    const actualCrc = crc32c(b.subarray(pos + CRC_START, end));
    if (storedCrc !== actualCrc) {
      throw new RecordBatchError(
        RecordBatchErrorCode.Corrupt,
        baseOffset,
        codec,
        `is corrupt: CRC-32C is 0x${actualCrc.toString(16)} but the batch says 0x${storedCrc.toString(16)}`,
      );
    }
    const lastOffsetDelta = b.readInt32BE(pos + 23);
    let skip = false;
    if (opts.abortedTransactions !== undefined && (attributes & BATCH_TRANSACTIONAL_FLAG) !== 0) {
      const producerId = b.readBigInt64BE(pos + BATCH_PRODUCER_ID_OFFSET);
      const last = baseOffset + BigInt(lastOffsetDelta);
      while (pendingAborts.length > 0 && pendingAborts[0].firstOffset <= last) aborting.add(pendingAborts.shift()!.producerId);
      if ((attributes & CONTROL_FLAG) !== 0)
        aborting.delete(producerId); // its marker ends the transaction
      else skip = aborting.has(producerId);
    }
    if ((attributes & CONTROL_FLAG) === 0 && !skip) {
      let body = b;
      let bodyStart = pos + BATCH_OVERHEAD;
      let bodyEnd = end;
      if (compression !== 0) {
        try {
          body = decompress(compression, b.subarray(bodyStart, end), Math.max(budget, 1));
        } catch (err) {
          if (!(err instanceof CompressionError)) throw err;
          // Past the budget with batches read already: stop before this one, the reader comes back for it.
          if (err.code === CompressionErrorCode.TooLarge && endOffset !== null) break;
          const code =
            err.code === CompressionErrorCode.TooLarge
              ? RecordBatchErrorCode.TooLarge
              : err.code === CompressionErrorCode.UnknownCodec
                ? RecordBatchErrorCode.Unsupported
                : RecordBatchErrorCode.Corrupt;
          const what =
            err.code === CompressionErrorCode.TooLarge
              ? `is ${codec}-compressed and decompresses to more than ${Math.max(budget, 1)} bytes, the limit for reading it`
              : `cannot be decompressed: ${err.message}`;
          throw new RecordBatchError(code, baseOffset, codec, what, { cause: err });
        }
        budget -= body.length;
        decompressedBytes += body.length;
        bodyStart = 0;
        bodyEnd = body.length;
      }
      decodeRecords(b, pos, body, bodyStart, bodyEnd, baseOffset, attributes, codec, records, opts.headers === true);
    }
    endOffset = baseOffset + BigInt(lastOffsetDelta) + 1n;
    pos = end;
  }
  return { records, endOffset, decompressedBytes };
}

/** The records of one data batch, from `body` [start, end) (the batch itself, or its decompressed records). */
function decodeRecords(
  b: Buffer,
  pos: number,
  body: Buffer,
  start: number,
  end: number,
  baseOffset: bigint,
  attributes: number,
  codec: string,
  out: DecodedRecord[],
  withHeaders: boolean,
): void {
  const baseTimestamp = Number(b.readBigInt64BE(pos + 27));
  const maxTimestamp = Number(b.readBigInt64BE(pos + 35));
  const logAppendTime = (attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0;
  const count = b.readInt32BE(pos + 57);
  const r = new ByteReader(body, start, end, baseOffset, codec);
  for (let i = 0; i < count; i++) {
    const length = r.varlong();
    const recordEnd = r.pos + length;
    if (length < 0 || recordEnd > end) throw r.error(`record ${i} claims ${length} bytes`);
    r.pos += 1; // attributes
    const timestampDelta = r.varlong();
    const offsetDelta = r.varlong();
    const key = r.nullableBytes();
    const value = r.nullableBytes();
    // Headers are skipped unless asked for, so that the next record is found.
    const headerCount = r.varlong();
    let headers: RecordHeader[] | undefined;
    for (let h = 0; h < headerCount; h++) {
      const keyLength = r.varlong();
      if (keyLength < 0) throw r.error(`record ${i} has a header key of length ${keyLength}`);
      const keyStart = r.pos;
      r.skip(keyLength);
      const headerValue = r.nullableBytes();
      if (withHeaders) (headers ??= []).push({ key: body.toString('utf8', keyStart, keyStart + keyLength), value: headerValue });
    }
    if (r.pos !== recordEnd) throw r.error(`record ${i} is ${length} bytes but its fields take ${r.pos - (recordEnd - length)}`);
    const record: DecodedRecord = {
      offset: baseOffset + BigInt(offsetDelta),
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
      key,
      value,
    };
    if (headers !== undefined) record.headers = headers;
    out.push(record);
  }
  if (r.pos !== end) throw r.error(`${end - r.pos} bytes follow the last of its ${count} records`);
}

/** Growing byte buffer with Kafka's zig-zag varints (up to 2^53, which covers every value here). */
class ByteWriter {
  private buf = Buffer.alloc(256);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  int8(v: number): void {
    this.room(1);
    this.buf.writeInt8(v, this.len++);
  }

  varlong(v: number): void {
    this.room(10);
    let z = v >= 0 ? v * 2 : -v * 2 - 1;
    while (z >= 0x80) {
      this.buf[this.len++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    this.buf[this.len++] = z;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  nullableBytes(b: Uint8Array | null): void {
    if (b === null) {
      this.varlong(-1);
      return;
    }
    this.varlong(b.length);
    this.bytes(b);
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

class ByteReader {
  pos: number;
  private readonly b: Buffer;
  private readonly end: number;
  private readonly baseOffset: bigint;
  private readonly codec: string;

  constructor(b: Buffer, pos: number, end: number, baseOffset: bigint, codec: string) {
    this.b = b;
    this.pos = pos;
    this.end = end;
    this.baseOffset = baseOffset;
    this.codec = codec;
  }

  error(what: string): RecordBatchError {
    return new RecordBatchError(RecordBatchErrorCode.Corrupt, this.baseOffset, this.codec, `is malformed: ${what}`);
  }

  varlong(): number {
    let z = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.error('a varint runs past the end of the batch');
      const byte = this.b[this.pos++];
      z += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      scale *= 0x80;
    }
    throw this.error('a varint is longer than 10 bytes');
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw this.error(`a field of ${n} bytes runs past the end of the batch`);
    this.pos += n;
  }

  nullableBytes(): Buffer | null {
    const n = this.varlong();
    if (n === -1) return null;
    if (n < 0) throw this.error(`a key or value has length ${n}`);
    const start = this.pos;
    this.skip(n);
    return Buffer.from(this.b.subarray(start, this.pos));
  }
}
