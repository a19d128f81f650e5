// A test-only TCP relay between real Kafka clients and a real broker that records every frame
// in both directions. To keep clients talking through it, it rewrites broker addresses in
// Metadata, FindCoordinator and DescribeCluster responses to its own ports (one listening port
// per upstream broker); the recorded frames are the bytes as the broker and the client sent them.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { DescribeClusterResponse } from '../../src/protocol/generated/messages/describe-cluster-response.ts';
import type { FindCoordinatorResponse } from '../../src/protocol/generated/messages/find-coordinator-response.ts';
import type { MetadataResponse } from '../../src/protocol/generated/messages/metadata-response.ts';
import {
  ApiKey,
  decodeResponse,
  encodeResponse,
  FrameDecoder,
  peekApiKey,
  peekApiVersion,
  peekProduceAcks,
  peekRequestCorrelationId,
  peekResponseCorrelationId,
} from '../../src/protocol/index.ts';

export interface RecordedFrame {
  direction: 'request' | 'response';
  apiKey: number;
  apiVersion: number;
  /** The whole frame, size prefix included, exactly as it crossed the relay. */
  bytes: Buffer;
}

export interface Upstream {
  nodeId: number;
  host: string;
  port: number;
}

export class RecordingRelay {
  readonly frames: RecordedFrame[] = [];
  private readonly servers = new Map<number, Server>();
  private readonly ports = new Map<number, number>();
  private readonly sockets = new Set<Socket>();

  static async start(upstreams: Upstream[]): Promise<RecordingRelay> {
    const relay = new RecordingRelay();
    for (const u of upstreams) {
      const server = createServer((client) => relay.accept(client, u));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('relay has no port');
      relay.servers.set(u.nodeId, server);
      relay.ports.set(u.nodeId, addr.port);
    }
    return relay;
  }

  /** Bootstrap address list pointing at the relay. */
  get bootstrap(): string {
    return [...this.ports.values()].map((p) => `127.0.0.1:${p}`).join(',');
  }

  private relayPort(nodeId: number): number | undefined {
    return this.ports.get(nodeId);
  }

  private accept(client: Socket, u: Upstream): void {
    const upstream = connect(u.port, u.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const inFlight = new Map<number, { apiKey: number; apiVersion: number }>();
    const fromClient = new FrameDecoder();
    const fromBroker = new FrameDecoder();
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);

    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      for (let f = fromClient.next(); f !== null; f = fromClient.next()) {
        const frame = Buffer.from(f);
        const apiKey = peekApiKey(frame);
        const apiVersion = peekApiVersion(frame);
        this.frames.push({ direction: 'request', apiKey, apiVersion, bytes: frame });
        const acksZero = apiKey === ApiKey.Produce && peekProduceAcks(frame) === 0;
        if (!acksZero) inFlight.set(peekRequestCorrelationId(frame), { apiKey, apiVersion });
        upstream.write(frame);
      }
    });

    upstream.on('data', (chunk: Buffer) => {
      fromBroker.push(chunk);
      for (let f = fromBroker.next(); f !== null; f = fromBroker.next()) {
        const frame = Buffer.from(f);
        const id = peekResponseCorrelationId(frame);
        const req = inFlight.get(id);
        if (req === undefined) {
          close();
          return;
        }
        inFlight.delete(id);
        this.frames.push({ direction: 'response', apiKey: req.apiKey, apiVersion: req.apiVersion, bytes: frame });
        client.write(this.rewrite(frame, req.apiKey, req.apiVersion));
      }
    });
  }

  private rewrite(frame: Buffer, apiKey: number, apiVersion: number): Buffer {
    if (apiKey === ApiKey.Metadata) {
      const d = decodeResponse<MetadataResponse>(frame, apiKey, apiVersion);
      for (const b of d.body.brokers) this.point(b);
      return encodeResponse(apiKey, apiVersion, d.header, d.body);
    }
    if (apiKey === ApiKey.FindCoordinator) {
      const d = decodeResponse<FindCoordinatorResponse>(frame, apiKey, apiVersion);
      this.point(d.body);
      for (const c of d.body.coordinators) this.point(c);
      return encodeResponse(apiKey, apiVersion, d.header, d.body);
    }
    if (apiKey === ApiKey.DescribeCluster) {
      const d = decodeResponse<DescribeClusterResponse>(frame, apiKey, apiVersion);
      for (const b of d.body.brokers) {
        const p = this.relayPort(b.brokerId);
        if (p !== undefined) {
          b.host = '127.0.0.1';
          b.port = p;
        }
      }
      return encodeResponse(apiKey, apiVersion, d.header, d.body);
    }
    return frame;
  }

  private point(node: { nodeId: number; host: string; port: number }): void {
    const p = this.relayPort(node.nodeId);
    if (p !== undefined) {
      node.host = '127.0.0.1';
      node.port = p;
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.servers.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
