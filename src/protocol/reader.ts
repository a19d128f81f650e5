// Bounds-checked reader of Kafka's primitive types over one buffer. Every read checks the
// bytes left first, so malformed input fails with a CodecError instead of a RangeError, and
// no length or count taken from the wire can make it allocate more than the buffer holds.
import { CodecError, CodecErrorCode } from './errors.ts';

/** A tagged field this codec does not know, kept as raw bytes so it is re-encoded unchanged. */
export interface RawTaggedField {
  tag: number;
  data: Uint8Array;
}

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
export const EMPTY_BYTES: Uint8Array = Buffer.alloc(0);

export class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) {
      throw new CodecError(CodecErrorCode.Truncated, `needed ${n} bytes but only ${this.end - this.pos} remain`, this.pos);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  uuid(): string {
    this.need(16);
    const s = this.buf.toString('base64url', this.pos, this.pos + 16);
    this.pos += 16;
    return s;
  }

  /** Unsigned varint of at most 32 bits (5 bytes), as used for compact lengths and tags. */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    throw new CodecError(CodecErrorCode.VarintTooLong, 'unsigned varint longer than 5 bytes', this.pos);
  }

  /** Signed zig-zag varint of at most 32 bits. */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Signed zig-zag varlong of at most 64 bits (10 bytes). */
  varlong(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (result >> 1n) ^ -(result & 1n);
      shift += 7n;
    }
    throw new CodecError(CodecErrorCode.VarintTooLong, 'varlong longer than 10 bytes', this.pos);
  }

  /** Length of a string, bytes or records field: -1 means null. */
  private length(compact: boolean, what: string): number {
    const at = this.pos;
    const n = compact ? this.uvarint() - 1 : what === 'string' ? this.int16() : this.int32();
    if (n < -1) throw new CodecError(CodecErrorCode.InvalidLength, `negative ${what} length ${n}`, at);
    if (n > this.end - this.pos) {
      throw new CodecError(CodecErrorCode.InvalidLength, `${what} length ${n} exceeds the ${this.end - this.pos} bytes left`, at);
    }
    return n;
  }

  private nullError(what: string): CodecError {
    return new CodecError(CodecErrorCode.UnexpectedNull, `${what} is null but the field is not nullable in this version`, this.pos);
  }

  string(compact: boolean): string {
    const n = this.length(compact, 'string');
    if (n < 0) throw this.nullError('string');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  nullableString(compact: boolean): string | null {
    const n = this.length(compact, 'string');
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Bytes are returned as a view into the frame, not a copy. */
  bytes(compact: boolean): Uint8Array {
    const n = this.length(compact, 'bytes');
    if (n < 0) throw this.nullError('bytes');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  nullableBytes(compact: boolean): Uint8Array | null {
    const n = this.length(compact, 'bytes');
    if (n < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Record batches stay opaque: a view into the frame. */
  records(compact: boolean): Uint8Array | null {
    return this.nullableBytes(compact);
  }

  /**
   * Element count of an array: -1 means null. A count larger than the bytes left is rejected
   * before anything is allocated (every element takes at least one byte on the wire, except
   * empty structs, which this bound still limits to the frame's size).
   */
  arrayLength(compact: boolean, nullable: boolean): number {
    const at = this.pos;
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < 0) {
      if (n === -1 && nullable) return -1;
      if (n === -1) throw this.nullError('array');
      throw new CodecError(CodecErrorCode.InvalidLength, `negative array length ${n}`, at);
    }
    if (n > this.end - this.pos) {
      throw new CodecError(CodecErrorCode.InvalidLength, `array of ${n} elements exceeds the ${this.end - this.pos} bytes left`, at);
    }
    return n;
  }

  /** Reads `n` raw bytes as a view. */
  raw(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Start of one tagged field's value: returns where the value must end. */
  taggedFieldEnd(): number {
    const at = this.pos;
    const size = this.uvarint();
    if (size > this.end - this.pos) {
      throw new CodecError(CodecErrorCode.InvalidTaggedField, `tagged field size ${size} exceeds the ${this.end - this.pos} bytes left`, at);
    }
    return this.pos + size;
  }

  /** Checks that a known tagged field's value used exactly its declared size. */
  checkTaggedFieldEnd(end: number, tag: number): void {
    if (this.pos !== end) {
      throw new CodecError(
        CodecErrorCode.InvalidTaggedField,
        `tagged field ${tag}: declared size does not match its value (value ends ${this.pos - end} bytes from the declared end)`,
        this.pos,
      );
    }
  }

  /** Count of tagged fields, bounded by the bytes left (each takes at least two bytes). */
  taggedFieldCount(): number {
    const at = this.pos;
    const n = this.uvarint();
    if (n > this.end - this.pos) {
      throw new CodecError(CodecErrorCode.InvalidLength, `${n} tagged fields exceed the ${this.end - this.pos} bytes left`, at);
    }
    return n;
  }
}
