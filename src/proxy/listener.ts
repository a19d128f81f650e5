// The listeners of one route: the bootstrap endpoint and one port per broker slot. Each accepted
// socket becomes a ProxyConnection aimed at the bootstrap servers or at the broker of that slot.
import { createServer, type Server, type Socket } from 'node:net';
import type { Route } from '../routing/route.ts';
import { ProxyConnection, type ConnectionLimits, type ConnectionTarget } from './connection.ts';
import type { FilterChain } from './filter.ts';
import { TurnoutError } from '../errors.ts';
import { ReadBuffer, adoptReadingInto } from './read-buffer.ts';

export class RouteListeners {
  readonly route: Route;
  private readonly chain: FilterChain;
  private readonly limits: ConnectionLimits;
  private readonly servers: Server[] = [];
  readonly connections = new Set<ProxyConnection>();

  constructor(route: Route, chain: FilterChain, limits: ConnectionLimits) {
    this.route = route;
    this.chain = chain;
    this.limits = limits;
    route.onSwitch((epoch) => this.retireBefore(epoch));
    route.attachConnections(() => this.connections);
  }

  /** Connections opened before `epoch` belong to the previous cluster: they finish and close. */
  private retireBefore(epoch: number): void {
    const old = [...this.connections].filter((c) => c.epoch < epoch);
    if (old.length === 0) return;
    this.route.log.info({ connections: old.length, epoch, drainTimeoutMs: this.limits.switchDrainTimeoutMs }, 'retiring connections to the previous cluster');
    for (const c of old) void c.retire(this.limits.switchDrainTimeoutMs);
  }

  /** Open connections per streaming domain. */
  connectionsByDomain(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of this.connections) counts[c.domain] = (counts[c.domain] ?? 0) + 1;
    return counts;
  }

  async listen(): Promise<void> {
    const { bindAddress, endpoint } = this.route.config;
    const ports: [number, ConnectionTarget][] = [[endpoint.port, { kind: 'bootstrap' }]];
    for (let slot = 0; slot < this.route.ports.count; slot++) ports.push([this.route.ports.base + slot, { kind: 'broker', slot }]);
    let current = 0;
    try {
      for (const [port, target] of ports) {
        current = port;
        // Paused on connect: accept() moves the socket onto a reusable read buffer before it reads.
        const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket, target));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: bindAddress, port, exclusive: false, backlog: 1024 }, () => {
            server.removeListener('error', reject);
            resolve();
          });
        });
        server.on('error', (err) => this.route.log.error({ err: err.message, port }, 'listener error'));
        this.servers.push(server);
      }
    } catch (err) {
      await this.closeListeners();
      const e = err as NodeJS.ErrnoException;
      throw new TurnoutError(
        'TURNOUT_LISTEN_FAILED',
        `route "${this.route.name}" cannot listen on ${bindAddress}:${current}: ${e.code === 'EADDRINUSE' ? 'the port is in use by another process' : e.message}. Free the port or change routes[].endpoint / routes[].brokerPorts.`,
        { cause: err },
      );
    }
  }

  private accept(accepted: Socket, target: ConnectionTarget): void {
    let conn: ProxyConnection | null = null;
    const reads = new ReadBuffer();
    const socket = adoptReadingInto(accepted, reads.readInto((bytes, buffer) => conn!.onClientRead(bytes, buffer)));
    conn = new ProxyConnection(socket ?? accepted, this.route, target, this.chain, this.limits, (c) => this.connections.delete(c), reads);
    if (socket === null) accepted.resume();
    this.connections.add(conn);
  }

  /**
   * Stops accepting connections; open connections stay for the gateway to drain. server.close()
   * closes the listening socket at once, but its callback waits until every connection has ended,
   * and ending them is the drain that can only start once this has returned: do not wait for it.
   */
  async closeListeners(): Promise<void> {
    for (const s of this.servers) if (s.listening) s.close();
    this.servers.length = 0;
  }
}
