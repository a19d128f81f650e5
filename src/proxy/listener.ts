// The listeners of one route: the bootstrap endpoint and one port per broker slot. Each accepted
// socket becomes a ProxyConnection aimed at the bootstrap servers or at the broker of that slot.
import { createServer, type Server, type Socket } from 'node:net';
import { TurnoutError } from '../errors.ts';
import type { Route } from '../routing/route.ts';
import { type ConnectionLimits, type ConnectionTarget, ProxyConnection } from './connection.ts';
import type { FilterChain } from './filter.ts';
import { type ConnectionAdmission, describePeer, REFUSE_CONFIG_KEY } from './limits.ts';
import { adoptReadingInto, ReadBuffer } from './read-buffer.ts';

/** How often connections are checked for the idle and authentication deadlines, at most. */
const SWEEP_MAX_MS = 1000;
const SWEEP_MIN_MS = 50;

export class RouteListeners {
  readonly route: Route;
  private readonly chain: FilterChain;
  private readonly limits: ConnectionLimits;
  private readonly servers: Server[] = [];
  readonly connections = new Set<ProxyConnection>();
  private readonly admission: ConnectionAdmission | null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(route: Route, chain: FilterChain, limits: ConnectionLimits, admission: ConnectionAdmission | null = null) {
    this.route = route;
    this.chain = chain;
    this.limits = limits;
    this.admission = admission;
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
      this.startSweeper();
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
    // Read before the handle moves: a socket reset meanwhile still says where it came from.
    const address = accepted.remoteAddress;
    const peer = describePeer(address, accepted.remotePort);
    const addressKey = address ?? 'unknown';
    if (this.admission !== null) {
      const refused = this.admission.admit(this.route.name, this.route.config.limits?.maxConnections ?? null, addressKey);
      if (refused !== null) {
        this.route.metrics.connectionRefused(refused);
        this.limits.warnings?.warn(
          this.route.log,
          `refused:${refused}`,
          { client: peer, limit: refused, configKey: REFUSE_CONFIG_KEY[refused] },
          `connection refused at accept: over ${REFUSE_CONFIG_KEY[refused]}; raise it if such clients are expected`,
        );
        accepted.destroy();
        return;
      }
    }
    let conn: ProxyConnection | null = null;
    const reads = new ReadBuffer();
    const socket = adoptReadingInto(
      accepted,
      reads.readInto((bytes, buffer) => conn!.onClientRead(bytes, buffer)),
    );
    conn = new ProxyConnection(
      socket ?? accepted,
      this.route,
      target,
      this.chain,
      this.limits,
      (c) => {
        this.connections.delete(c);
        this.admission?.release(this.route.name, addressKey);
      },
      reads,
      peer,
    );
    if (socket === null) accepted.resume();
    this.connections.add(conn);
  }

  /** One timer per route checks every connection for the idle and authentication deadlines. */
  private startSweeper(): void {
    const idle = this.limits.connectionsMaxIdleMs ?? 0;
    const auth = this.route.config.authentication.type === 'passthrough' ? (this.limits.authenticationTimeoutMs ?? 0) : 0;
    const deadlines = [idle, auth].filter((ms) => ms > 0);
    if (deadlines.length === 0) return;
    // A quarter of the shortest deadline: a connection is closed at most 25% late.
    const every = Math.max(SWEEP_MIN_MS, Math.min(SWEEP_MAX_MS, Math.floor(Math.min(...deadlines) / 4)));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections) c.checkDeadlines(now);
    }, every);
    this.sweeper.unref();
  }

  /**
   * Stops accepting connections; open connections stay for the gateway to drain. server.close()
   * closes the listening socket at once, but its callback waits until every connection has ended,
   * and ending them is the drain that can only start once this has returned: do not wait for it.
   */
  async closeListeners(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const s of this.servers) if (s.listening) s.close();
    this.servers.length = 0;
  }
}
