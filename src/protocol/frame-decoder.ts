// Splits a TCP byte stream into Kafka frames (a 4-byte big-endian size, then that many bytes).
// Chunks are kept in a list rather than concatenated: a frame that lies inside one chunk is
// returned as a view (no copy); only a frame that spans chunks is copied, into a buffer of
// exactly its size. A size prefix above the maximum fails before anything is allocated.
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

  /** The byte at `i` bytes past the read position (i < buffered). */
  private byteAt(i: number): number {
    let k = this.offset + i;
    for (const c of this.chunks) {
      if (k < c.length) return c[k];
      k -= c.length;
    }
    throw new Error('unreachable: byteAt past the buffered bytes');
  }

  /**
   * The next complete frame, size prefix included, or null when more bytes are needed.
   * Throws CodecError(FrameTooLarge) when the size prefix is above the maximum, InvalidLength when
   * it is negative;
   * the stream cannot be resynchronised after that, so the connection should be closed.
   */
  next(): Buffer | null {
    if (this.buffered < 4) return null;
    const first = this.chunks[0];
    const size = first.length - this.offset >= 4
      ? first.readInt32BE(this.offset)
      : ((this.byteAt(0) << 24) | (this.byteAt(1) << 16) | (this.byteAt(2) << 8) | this.byteAt(3));
    if (size < 0) {
      throw new CodecError(CodecErrorCode.InvalidLength, `negative frame size ${size}; garbage bytes or a non-Kafka client?`);
    }
    if (size > this.maxFrameSize) {
      throw new CodecError(CodecErrorCode.FrameTooLarge, `frame size ${size} is outside 0..${this.maxFrameSize} (max.frame.size); garbage bytes or a non-Kafka client?`);
    }
    const total = size + 4;
    if (this.buffered < total) return null;
    let frame: Buffer;
    if (first.length - this.offset >= total) {
      frame = first.subarray(this.offset, this.offset + total);
      this.offset += total;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    } else {
      frame = Buffer.allocUnsafe(total);
      let filled = 0;
      while (filled < total) {
        const c = this.chunks[0];
        const n = Math.min(c.length - this.offset, total - filled);
        c.copy(frame, filled, this.offset, this.offset + n);
        filled += n;
        this.offset += n;
        if (this.offset === c.length) {
          this.chunks.shift();
          this.offset = 0;
        }
      }
    }
    this.buffered -= total;
    return frame;
  }
}
