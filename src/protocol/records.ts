// Kafka record batches (magic v2), uncompressed only: enough for Turnout's own small topics (the
// control plane's state log). Writing makes one batch with no producer id, epoch or sequence and
// no headers; reading walks every batch of a Fetch response's `records` blob.
//
// Batch layout: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
// crc uint32 (CRC-32C of everything after it), attributes int16, lastOffsetDelta int32,
// baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16,
// baseSequence int32, recordCount int32, records. A record: length varint, attributes int8,
// timestampDelta varlong, offsetDelta varint, key (varint length, -1 = null), value (likewise),
// header count varint, headers (key and value, each with a varint length).
import { crc32c } from './crc32c.ts';

export interface RecordToEncode {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds since the epoch (default: now). */
  timestamp?: number;
}

export interface DecodedRecord {
  offset: bigint;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** Bytes of a batch before its first record. */
const BATCH_OVERHEAD = 61;
/** baseOffset + batchLength: the part of a batch that batchLength does not count. */
const LOG_OVERHEAD = 12;
/** Offset of the first byte the CRC covers (attributes). */
const CRC_START = 21;
const MAGIC_OFFSET = 16;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_LOG_APPEND = 0x08;
const CONTROL_FLAG = 0x20;
const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** One uncompressed magic v2 batch holding `records`, offsets counted from `baseOffset` (default 0). */
export function encodeRecordBatch(records: RecordToEncode[], opts: { baseOffset?: bigint | number } = {}): Buffer {
  if (records.length === 0) throw new Error('a record batch needs at least one record');
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
    rec.varlong(0); // no headers
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
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), 17);
  return batch;
}

/**
 * The data records of every whole batch in `buf` (a Fetch response's records), in log order.
 * Control batches (transaction markers) are skipped, and so is a partial batch at the end, which
 * Fetch leaves when the size limit cuts a batch. Throws on a compressed batch, a magic other than
 * 2, a CRC mismatch, or records that do not fit their batch.
 */
export function decodeRecordBatches(buf: Uint8Array): DecodedRecord[] {
  return decodeRecordBatchesWithEnd(buf).records;
}

/**
 * As decodeRecordBatches, plus `endOffset`: the offset after the last whole batch, control and
 * emptied (compacted) batches included, or null when `buf` holds no whole batch. A reader
 * continues from there, so that it does not fetch a batch without data records again and again.
 */
export function decodeRecordBatchesWithEnd(buf: Uint8Array): { records: DecodedRecord[]; endOffset: bigint | null } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: DecodedRecord[] = [];
  let endOffset: bigint | null = null;
  let pos = 0;
  while (b.length - pos >= LOG_OVERHEAD) {
    const baseOffset = b.readBigInt64BE(pos);
    const batchLength = b.readInt32BE(pos + 8);
    const end = pos + LOG_OVERHEAD + batchLength;
    if (batchLength < 0) throw new Error(`record batch at offset ${baseOffset} has a negative length (${batchLength})`);
    if (end > b.length) break; // cut by the Fetch size limit
    const magic = b.readInt8(pos + MAGIC_OFFSET);
    if (magic !== 2) throw new Error(`record batch at offset ${baseOffset} has magic ${magic}; only magic 2 (Kafka 0.11+ record batches) is supported`);
    if (pos + BATCH_OVERHEAD > end) throw new Error(`record batch at offset ${baseOffset} is ${batchLength + LOG_OVERHEAD} bytes, shorter than a batch header`);
    const storedCrc = b.readUInt32BE(pos + 17);
    const actualCrc = crc32c(b.subarray(pos + CRC_START, end));
    if (storedCrc !== actualCrc) {
      throw new Error(`record batch at offset ${baseOffset} is corrupt: CRC-32C is 0x${actualCrc.toString(16)} but the batch says 0x${storedCrc.toString(16)}`);
    }
    const attributes = b.readInt16BE(pos + 21);
    const lastOffsetDelta = b.readInt32BE(pos + 23);
    endOffset = baseOffset + BigInt(lastOffsetDelta) + 1n;
    const compression = attributes & COMPRESSION_MASK;
    if (compression !== 0) {
      throw new Error(`record batch at offset ${baseOffset} is compressed (${COMPRESSION_NAMES[compression] ?? `codec ${compression}`}); only uncompressed batches are supported`);
    }
    if ((attributes & CONTROL_FLAG) === 0) {
      const baseTimestamp = Number(b.readBigInt64BE(pos + 27));
      const maxTimestamp = Number(b.readBigInt64BE(pos + 35));
      const logAppendTime = (attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0;
      const count = b.readInt32BE(pos + 57);
      const r = new ByteReader(b, pos + BATCH_OVERHEAD, end, baseOffset);
      for (let i = 0; i < count; i++) {
        const length = r.varlong();
        const recordEnd = r.pos + length;
        if (length < 0 || recordEnd > end) throw r.error(`record ${i} claims ${length} bytes`);
        r.pos += 1; // attributes
        const timestampDelta = r.varlong();
        const offsetDelta = r.varlong();
        const key = r.nullableBytes();
        const value = r.nullableBytes();
        // Headers are not used by Turnout's records; skip them so the next record is found.
        const headers = r.varlong();
        for (let h = 0; h < headers; h++) {
          const keyLength = r.varlong();
          if (keyLength < 0) throw r.error(`record ${i} has a header key of length ${keyLength}`);
          r.skip(keyLength);
          r.nullableBytes();
        }
        if (r.pos !== recordEnd) throw r.error(`record ${i} is ${length} bytes but its fields take ${r.pos - (recordEnd - length)}`);
        records.push({ offset: baseOffset + BigInt(offsetDelta), timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta, key, value });
      }
      if (r.pos !== end) throw r.error(`${end - r.pos} bytes follow the last of its ${count} records`);
    }
    pos = end;
  }
  return { records, endOffset };
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

  constructor(b: Buffer, pos: number, end: number, baseOffset: bigint) {
    this.b = b;
    this.pos = pos;
    this.end = end;
    this.baseOffset = baseOffset;
  }

  error(what: string): Error {
    return new Error(`record batch at offset ${this.baseOffset} is malformed: ${what}`);
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
