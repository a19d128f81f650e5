// Socket reads into reused buffers. By default Node hands every read over as a new ArrayBuffer;
// at gateway rates that external-memory churn makes V8 run full mark-compact collections every
// ~20 MB, each pausing every connection. With net.Socket's `onread`, a socket reads into a buffer
// we give it, and after each read asks for the buffer of the next read.
//
// A ReadBuffer keeps handing out the same buffer while the bytes read into it have been passed
// on. When some are still queued on the other socket (its writes referencing views of the
// buffer), it is lent: the next read goes into another buffer from a per-process pool, and the
// lent one returns to the pool once that socket has written everything queued before.
//
// net.Server constructs accepted sockets itself, without `onread`. So servers are made with
// pauseOnConnect, and adoptReadingInto moves the accepted socket's handle, before it has read
// anything, into a new Socket made with `onread`; the first Socket, left without a handle, is
// destroyed (which only settles the server's connection count). That uses the undocumented but
// long-stable `_handle`; where it is missing, the socket is used as it is, with 'data' events.
import { Socket } from 'node:net';
import type { ReadInto } from '../upstream/connect.ts';

/** libuv's default read size. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Free buffers kept for reuse, per process (16 MiB); more are left to the garbage collector. */
const POOL_KEEP = 256;
const NO_BYTES = Buffer.alloc(0);
const free: Buffer[] = [];

function take(): Buffer {
  return free.pop() ?? Buffer.allocUnsafe(READ_BUFFER_BYTES);
}

function give(buffer: Buffer): void {
  if (free.length < POOL_KEEP) free.push(buffer);
}

export class ReadBuffer {
  private current: Buffer = take();

  /** The `onread` option for a socket reading into this buffer. */
  readInto(callback: (bytes: number, buffer: Buffer) => boolean): ReadInto {
    return { buffer: () => this.current, callback };
  }

  /** Bytes of the last read may still be queued on `sink`: read into another buffer from now on. */
  lend(sink: Socket): void {
    const lent = this.current;
    this.current = take();
    // An empty write completes after every write queued before it.
    sink.write(NO_BYTES, () => give(lent));
  }
}

interface WithHandle {
  _handle: { readStart?: unknown } | null;
}

/** The accepted, paused socket re-made to read as `readInto` says, or null if it cannot be. */
export function adoptReadingInto(accepted: Socket, readInto: ReadInto): Socket | null {
  const old = accepted as unknown as WithHandle;
  const handle = old._handle;
  if (handle === null || typeof handle?.readStart !== 'function') return null;
  old._handle = null;
  accepted.destroy();
  return new Socket({ handle: handle as never, onread: readInto, readable: true, writable: true });
}
