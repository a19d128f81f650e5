// Idle client connections: open many TCP connections to the gateway's bootstrap port, each sending
// one ApiVersions request (so the gateway has opened its upstream connection and answered through
// it), then leave them idle and see what they cost the gateway process in memory and descriptors.
import { connect, type Socket } from 'node:net';
import { ApiKey, encodeRequest } from '../../src/protocol/index.ts';

const API_VERSIONS_V = 3;

export interface OpenResult {
  readonly sockets: Socket[];
  /** Connections that got their ApiVersions answer and are still open. */
  readonly answered: number;
  /** Failures by reason (error code or "closed"). */
  readonly failures: Map<string, number>;
  readonly seconds: number;
}

function apiVersionsRequest(id: number): Buffer {
  return encodeRequest(
    {
      requestApiKey: ApiKey.ApiVersions,
      requestApiVersion: API_VERSIONS_V,
      correlationId: id,
      clientId: 'turnout-bench-idle',
      _unknownTaggedFields: undefined,
    },
    { clientSoftwareName: 'turnout-bench', clientSoftwareVersion: '1.0' },
  );
}

/** Opens one connection and resolves once its ApiVersions response has fully arrived. */
function openOne(host: string, port: number, id: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    let expected = -1;
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(reason));
    };
    socket.setTimeout(timeoutMs, () => fail('timeout'));
    socket.once('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
    socket.once('close', () => fail('closed'));
    socket.once('connect', () => socket.write(apiVersionsRequest(id)));
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (expected < 0 && received >= 4) expected = Buffer.concat(chunks).readInt32BE(0) + 4;
      if (expected >= 0 && received >= expected) {
        socket.off('data', onData);
        socket.setTimeout(0);
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        socket.on('error', () => {});
        resolve(socket);
      }
    };
    socket.on('data', onData);
  });
}

/** Opens `count` connections, `concurrency` at a time (more would overflow the listen backlog). */
export async function openIdleConnections(bootstrap: string, count: number, concurrency = 200, timeoutMs = 30_000): Promise<OpenResult> {
  const [host, portText] = bootstrap.split(':');
  const port = Number(portText);
  const sockets: Socket[] = [];
  const failures = new Map<string, number>();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const id = next++;
      try {
        sockets.push(await openOne(host, port, id, timeoutMs));
      } catch (err) {
        const reason = (err as Error).message;
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { sockets, answered: sockets.length, failures, seconds: (performance.now() - started) / 1000 };
}

/** Connections of `sockets` that are still open (the gateway closed none of them while idle). */
export function stillOpen(sockets: readonly Socket[]): number {
  return sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
}

export async function closeAll(sockets: readonly Socket[]): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

export interface IdleMeasurement {
  readonly requested: number;
  readonly attempted: number;
  readonly answered: number;
  readonly stillOpenAfterHold: number;
  readonly failures: Record<string, number>;
  readonly openSeconds: number;
  readonly fdLimit: number;
  readonly fdsBefore: number;
  readonly fdsAfter: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly heapUsedBefore: number;
  readonly heapUsedAfter: number;
  readonly rssAfterClose: number;
  readonly cappedBy?: string;
}

/** What the idle-connection measurement needs of the gateway process. */
export interface IdleGateway {
  readonly bootstrap: string;
  sample(): { rssBytes: number; openFds: number };
  fdLimit(): { soft: number; hard: number };
  /** The primary and its workers; connections are spread over the workers, each with its own limit. */
  processCount(): number;
  metric(name: string): Promise<number>;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Descriptors kept free for the gateway's own needs (admin requests, discovery, logs). */
const FD_MARGIN = 64;

/** Opens `requested` idle connections (fewer if the gateway's open-files limit cannot hold them:
 *  each costs it two, the client socket and its upstream), holds them, and measures. */
export async function measureIdle(gw: IdleGateway, requested: number, holdSeconds: number, ownFdHeadroom: number): Promise<IdleMeasurement> {
  await settle(2000);
  const before = gw.sample();
  const heapBefore = await gw.metric('turnout_nodejs_heap_size_used_bytes');
  const limit = gw.fdLimit().soft;
  const processes = gw.processCount();
  const workers = Math.max(1, processes - 1);
  const gatewayRoom = Math.floor((workers * limit - before.openFds - FD_MARGIN * processes) / 2);
  const clientRoom = ownFdHeadroom - FD_MARGIN;
  let attempted = requested;
  let cappedBy: string | undefined;
  if (gatewayRoom < attempted) {
    attempted = gatewayRoom;
    cappedBy = `the gateway's open-files limit (${limit} per process, ${workers} worker${workers === 1 ? '' : 's'}, ${before.openFds} already open, 2 per connection, ${FD_MARGIN} kept free per process)`;
  }
  if (clientRoom < attempted) {
    attempted = clientRoom;
    cappedBy = `the benchmark process's own open-files limit (room for ${clientRoom} client sockets)`;
  }
  const opened = await openIdleConnections(gw.bootstrap, attempted);
  await settle(holdSeconds * 1000);
  const open = stillOpen(opened.sockets);
  const after = gw.sample();
  const heapAfter = await gw.metric('turnout_nodejs_heap_size_used_bytes');
  await closeAll(opened.sockets);
  await settle(2000);
  const closed = gw.sample();
  return {
    requested,
    attempted,
    answered: opened.answered,
    stillOpenAfterHold: open,
    failures: Object.fromEntries(opened.failures),
    openSeconds: opened.seconds,
    fdLimit: limit,
    fdsBefore: before.openFds,
    fdsAfter: after.openFds,
    rssBefore: before.rssBytes,
    rssAfter: after.rssBytes,
    heapUsedBefore: heapBefore,
    heapUsedAfter: heapAfter,
    rssAfterClose: closed.rssBytes,
    cappedBy,
  };
}
