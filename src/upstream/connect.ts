// Opening a TCP connection to an upstream broker with a deadline; failures are UpstreamErrors
// that name the address (never credentials).
import { connect, type Socket } from 'node:net';
import { formatHostPort } from '../config/endpoints.ts';
import type { HostPort } from '../config/types.ts';
import { UpstreamError, UpstreamErrorCode } from './errors.ts';

/**
 * Reads into one caller-owned buffer instead of a new one per read (net.Socket's `onread`): the
 * callback gets the byte count; returning false pauses the socket until resume().
 */
export interface ReadInto {
  /** The buffer, or a function giving the buffer of each next read. */
  buffer: Buffer | (() => Buffer);
  callback: (bytes: number, buffer: Buffer) => boolean;
}

export function connectUpstream(address: HostPort, timeoutMs: number, readInto?: ReadInto): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, ...(readInto === undefined ? {} : { onread: readInto }) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError(UpstreamErrorCode.Timeout, `could not connect to ${formatHostPort(address)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new UpstreamError(UpstreamErrorCode.Unreachable, `could not connect to ${formatHostPort(address)}: ${err.message}`, { cause: err }));
    });
  });
}
