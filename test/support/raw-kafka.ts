// A Kafka client on a raw socket for tests that need what real clients never do: send garbage or
// half frames, pipeline many requests without reading, hold requests in flight while the gateway
// stops, or speak SASL with the raw tokens of SaslHandshake v0. Requests are encoded and responses
// decoded with Turnout's codec; frames are kept in arrival order.
import { connect, type Socket } from 'node:net';
import {
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultFetchRequestFetchTopic,
  type FetchRequest,
} from '../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../src/protocol/generated/messages/fetch-response.ts';
import { defaultMetadataRequest } from '../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, decodeResponse, encodeRequest, FrameDecoder, peekResponseCorrelationId, ZERO_UUID } from '../../src/protocol/index.ts';
import { sendRequest } from '../../src/testbed/kafka-request.ts';

export interface Address {
  host: string;
  port: number;
}

export function parseAddress(hostPort: string): Address {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}

/** Connects and resolves with the socket, or rejects with the connection error (e.g. ECONNREFUSED). */
export function connectTo(address: Address, timeoutMs = 5000, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, ...(localAddress !== undefined ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection to ${address.host}:${address.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class RawKafkaClient {
  readonly socket: Socket;
  /** Resolves when the peer has closed the connection (or it failed). */
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder(1 << 30);
  private readonly frames: Buffer[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private nextCorrelationId = 1;
  /** Bytes received so far (whole frames and partial ones). */
  bytesReceived = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', () => {}); // surfaces as 'close'
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.decoder.push(chunk);
      for (let f = this.decoder.next(); f !== null; f = this.decoder.next()) this.frames.push(f);
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  /** `localAddress`: the client's own address (another loopback address, 127.0.0.2..., looks like another host). */
  static async connect(address: Address | string, localAddress?: string): Promise<RawKafkaClient> {
    return new RawKafkaClient(await connectTo(typeof address === 'string' ? parseAddress(address) : address, 5000, localAddress));
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Frames received and not yet taken. */
  get pendingFrames(): number {
    return this.frames.length;
  }

  /** Sends one request; returns its correlation id. */
  send(apiKey: number, apiVersion: number, body: object, clientId: string = 'turnout-test'): number {
    const correlationId = this.nextCorrelationId++;
    this.socket.write(encodeRequest({ requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId, _unknownTaggedFields: undefined }, body));
    return correlationId;
  }

  sendBytes(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next frame (size prefix included); rejects when the connection closes first or after `timeoutMs`. */
  async frame(timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error('the connection was closed before a frame arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.frames.shift()!;
  }

  /** Reads the response to `correlationId` (the next frame) and decodes it. */
  async response<T extends object>(correlationId: number, apiKey: number, apiVersion: number, timeoutMs = 10_000): Promise<T> {
    const frame = await this.frame(timeoutMs);
    const got = peekResponseCorrelationId(frame);
    if (got !== correlationId) throw new Error(`expected the response to correlation id ${correlationId}, got ${got}`);
    return decodeResponse<T>(frame, apiKey, apiVersion).body;
  }

  async request<T extends object>(apiKey: number, apiVersion: number, body: object, timeoutMs = 10_000): Promise<T> {
    return this.response<T>(this.send(apiKey, apiVersion, body), apiKey, apiVersion, timeoutMs);
  }

  /** Resolves true when the peer closes the connection within `timeoutMs`, false otherwise. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.closed.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A size-prefixed frame around `payload` (raw SASL tokens, hand-made headers). */
export function sizePrefixed(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/** Fetches the Prometheus text of the admin listener. */
export async function scrapeMetrics(adminUrl: string): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`);
  return res.text();
}

/** Sum of the samples of `name` in a Prometheus text whose labels all match (0 when none). */
export function metricValue(text: string, name: string, labels: Record<string, string | RegExp> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const have = new Map<string, string>();
    for (const pair of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1], pair[2]);
    if (Object.entries(labels).every(([k, v]) => (typeof v === 'string' ? have.get(k) === v : v.test(have.get(k) ?? '')))) total += Number(m[2]);
  }
  return total;
}

/** Polls `check` every 20 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Fetch v12 of partition 0 of `topic` (topic names, no session, opaque through the gateway). */
export function fetchRequest(topic: string, fetchOffset: bigint, options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {}): FetchRequest {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  return {
    ...defaultFetchRequest(),
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes,
    topics: [
      {
        ...defaultFetchRequestFetchTopic(),
        topic,
        partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset, partitionMaxBytes: maxBytes }],
      },
    ],
  };
}

/** A Fetch that the broker holds for `maxWaitMs`: it waits for a megabyte at the end of the log. */
export function longPollFetch(topic: string, maxWaitMs: number, fromOffset = 0n): FetchRequest {
  return fetchRequest(topic, fromOffset, { maxWaitMs, minBytes: 1024 * 1024, maxBytes: 1024 });
}

/**
 * Creates `topic` (one partition, through auto-creation) and waits until its leader serves
 * Fetch, so that a long-poll Fetch is really held rather than answered with an error at once.
 */
export async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const { host, port } = parseAddress(bootstrap.split(',')[0]);
  await eventually(
    `topic ${topic} to be served`,
    async () => {
      const md = await sendRequest<MetadataResponse>(host, port, ApiKey.Metadata, 12, {
        ...defaultMetadataRequest(),
        topics: [{ topicId: ZERO_UUID, name: topic }],
        allowAutoTopicCreation: true,
      });
      const leader = md.topics[0]?.errorCode === 0 ? md.brokers.find((b) => b.nodeId === md.topics[0].partitions[0]?.leaderId) : undefined;
      if (leader === undefined) return false;
      const fetched = await sendRequest<FetchResponse>(leader.host, leader.port, ApiKey.Fetch, 12, fetchRequest(topic, 0n)).catch(() => undefined);
      return fetched?.responses[0]?.partitions[0]?.errorCode === 0;
    },
    15_000,
  );
}
