// One Kafka request on a raw socket, encoded and decoded with Turnout's codec: how the test bed
// checks readiness in milliseconds (a Java admin tool needs a second just to start its JVM), and
// how tests ask a live broker protocol questions. The codec is checked independently against
// Kafka's own Java classes, so using it here does not make the harness test itself.
import { connect } from 'node:net';
import { decodeResponse, encodeRequest, FrameDecoder } from '../protocol/index.ts';
import { TestBedError, TestBedErrorCode } from './errors.ts';

/** Sends `body` as one request and resolves with the decoded response body; rejects on any failure or after `timeoutMs`. */
export function sendRequest<T extends object>(host: string, port: number, apiKey: number, apiVersion: number, body: object, timeoutMs = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const decoder = new FrameDecoder();
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new TestBedError(TestBedErrorCode.ToolTimeout, `no response from ${host}:${port} within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('end', () => fail(new TestBedError(TestBedErrorCode.ServiceFailed, `${host}:${port} closed the connection before answering`)));
    socket.once('connect', () =>
      socket.write(
        encodeRequest(
          { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId: 1, clientId: 'turnout-testbed', _unknownTaggedFields: undefined },
          body,
        ),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
        const frame = decoder.next();
        if (frame === null) return;
        socket.destroy();
        resolve(decodeResponse<T>(frame, apiKey, apiVersion).body);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
}

/** True when host:port accepts a TCP connection. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
  });
}
