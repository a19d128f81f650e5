// Writer of Kafka's primitive types. Small values go into a growing scratch buffer; large
// byte blocks (record batches above all) are kept as references to the caller's memory and
// emitted as separate chunks, so re-encoding a Fetch response does not copy its records.
import type { RawTaggedField } from './reader.ts';

/** Byte blocks at least this large are referenced, not copied. */
const REFERENCE_THRESHOLD = 1024;

export class Writer {
  private chunks: Uint8Array[] = [];
  private buf: Buffer;
  private pos = 0;
  /** Bytes in `chunks` (already finished). */
  private flushed = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.flushed + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uuid(v: string): void {
    this.ensure(16);
    const n = this.buf.write(v, this.pos, 16, 'base64url');
    if (n !== 16) throw new RangeError(`invalid uuid ${JSON.stringify(v)}: expected 22 base64url characters`);
    this.pos += 16;
  }

  uvarint(v: number): void {
    this.ensure(5);
    let u = v >>> 0;
    while (u >= 0x80) {
      this.buf[this.pos++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    this.buf[this.pos++] = u;
  }

  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  varlong(v: bigint): void {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  private lengthPrefix(n: number, compact: boolean, isString: boolean): void {
    if (compact) this.uvarint(n + 1);
    else if (isString) this.int16(n);
    else this.int32(n);
  }

  string(v: string, compact: boolean): void {
    const n = Buffer.byteLength(v, 'utf8');
    this.lengthPrefix(n, compact, true);
    this.ensure(n);
    this.buf.write(v, this.pos, n, 'utf8');
    this.pos += n;
  }

  nullableString(v: string | null, compact: boolean): void {
    if (v === null) this.lengthPrefix(-1, compact, true);
    else this.string(v, compact);
  }

  bytes(v: Uint8Array, compact: boolean): void {
    this.lengthPrefix(v.length, compact, false);
    this.raw(v);
  }

  nullableBytes(v: Uint8Array | null, compact: boolean): void {
    if (v === null) this.lengthPrefix(-1, compact, false);
    else this.bytes(v, compact);
  }

  records(v: Uint8Array | null, compact: boolean): void {
    this.nullableBytes(v, compact);
  }

  arrayLength(n: number, compact: boolean): void {
    if (compact) this.uvarint(n + 1);
    else this.int32(n);
  }

  raw(v: Uint8Array): void {
    if (v.length >= REFERENCE_THRESHOLD) {
      this.cut();
      this.chunks.push(v);
      this.flushed += v.length;
      return;
    }
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Moves the scratch buffer's contents into the chunk list. */
  private cut(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.flushed += this.pos;
    this.buf = Buffer.allocUnsafe(Math.max(256, this.buf.length - this.pos));
    this.pos = 0;
  }

  /** Writes a tagged field whose value is produced by `write` into a scratch writer (its size must come first). */
  tagged(tag: number, write: (w: Writer) => void): void {
    const inner = new Writer(64);
    write(inner);
    this.uvarint(tag);
    this.uvarint(inner.length);
    for (const c of inner.finish()) this.raw(c);
  }

  /** Writes the unknown tagged fields with tags below `limit`, from index `from`; returns the next index. */
  rawTags(fields: RawTaggedField[] | undefined, from: number, limit: number): number {
    if (fields === undefined) return from;
    let i = from;
    while (i < fields.length && fields[i].tag < limit) {
      const f = fields[i++];
      this.uvarint(f.tag);
      this.uvarint(f.data.length);
      this.raw(f.data);
    }
    return i;
  }

  /** The written bytes as a list of chunks (no copy of referenced blocks). */
  finish(): Uint8Array[] {
    this.cut();
    const out = this.chunks;
    this.chunks = [];
    this.flushed = 0;
    return out;
  }

  /** The written bytes as one contiguous buffer. */
  toBuffer(): Buffer {
    const chunks = this.finish();
    if (chunks.length === 1) return chunks[0] as Buffer;
    return Buffer.concat(chunks);
  }
}
