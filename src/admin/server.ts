// The admin HTTP listener: liveness, readiness, Prometheus metrics and a JSON view of the routes.
// Read-only for now; endpoints that change routing will require authentication.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HostPort } from '../config/types.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { TurnoutError } from '../errors.ts';
import { formatHostPort } from '../config/endpoints.ts';

export interface RouteStatus {
  name: string;
  endpoint: string;
  brokerPorts: string;
  domain: string;
  listener: string;
  ready: boolean;
  lastError: string | null;
  connections: number;
  brokers: { nodeId: number; gateway: string; upstream: string }[];
}

export interface AdminView {
  routes(): RouteStatus[];
  metrics: GatewayMetrics;
}

export class AdminServer {
  private readonly server: Server;
  private readonly view: AdminView;
  private readonly log: Logger;
  address: HostPort | null = null;

  constructor(view: AdminView, log: Logger) {
    this.view = view;
    this.log = log.child({ component: 'admin' });
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, path: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      });
    });
  }

  async listen(at: HostPort): Promise<HostPort> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new TurnoutError('TURNOUT_LISTEN_FAILED', `admin listener cannot listen on ${formatHostPort(at)}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}. Change gateway.admin.listen.`, { cause: err })));
      this.server.listen({ host: at.host, port: at.port }, () => resolve());
    });
    const a = this.server.address();
    this.address = a !== null && typeof a === 'object' ? { host: at.host, port: a.port } : at;
    return this.address;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { error: `${req.method} is not allowed on ${path}` });
      return;
    }
    switch (path) {
      case '/health':
        send(res, 200, { status: 'ok' });
        return;
      case '/ready': {
        const routes = this.view.routes();
        const notReady = routes.filter((r) => !r.ready);
        send(res, notReady.length === 0 ? 200 : 503, {
          ready: notReady.length === 0,
          routes: routes.map((r) => ({ name: r.name, ready: r.ready, domain: r.domain, ...(r.lastError !== null ? { error: r.lastError } : {}) })),
        });
        return;
      }
      case '/metrics': {
        const body = await this.view.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.view.metrics.registry.contentType });
        res.end(body);
        return;
      }
      case '/routes':
        send(res, 200, { routes: this.view.routes() });
        return;
      default:
        send(res, 404, { error: `no such endpoint: ${path}`, endpoints: ['/health', '/ready', '/metrics', '/routes'] });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
