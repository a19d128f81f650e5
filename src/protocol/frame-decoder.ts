// Splits a TCP byte stream into Kafka frames (a 4-byte big-endian size, then that many bytes).
// Chunks are kept in a list rather than concatenated: a frame that lies inside one chunk is
// returned as a view (no copy); only a frame that spans chunks is copied, into a buffer of
// exactly its size. A size prefix above the maximum fails before anything is allocated.
//
// For cut-through forwarding, a caller may instead take the bytes of an incomplete frame as they
// are (takeBuffered) and pass the rest of that frame on as it arrives, without assembling it.
import { CodecError, CodecErrorCode } from './errors.ts';

export const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024;

export class FrameDecoder {
  private readonly maxFrameSize: number;
  private chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  /** Unread bytes over all chunks. */
  private buffered = 0;

  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * Copies the unread part of the last pushed chunk, for a caller whose chunks are views of a
   * read buffer it reuses: call after each read's frames are taken (earlier chunks were copied
   * by earlier calls).
   */
  retainLast(): void {
    const last = this.chunks.length - 1;
    if (last < 0) return;
    const start = last === 0 ? this.offset : 0;
    this.chunks[last] = Buffer.from(this.chunks[last].subarray(start));
    if (last === 0) this.offset = 0;
  }

  /**
   * The 32-bit big-endian integer `at` bytes past the read position, or null when fewer than
   * at + 4 bytes are buffered (a frame's size at 0, a response's correlation id at 4).
   */
  peekInt32(at: number): number | null {
    if (this.buffered < at + 4) return null;
    const first = this.chunks[0];
    if (first.length - this.offset >= at + 4) return first.readInt32BE(this.offset + at);
    return (this.byteAt(at) << 24) | (this.byteAt(at + 1) << 16) | (this.byteAt(at + 2) << 8) | this.byteAt(at + 3);
  }

  /**
   * The first `max` buffered bytes (fewer if fewer are buffered): a view when they lie in one
   * chunk, else a copy. For peeking at the header of a frame that is not complete yet.
   */
  head(max: number): Buffer {
    const n = Math.min(max, this.buffered);
    const first = this.chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let offset = this.offset;
    for (const c of this.chunks) {
      const k = Math.min(c.length - offset, n - filled);
      c.copy(out, filled, offset, offset + k);
      filled += k;
      offset = 0;
      if (filled === n) break;
    }
    return out;
  }

  /**
   * Hands over every buffered byte, as views of the chunks they arrived in, and empties the
   * decoder. Only for the start of a frame that next() found incomplete: the caller forwards
   * these bytes and then the frame's remaining size - bufferedBytes bytes as they arrive.
   */
  takeBuffered(): Buffer[] {
    const out = this.chunks;
    if (out.length > 0 && this.offset > 0) out[0] = out[0].subarray(this.offset);
    this.chunks = [];
    this.offset = 0;
    this.buffered = 0;
    return out;
  }

  /** The byte at `i` bytes past the read position (i < buffered). */
  private byteAt(i: number): number {
    let k = this.offset + i;
    for (const c of this.chunks) {
      if (k < c.length) return c[k];
      k -= c.length;
    }
    throw new CodecError(CodecErrorCode.Internal, 'byteAt past the buffered bytes');
  }

  /**
   * The next complete frame, size prefix included, or null when more bytes are needed.
   * Throws CodecError(FrameTooLarge) when the size prefix is above the maximum, InvalidLength when
   * it is negative;
   * the stream cannot be resynchronised after that, so the connection should be closed.
   */
  next(): Buffer | null {
    const size = this.peekInt32(0);
    if (size === null) return null;
    if (size < 0) {
      throw new CodecError(CodecErrorCode.InvalidLength, `negative frame size ${size}; garbage bytes or a non-Kafka client?`);
    }
    if (size > this.maxFrameSize) {
      throw new CodecError(
        CodecErrorCode.FrameTooLarge,
        `frame size ${size} is outside 0..${this.maxFrameSize} (max.frame.size); garbage bytes or a non-Kafka client?`,
      );
    }
    const total = size + 4;
    if (this.buffered < total) return null;
    const frame = this.head(total);
    this.skip(total);
    return frame;
  }

  /** Drops the next `n` buffered bytes (n <= buffered). */
  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const left = this.chunks[0].length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
