// Produce request frames read in place, without decoding them into objects: the topics, where
// each partition's records are, and the record batches inside. Produce requests are mostly
// records the gateway only forwards, so this never copies records and allocates nothing per
// partition, and per topic only its name (or id). scanProduceRequest walks a whole frame;
// ProduceTopicScanner walks one arriving in pieces and keeps a few numbers (plus the bytes of a
// topic name split between pieces).
//
// Layout (ProduceRequest.json): request header v1 (v0-8) or v2 (v9+, flexible: tagged fields
// after the client id, which stays a non-compact string); then transactionalId (v3+), acks,
// timeoutMs, topicData [name (v0-12) | topicId (v13+), partitionData [index, records]]. Flexible
// versions use compact strings, arrays and records and end every struct with tagged fields.
import { CodecError, CodecErrorCode } from './errors.ts';
import { ApiKey } from './generated/index.ts';

/** Produce versions whose layout this scanner knows. */
export const PRODUCE_SCAN_MIN_VERSION = 0;
export const PRODUCE_SCAN_MAX_VERSION = 13;
const FIRST_FLEXIBLE_VERSION = 9;
const FIRST_TRANSACTIONAL_ID_VERSION = 3;
const FIRST_TOPIC_ID_VERSION = 13;
/** Kafka rejects any string field longer than this, compact ones included. */
const MAX_STRING_LENGTH = 0x7fff;
const TOPIC_ID_LENGTH = 16;

// Byte positions of the fields of a magic v2 record batch, from the start of the batch
// (DefaultRecordBatch.java). Magic 0/1 messages share only the first two and the magic with it.
export const BATCH_BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const BATCH_PARTITION_LEADER_EPOCH_OFFSET = 12;
export const BATCH_MAGIC_OFFSET = 16;
/** CRC-32C of everything from the attributes to the end of the batch. */
export const BATCH_CRC_OFFSET = 17;
export const BATCH_ATTRIBUTES_OFFSET = 21;
export const BATCH_LAST_OFFSET_DELTA_OFFSET = 23;
export const BATCH_BASE_TIMESTAMP_OFFSET = 27;
export const BATCH_MAX_TIMESTAMP_OFFSET = 35;
export const BATCH_PRODUCER_ID_OFFSET = 43;
export const BATCH_PRODUCER_EPOCH_OFFSET = 51;
export const BATCH_BASE_SEQUENCE_OFFSET = 53;
export const BATCH_RECORD_COUNT_OFFSET = 57;
/** Bytes of a magic v2 batch before its first record. */
export const BATCH_V2_HEADER_SIZE = 61;
/** baseOffset + batchLength: the bytes in front of what batchLength counts. */
export const BATCH_LOG_OVERHEAD = 12;
/** Attribute bits of a magic v2 batch. */
export const BATCH_TRANSACTIONAL_FLAG = 0x10;
export const BATCH_CONTROL_FLAG = 0x20;
/** Smallest batchLength any entry can have (a magic v0 message: crc, magic, attributes, key, value). */
const MIN_ENTRY_LENGTH = 14;

export interface ProduceVisitor {
  /** Each topic in request order: its name (v0-12) or its id (v13+, a 16-byte view into the frame). */
  topic?(name: string | null, topicId: Buffer | null): void;
  /** A partition's records are frame[start, end). Not called when the records are null. */
  records?(topicIndex: number, partition: number, start: number, end: number): void;
}

export interface ProduceScan {
  version: number;
  transactionalId: string | null;
  acks: number;
}

/** Bounds-checked cursor over a whole frame; messages name the Produce version and the field. */
class FrameCursor {
  readonly buf: Buffer;
  readonly version: number;
  pos = 8;

  constructor(buf: Buffer, version: number) {
    this.buf = buf;
    this.version = version;
  }

  fail(code: CodecErrorCode, message: string, at = this.pos): never {
    throw new CodecError(code, `Produce v${this.version} request: ${message}`, at);
  }

  get left(): number {
    return this.buf.length - this.pos;
  }

  // `what` and `part` name the field in messages; they are joined only when something fails, so
  // that reading a partition allocates nothing.
  skip(n: number, what: string, part = ''): void {
    if (n > this.left) this.fail(CodecErrorCode.Truncated, `the frame ends inside the ${what}${part}`);
    this.pos += n;
  }

  int16(what: string, part = ''): number {
    this.skip(2, what, part);
    return this.buf.readInt16BE(this.pos - 2);
  }

  int32(what: string, part = ''): number {
    this.skip(4, what, part);
    return this.buf.readInt32BE(this.pos - 4);
  }

  uvarint(what: string, part = ''): number {
    let value = 0;
    for (let scale = 1; scale <= 2 ** 28; scale *= 128) {
      if (this.pos >= this.buf.length) this.fail(CodecErrorCode.Truncated, `the frame ends inside the ${what}${part}`);
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
    }
    return this.fail(CodecErrorCode.VarintTooLong, `the ${what}${part} is a varint longer than 5 bytes`);
  }

  /** Length of a string (int16) or bytes (int32) field, -1 for null, checked against the bytes left. */
  length(compact: boolean, bytes: boolean, nullable: boolean, what: string): number {
    const at = this.pos;
    const n = compact ? this.uvarint(what, ' length') - 1 : bytes ? this.int32(what, ' length') : this.int16(what, ' length');
    if (n === -1 && nullable) return -1;
    if (n < 0) this.fail(n === -1 ? CodecErrorCode.UnexpectedNull : CodecErrorCode.InvalidLength, `the ${what} has length ${n}`, at);
    if (n > this.left) this.fail(CodecErrorCode.InvalidLength, `the ${what} length ${n} exceeds the ${this.left} bytes left`, at);
    if (!bytes && n > MAX_STRING_LENGTH) this.fail(CodecErrorCode.InvalidLength, `the ${what} length ${n} exceeds Kafka's limit of ${MAX_STRING_LENGTH}`, at);
    return n;
  }

  /** Element count of a non-nullable array, at most the bytes left (every element takes some). */
  count(compact: boolean, what: string): number {
    const at = this.pos;
    const n = compact ? this.uvarint(what, ' count') - 1 : this.int32(what, ' count');
    if (n < 0) this.fail(n === -1 ? CodecErrorCode.UnexpectedNull : CodecErrorCode.InvalidLength, `the ${what} count is ${n}`, at);
    if (n > this.left) this.fail(CodecErrorCode.InvalidLength, `${n} ${what} entries exceed the ${this.left} bytes left`, at);
    return n;
  }

  skipTaggedFields(where: string): void {
    const at = this.pos;
    const n = this.uvarint(where, ' tagged field count');
    if (n > this.left) this.fail(CodecErrorCode.InvalidLength, `${n} ${where} tagged fields exceed the ${this.left} bytes left`, at);
    for (let i = 0; i < n; i++) {
      this.uvarint(where, ' tagged field tag');
      const sizeAt = this.pos;
      const size = this.uvarint(where, ' tagged field size');
      if (size > this.left)
        this.fail(CodecErrorCode.InvalidTaggedField, `a ${where} tagged field of ${size} bytes exceeds the ${this.left} bytes left`, sizeAt);
      this.pos += size;
    }
  }
}

function checkProduceVersion(version: number): void {
  if (version < PRODUCE_SCAN_MIN_VERSION || version > PRODUCE_SCAN_MAX_VERSION) {
    throw new CodecError(
      CodecErrorCode.UnsupportedVersion,
      `Produce v${version} is not supported (versions ${PRODUCE_SCAN_MIN_VERSION}-${PRODUCE_SCAN_MAX_VERSION})`,
      6,
    );
  }
}

/**
 * Walks a whole Produce request frame (size prefix included), calling `visit` for each topic and
 * each partition's records, without copying records. Throws CodecError when the frame is not a
 * well-formed Produce request, including bytes left over after it.
 */
export function scanProduceRequest(frame: Buffer, visit: ProduceVisitor): ProduceScan {
  if (frame.length < 8) throw new CodecError(CodecErrorCode.Truncated, `frame of ${frame.length} bytes is too short for a request header`, 0);
  const size = frame.readInt32BE(0);
  if (size !== frame.length - 4) {
    throw new CodecError(CodecErrorCode.InvalidLength, `frame size prefix ${size} does not match the ${frame.length - 4} bytes that follow`, 0);
  }
  const apiKey = frame.readInt16BE(4);
  if (apiKey !== ApiKey.Produce) throw new CodecError(CodecErrorCode.UnknownApi, `api key ${apiKey} is not Produce (${ApiKey.Produce})`, 4);
  const version = frame.readInt16BE(6);
  checkProduceVersion(version);
  const flexible = version >= FIRST_FLEXIBLE_VERSION;
  const c = new FrameCursor(frame, version);

  c.skip(4, 'correlation id');
  c.skip(Math.max(0, c.length(false, false, true, 'client id')), 'client id');
  if (flexible) c.skipTaggedFields('header');

  let transactionalId: string | null = null;
  if (version >= FIRST_TRANSACTIONAL_ID_VERSION) {
    const n = c.length(flexible, false, true, 'transactional id');
    if (n >= 0) {
      transactionalId = frame.toString('utf8', c.pos, c.pos + n);
      c.pos += n;
    }
  }
  const acks = c.int16('acks');
  c.skip(4, 'timeout');

  const topics = c.count(flexible, 'topic');
  for (let t = 0; t < topics; t++) {
    if (version < FIRST_TOPIC_ID_VERSION) {
      const n = c.length(flexible, false, false, 'topic name');
      if (visit.topic !== undefined) visit.topic(frame.toString('utf8', c.pos, c.pos + n), null);
      c.pos += n;
    } else {
      c.skip(TOPIC_ID_LENGTH, 'topic id');
      if (visit.topic !== undefined) visit.topic(null, frame.subarray(c.pos - TOPIC_ID_LENGTH, c.pos));
    }
    const partitions = c.count(flexible, 'partition');
    for (let p = 0; p < partitions; p++) {
      const partition = c.int32('partition index');
      const n = c.length(flexible, true, true, 'records');
      if (n >= 0) {
        c.pos += n;
        if (visit.records !== undefined) visit.records(t, partition, c.pos - n, c.pos);
      }
      if (flexible) c.skipTaggedFields('partition');
    }
    if (flexible) c.skipTaggedFields('topic');
  }
  if (flexible) c.skipTaggedFields('request');
  if (c.pos !== frame.length) c.fail(CodecErrorCode.TrailingBytes, `${frame.length - c.pos} bytes follow the end of the request`);
  return { version, transactionalId, acks };
}

/**
 * Calls `visit` for each whole entry in frame[start, end): record batches (magic 2) or, in the
 * message sets of Produce v0-2, messages (magic 0/1; a compressed wrapper counts as one). Like
 * the broker, it stops at a trailing partial entry (the broker drops such a tail) and returns
 * where it stopped: `end`, or the start of that partial entry. Throws CodecError on an entry
 * whose declared length is shorter than any entry, or than a v2 batch header for magic 2.
 */
export function forEachBatch(frame: Buffer, start: number, end: number, visit: (batchStart: number, batchEnd: number, magic: number) => void): number {
  if (start < 0 || start > end || end > frame.length) throw new RangeError(`records range [${start}, ${end}) is outside the frame of ${frame.length} bytes`);
  let pos = start;
  while (end - pos >= BATCH_LOG_OVERHEAD) {
    const length = frame.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (length < MIN_ENTRY_LENGTH) {
      throw new CodecError(
        CodecErrorCode.InvalidLength,
        `record batch declares a length of ${length} bytes, less than the ${MIN_ENTRY_LENGTH} of the smallest message`,
        pos + BATCH_LENGTH_OFFSET,
      );
    }
    const batchEnd = pos + BATCH_LOG_OVERHEAD + length;
    if (batchEnd > end) break;
    const magic = frame.readInt8(pos + BATCH_MAGIC_OFFSET);
    if (magic === 2 && length < BATCH_V2_HEADER_SIZE - BATCH_LOG_OVERHEAD) {
      throw new CodecError(
        CodecErrorCode.InvalidLength,
        `magic v2 record batch declares a length of ${length} bytes, less than its ${BATCH_V2_HEADER_SIZE - BATCH_LOG_OVERHEAD}-byte header`,
        pos + BATCH_LENGTH_OFFSET,
      );
    }
    visit(pos, batchEnd, magic);
    pos = batchEnd;
  }
  return pos;
}

/** Magic of the batch at batchStart, checking that a v2 header would fit in the frame. */
function batchMagic(frame: Buffer, batchStart: number): number {
  if (batchStart < 0 || batchStart + BATCH_MAGIC_OFFSET >= frame.length) {
    throw new CodecError(CodecErrorCode.Truncated, `no record batch header at byte ${batchStart} of a ${frame.length}-byte frame`, batchStart);
  }
  const magic = frame.readInt8(batchStart + BATCH_MAGIC_OFFSET);
  if (magic >= 2 && batchStart + BATCH_V2_HEADER_SIZE > frame.length) {
    throw new CodecError(CodecErrorCode.Truncated, `the frame ends inside the record batch header at byte ${batchStart}`, batchStart);
  }
  return magic;
}

/** Producer id of a batch; -1 (no producer id) for magic 0/1 messages, which carry none. */
export function batchProducerId(frame: Buffer, batchStart: number): bigint {
  if (batchMagic(frame, batchStart) < 2) return -1n;
  return frame.readBigInt64BE(batchStart + BATCH_PRODUCER_ID_OFFSET);
}

/** Whether a batch belongs to a transaction (attributes bit 4); never for magic 0/1 messages. */
export function isTransactionalBatch(frame: Buffer, batchStart: number): boolean {
  if (batchMagic(frame, batchStart) < 2) return false;
  return (frame.readInt16BE(batchStart + BATCH_ATTRIBUTES_OFFSET) & BATCH_TRANSACTIONAL_FLAG) !== 0;
}

// ProduceTopicScanner: the same walk as a state machine fed one piece at a time. It reads one
// primitive at a time (an int, a varint, bytes to skip, a name to keep); when it completes,
// step() decides the next one from where in the request it is.

/** The primitive being read. */
const Read = { Int: 0, Varint: 1, Skip: 2, Name: 3 } as const;

/** Where in the request the scanner is: the field being read. */
const At = {
  SizePrefix: 0,
  ApiKey: 1,
  ApiVersion: 2,
  CorrelationId: 3,
  ClientIdLength: 4,
  ClientId: 5,
  TransactionalIdLength: 6,
  TransactionalId: 7,
  Acks: 8,
  TimeoutMs: 9,
  TopicCount: 10,
  TopicNameLength: 11,
  TopicName: 12,
  TopicId: 13,
  PartitionCount: 14,
  PartitionIndex: 15,
  RecordsLength: 16,
  Records: 17,
  TagCount: 18,
  TagKey: 19,
  TagSize: 20,
  TagValue: 21,
  End: 22,
} as const;
const FIELD_NAMES = [
  'size prefix',
  'api key',
  'api version',
  'correlation id',
  'client id length',
  'client id',
  'transactional id length',
  'transactional id',
  'acks',
  'timeout',
  'topic count',
  'topic name length',
  'topic name',
  'topic id',
  'partition count',
  'partition index',
  'records length',
  'records',
  'tagged field count',
  'tagged field tag',
  'tagged field size',
  'tagged field',
  'end',
];

/** Which struct a run of tagged fields ends. */
const TagsOf = { Header: 0, Partition: 1, Topic: 2, Request: 3 } as const;

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8', start, end) : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/**
 * Reports the topics of ONE Produce request frame fed in consecutive pieces, from its size prefix
 * on, however the pieces split it. Records are skipped without being looked at. A malformed
 * frame never throws: the scanner sets `failed` and `reason` and reports nothing more (the broker
 * rejects such a frame anyway), but still counts bytes so that `done` becomes true once the
 * declared size has been consumed. Bytes pushed after that are ignored: they are not this frame's.
 * v13+ requests carry topic ids instead of names; those go to `onTopicId`, when given.
 */
export class ProduceTopicScanner {
  /** The frame's declared size has been consumed. */
  done = false;
  /** The frame is malformed; nothing more is reported. */
  failed = false;
  reason: string | null = null;
  version: number | null = null;
  acks: number | null = null;

  private readonly onTopic: (name: string) => void;
  private readonly onTopicId: ((topicId: Buffer) => void) | undefined;
  private at: number = At.SizePrefix;
  private read: number = Read.Int;
  /** Bytes still to read of the current Int, Skip or Name; for a Varint, its next digit's weight. */
  private need = 4;
  private width = 4;
  private value = 0;
  /** Bytes of the frame not yet consumed (of the size prefix, until it is read). */
  private left = 4;
  private sized = false;
  private flexible = false;
  private topicsLeft = 0;
  private partitionsLeft = 0;
  private tagsLeft = 0;
  private tagsOf: number = TagsOf.Header;
  /** A name split between pieces is gathered here. */
  private scratch: Buffer | null = null;
  private gathered = 0;
  private nameLength = 0;

  constructor(onTopic: (name: string) => void, onTopicId?: (topicId: Buffer) => void) {
    this.onTopic = onTopic;
    this.onTopicId = onTopicId;
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    const pos = this.failed ? 0 : this.scan(chunk);
    if (this.failed && this.sized && !this.done) {
      this.left -= Math.min(chunk.length - pos, this.left);
      if (this.left === 0) this.done = true;
    }
  }

  /** Makes the scanner ready for the next frame (keeping its callbacks and name buffer). */
  reset(): void {
    this.done = false;
    this.failed = false;
    this.reason = null;
    this.version = null;
    this.acks = null;
    this.left = 4;
    this.sized = false;
    this.flexible = false;
    this.readInt(At.SizePrefix, 4);
  }

  /** Reads from `chunk` until it runs out, the frame ends or a field is malformed; returns where it stopped. */
  private scan(chunk: Uint8Array): number {
    let pos = 0;
    for (;;) {
      if (this.at === At.End) {
        if (this.left === 0) this.done = true;
        else this.fail(`${this.left} bytes follow the end of the request`);
        return pos;
      }
      if (this.need === 0 && this.read === Read.Skip) {
        this.step(0);
        continue;
      }
      if (this.left === 0) {
        this.fail(`the frame ends inside the ${FIELD_NAMES[this.at]}`);
        return pos;
      }
      if (pos === chunk.length) return pos;
      switch (this.read) {
        case Read.Int:
          if (this.need === 4 && chunk.length - pos >= 4 && this.left >= 4) {
            // The usual case: a whole int32 (a count or records length) within the piece.
            const v = (chunk[pos] << 24) | (chunk[pos + 1] << 16) | (chunk[pos + 2] << 8) | chunk[pos + 3];
            pos += 4;
            this.left -= 4;
            this.need = 0;
            this.step(v);
            break;
          }
          this.value = this.value * 256 + chunk[pos++];
          this.left--;
          if (--this.need === 0) this.step(this.width === 2 ? (this.value << 16) >> 16 : this.value | 0);
          break;
        case Read.Varint: {
          const b = chunk[pos++];
          this.left--;
          this.value += (b & 0x7f) * this.need;
          if ((b & 0x80) === 0) this.step(this.value);
          else if (this.need === 2 ** 28) this.fail(`the ${FIELD_NAMES[this.at]} is a varint longer than 5 bytes`);
          else this.need *= 128;
          break;
        }
        case Read.Skip: {
          const k = Math.min(chunk.length - pos, this.left, this.need);
          pos += k;
          this.left -= k;
          this.need -= k;
          break;
        }
        default: {
          const k = Math.min(chunk.length - pos, this.left, this.need);
          if (k === this.nameLength) {
            this.need = 0;
            this.gotName(chunk, pos, pos + k);
          } else {
            if (this.scratch === null || this.scratch.length < this.nameLength) this.scratch = Buffer.alloc(Math.max(this.nameLength, 64));
            const scratch = this.scratch;
            scratch.set(chunk.subarray(pos, pos + k), this.gathered);
            this.gathered += k;
            this.need -= k;
            if (this.need === 0) this.gotName(scratch, 0, this.nameLength);
          }
          pos += k;
          this.left -= k;
        }
      }
      if (this.failed) return pos;
    }
  }

  private fail(reason: string): void {
    this.failed = true;
    this.reason = this.version === null ? `Produce request: ${reason}` : `Produce v${this.version} request: ${reason}`;
  }

  private readInt(at: number, width: number): void {
    this.at = at;
    this.read = Read.Int;
    this.need = width;
    this.width = width;
    this.value = 0;
  }

  private readVarint(at: number): void {
    this.at = at;
    this.read = Read.Varint;
    this.need = 1;
    this.value = 0;
  }

  private skip(at: number, n: number): void {
    this.at = at;
    this.read = Read.Skip;
    this.need = n;
  }

  /** A string length (int16) or a records length / array count (int32), compact when flexible. */
  private readLength(at: number, width: number): void {
    if (this.flexible) this.readVarint(at);
    else this.readInt(at, width);
  }

  private readName(at: number, n: number): void {
    this.at = at;
    this.read = Read.Name;
    this.need = n;
    this.nameLength = n;
    this.gathered = 0;
  }

  /** A length read as `raw`, as a byte count (-1 for null); undefined, having failed, when invalid. */
  private length(raw: number, nullable: boolean, limit: number): number | undefined {
    const n = this.flexible ? raw - 1 : raw;
    const what = FIELD_NAMES[this.at];
    if (n === -1 && nullable) return -1;
    if (n < 0) this.fail(`the ${what} is ${n}`);
    else if (n > this.left) this.fail(`the ${what} ${n} exceeds the ${this.left} bytes left in the frame`);
    else if (n > limit) this.fail(`the ${what} ${n} exceeds Kafka's limit of ${limit}`);
    else return n;
    return undefined;
  }

  private gotName(bytes: Uint8Array, start: number, end: number): void {
    if (this.at === At.TopicName) {
      const name = utf8(bytes, start, end);
      this.readLength(At.PartitionCount, 4);
      this.onTopic(name);
    } else {
      const topicId = Buffer.from(bytes.subarray(start, end));
      this.readLength(At.PartitionCount, 4);
      this.onTopicId?.(topicId);
    }
  }

  /** The field `this.at` has been read as `v`: check it and set up the next read. */
  private step(v: number): void {
    switch (this.at) {
      case At.SizePrefix:
        if (v < 0) return this.fail(`negative size prefix ${v}`);
        this.left = v;
        this.sized = true;
        return this.readInt(At.ApiKey, 2);
      case At.ApiKey:
        if (v !== ApiKey.Produce) return this.fail(`api key ${v} is not Produce (${ApiKey.Produce})`);
        return this.readInt(At.ApiVersion, 2);
      case At.ApiVersion:
        if (v < PRODUCE_SCAN_MIN_VERSION || v > PRODUCE_SCAN_MAX_VERSION) {
          return this.fail(`Produce v${v} is not supported (versions ${PRODUCE_SCAN_MIN_VERSION}-${PRODUCE_SCAN_MAX_VERSION})`);
        }
        this.version = v;
        return this.skip(At.CorrelationId, 4);
      case At.CorrelationId:
        return this.readInt(At.ClientIdLength, 2); // never compact, even in header v2
      case At.ClientIdLength:
        if (v < -1) return this.fail(`the client id length is ${v}`);
        if (v > this.left) return this.fail(`the client id length ${v} exceeds the ${this.left} bytes left in the frame`);
        return this.skip(At.ClientId, Math.max(v, 0));
      case At.ClientId:
        this.flexible = this.version! >= FIRST_FLEXIBLE_VERSION;
        return this.flexible ? this.tags(TagsOf.Header) : this.body();
      case At.TransactionalIdLength: {
        const n = this.length(v, true, MAX_STRING_LENGTH);
        return n === undefined ? undefined : this.skip(At.TransactionalId, Math.max(n, 0));
      }
      case At.TransactionalId:
        return this.readInt(At.Acks, 2);
      case At.Acks:
        this.acks = v;
        return this.skip(At.TimeoutMs, 4);
      case At.TimeoutMs:
        return this.readLength(At.TopicCount, 4);
      case At.TopicCount: {
        const n = this.length(v, false, this.left);
        if (n === undefined) return;
        this.topicsLeft = n;
        return this.nextTopic();
      }
      case At.TopicNameLength: {
        const n = this.length(v, false, MAX_STRING_LENGTH);
        if (n === undefined) return;
        if (n > 0) return this.readName(At.TopicName, n);
        this.readLength(At.PartitionCount, 4);
        return this.onTopic('');
      }
      case At.TopicId: // skipped: nobody asked for ids
        return this.readLength(At.PartitionCount, 4);
      case At.PartitionCount: {
        const n = this.length(v, false, this.left);
        if (n === undefined) return;
        this.partitionsLeft = n;
        return this.nextPartition();
      }
      case At.PartitionIndex:
        return this.readLength(At.RecordsLength, 4);
      case At.RecordsLength: {
        const n = this.length(v, true, this.left);
        return n === undefined ? undefined : this.skip(At.Records, Math.max(n, 0));
      }
      case At.Records:
        return this.flexible ? this.tags(TagsOf.Partition) : this.nextPartition();
      case At.TagCount:
        if (v > this.left) return this.fail(`${v} tagged fields exceed the ${this.left} bytes left in the frame`);
        this.tagsLeft = v;
        return this.nextTag();
      case At.TagKey:
        return this.readVarint(At.TagSize);
      case At.TagSize:
        if (v > this.left) return this.fail(`a tagged field of ${v} bytes exceeds the ${this.left} bytes left in the frame`);
        return this.skip(At.TagValue, v);
      case At.TagValue:
        this.tagsLeft--;
        return this.nextTag();
    }
  }

  private body(): void {
    if (this.version! >= FIRST_TRANSACTIONAL_ID_VERSION) this.readLength(At.TransactionalIdLength, 2);
    else this.readInt(At.Acks, 2);
  }

  private nextTopic(): void {
    if (this.topicsLeft === 0) {
      if (this.flexible) this.tags(TagsOf.Request);
      else this.at = At.End;
      return;
    }
    this.topicsLeft--;
    if (this.version! < FIRST_TOPIC_ID_VERSION) this.readLength(At.TopicNameLength, 2);
    else if (this.onTopicId === undefined) this.skip(At.TopicId, TOPIC_ID_LENGTH);
    else this.readName(At.TopicId, TOPIC_ID_LENGTH);
  }

  private nextPartition(): void {
    if (this.partitionsLeft === 0) {
      if (this.flexible) this.tags(TagsOf.Topic);
      else this.nextTopic();
      return;
    }
    this.partitionsLeft--;
    this.skip(At.PartitionIndex, 4);
  }

  private tags(of: number): void {
    this.tagsOf = of;
    this.readVarint(At.TagCount);
  }

  private nextTag(): void {
    if (this.tagsLeft > 0) return this.readVarint(At.TagKey);
    switch (this.tagsOf) {
      case TagsOf.Header:
        return this.body();
      case TagsOf.Partition:
        return this.nextPartition();
      case TagsOf.Topic:
        return this.nextTopic();
      default:
        this.at = At.End;
    }
  }
}

/** The last request produceTopicNames read, and what it found. */
let namesOf: { frame: Buffer; names: readonly string[] | null } | null = null;

/**
 * The topic names (v0-12; topic ids are left out) of an assembled Produce request, or null when
 * it is malformed. Several filters ask about the same request one after the other (protected
 * topics, topics in use): it is read once, and the answer kept for that frame until the next.
 */
export function produceTopicNames(frame: Buffer): readonly string[] | null {
  if (namesOf !== null && namesOf.frame === frame) return namesOf.names;
  let names: string[] | null = [];
  try {
    scanProduceRequest(frame, {
      topic: (name) => {
        if (name !== null && name !== '') names!.push(name);
      },
    });
  } catch {
    names = null;
  }
  namesOf = { frame, names };
  return names;
}
