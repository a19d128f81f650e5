// Reading an accepted socket into a caller-owned buffer. net.Socket's `onread` option (one
// reusable buffer instead of a new ArrayBuffer per read) exists only where the Socket is
// constructed, and net.Server constructs accepted sockets itself without it. So a server made
// with pauseOnConnect hands over a socket that has not read anything yet; its handle is moved
// into a new Socket made with `onread`, and the first Socket, left without a handle, is
// destroyed (which only settles the server's connection count). This uses the undocumented but
// long-stable `_handle` property; where it is missing the socket is used as it is, with 'data'
// events, and null is returned.
import { Socket } from 'node:net';
import type { ReadInto } from '../upstream/connect.ts';

interface WithHandle {
  _handle: { readStart?: unknown } | null;
}

/** The accepted, paused socket re-made to read into `readInto`, or null if it cannot be. */
export function adoptReadingInto(accepted: Socket, readInto: ReadInto): Socket | null {
  const old = accepted as unknown as WithHandle;
  const handle = old._handle;
  if (handle === null || typeof handle?.readStart !== 'function') return null;
  old._handle = null;
  accepted.destroy();
  const socket = new Socket({ handle: handle as never, onread: readInto, readable: true, writable: true });
  return socket;
}
