// Sends single requests to a broker over a raw socket with Turnout's codec, for tests that
// check protocol facts against a live broker.
import { connect } from 'node:net';
import { FrameDecoder, decodeResponse, encodeRequest } from '../../src/protocol/index.ts';

export async function roundTrip<T extends object>(host: string, port: number, apiKey: number, apiVersion: number, body: object): Promise<{ body: T; frame: Buffer }> {
  const socket = connect(port, host);
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(encodeRequest({ requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId: 1, clientId: 'turnout-test', _unknownTaggedFields: undefined }, body));
    const decoder = new FrameDecoder();
    const frame = await new Promise<Buffer>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        const f = decoder.next();
        if (f !== null) resolve(f);
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`broker ${host}:${port} closed the connection`)));
    });
    return { body: decodeResponse<T>(frame, apiKey, apiVersion).body, frame };
  } finally {
    socket.destroy();
  }
}
