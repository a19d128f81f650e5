// Readiness probe: one Metadata request (v4, which every Kafka from 1.0 to 4.x accepts) on a raw
// socket. It answers "does this broker serve requests, and which brokers does it know?" in a few
// milliseconds, where a Java admin tool would take a second just to start its JVM.
// Hand-written on purpose: the test bed must not depend on the protocol codec it helps to test.
import { connect } from 'node:net';

export interface ProbedBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface MetadataSnapshot {
  readonly brokers: readonly ProbedBroker[];
  readonly clusterId: string | null;
  readonly controllerId: number;
}

const API_KEY_METADATA = 3;
const API_VERSION = 4;
const CLIENT_ID = 'turnout-testbed-probe';

function metadataRequest(correlationId: number): Buffer {
  const clientId = Buffer.from(CLIENT_ID);
  // header v1: api key, api version, correlation id, client id; body v4: topics=[] (none),
  // allow_auto_topic_creation=false. An empty topic array asks for brokers and cluster only.
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(API_KEY_METADATA, o);
  o = body.writeInt16BE(API_VERSION, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(0, o);
  body.writeInt8(0, o);
  const frame = Buffer.alloc(4);
  frame.writeInt32BE(body.length);
  return Buffer.concat([frame, body]);
}

function parseMetadataResponse(payload: Buffer): MetadataSnapshot {
  let o = 4 + 4; // correlation id, throttle_time_ms
  const readString = (): string | null => {
    const len = payload.readInt16BE(o);
    o += 2;
    if (len < 0) return null;
    const s = payload.toString('utf8', o, o + len);
    o += len;
    return s;
  };
  const count = payload.readInt32BE(o);
  o += 4;
  const brokers: ProbedBroker[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = payload.readInt32BE(o);
    o += 4;
    const host = readString() ?? '';
    const port = payload.readInt32BE(o);
    o += 4;
    readString(); // rack
    brokers.push({ nodeId, host, port });
  }
  const clusterId = readString();
  const controllerId = payload.readInt32BE(o);
  return { brokers, clusterId, controllerId };
}

/** Sends one Metadata request to host:port; rejects on any connection or protocol failure. */
export function probeMetadata(host: string, port: number, timeoutMs = 2000): Promise<MetadataSnapshot> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no Metadata response from ${host}:${port} within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(metadataRequest(1)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      socket.destroy();
      try {
        resolve(parseMetadataResponse(received.subarray(4, 4 + received.readInt32BE(0))));
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.once('end', () => fail(new Error(`${host}:${port} closed the connection before answering Metadata`)));
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
