// The admin HTTP listener: liveness, readiness, Prometheus metrics and a JSON view of the routes.
// Endpoints that change routing (POST /routes/NAME/switch) require the bearer token from
// gateway.admin.token; without a configured token they are refused. What it shows comes from an
// AdminView: one Gateway in this process, or the worker processes of `turnout start` (src/cluster).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatHostPort } from '../config/endpoints.ts';
import type { HostPort, Secret } from '../config/types.ts';
import type { SwitchPhase } from '../control/records.ts';
import type { FleetInstance, PreflightReport, SwitchReport, SwitchRequest } from '../control/switch-controller.ts';
import { TurnoutError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import type { MetricsSource } from '../observability/metrics.ts';
import type { SwitchRecord } from '../routing/route.ts';
import type { TopicUse } from '../routing/topic-usage.ts';

export interface RouteStatus {
  name: string;
  endpoint: string;
  brokerPorts: string;
  domain: string;
  listener: string;
  clusterId: string;
  epoch: number;
  lastSwitch: SwitchRecord | null;
  connectionsByDomain: Record<string, number>;
  ready: boolean;
  lastError: string | null;
  connections: number;
  /** Topics clients produced to, fetched from or committed offsets for through the route, and
   *  when last; a topic unused for gateway.switchover.topicIdleMs is left out. */
  topicsInUse?: TopicUse[];
  brokers: { nodeId: number; gateway: string; upstream: string }[];
  /** With several worker processes: each worker's view of the route (the fields above merge them). */
  workers?: WorkerRouteStatus[];
  /** With several worker processes: set when they do not agree on the route's domain and epoch. */
  disagreement?: string;
  /** Set while no state topic has been read since start (gateway.state.startup.mode: serve): the epoch shown is the file's, not the fleet's. */
  epochUnknown?: string;
}

export interface WorkerRouteStatus {
  worker: number;
  instance: string;
  pid: number;
  /** null: the worker did not answer (see error). */
  domain: string | null;
  epoch: number | null;
  ready: boolean;
  connections: number;
  error?: string;
}

/** A worker process of `turnout start`, for /health and /status. */
export interface WorkerProcessStatus {
  worker: number;
  instance: string;
  pid: number | null;
  state: 'starting' | 'serving' | 'restarting' | 'stopping';
  restarts: number;
  lastExit?: string;
}

export interface AdminView {
  routes(): RouteStatus[] | Promise<RouteStatus[]>;
  metrics: MetricsSource;
  fleet(): FleetInstance[] | Promise<FleetInstance[]>;
  instance(): string;
  /** The worker processes, when this admin listener serves several (src/cluster). */
  workers?(): WorkerProcessStatus[];
  switchRoute(req: SwitchRequest): Promise<SwitchReport>;
  preflight(route: string, to: string, topics: string[]): Promise<PreflightReport>;
  /** Bearer token for endpoints that change routing; null refuses them. */
  token: Secret | null;
}

const MAX_BODY = 64 * 1024;
/** Error codes that mean "no worker process could take the request now": 503, try again. */
const UNAVAILABLE = new Set(['TURNOUT_NO_WORKER', 'TURNOUT_WORKER_EXITED', 'TURNOUT_WORKER_TIMEOUT']);
const SWITCH_PATH = /^\/routes\/([^/]+)\/switch$/;
const PREFLIGHT_PATH = /^\/routes\/([^/]+)\/preflight$/;

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
        const code = (err as { code?: string }).code;
        this.log.error({ err: (err as Error).message, path: req.url }, 'admin request failed');
        if (res.headersSent) return;
        if (UNAVAILABLE.has(code ?? '')) send(res, 503, { error: (err as Error).message, code });
        else send(res, 500, { error: 'internal error' });
      });
    });
  }

  async listen(at: HostPort): Promise<HostPort> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new TurnoutError(
            'TURNOUT_LISTEN_FAILED',
            `admin listener cannot listen on ${formatHostPort(at)}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}. Change gateway.admin.listen.`,
            { cause: err },
          ),
        ),
      );
      this.server.listen({ host: at.host, port: at.port }, () => resolve());
    });
    const a = this.server.address();
    this.address = a !== null && typeof a === 'object' ? { host: at.host, port: a.port } : at;
    return this.address;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const switchMatch = SWITCH_PATH.exec(path);
    if (switchMatch !== null) {
      await this.handleSwitch(req, res, decodeURIComponent(switchMatch[1]));
      return;
    }
    const preflightMatch = PREFLIGHT_PATH.exec(path);
    if (preflightMatch !== null) {
      await this.handlePreflight(req, res, decodeURIComponent(preflightMatch[1]));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { error: `${req.method} is not allowed on ${path}` });
      return;
    }
    switch (path) {
      case '/health':
        send(res, 200, { status: 'ok', ...this.workers() });
        return;
      case '/ready': {
        const routes = await this.view.routes();
        const notReady = routes.filter((r) => !r.ready);
        send(res, notReady.length === 0 ? 200 : 503, {
          ready: notReady.length === 0,
          routes: routes.map((r) => ({
            name: r.name,
            ready: r.ready,
            domain: r.domain,
            ...(r.epochUnknown !== undefined ? { epoch: null, epochUnknown: r.epochUnknown } : { epoch: r.epoch }),
            ...(r.lastError !== null ? { error: r.lastError } : {}),
          })),
        });
        return;
      }
      case '/metrics': {
        const body = await this.view.metrics.text();
        res.writeHead(200, { 'content-type': this.view.metrics.contentType });
        res.end(body);
        return;
      }
      case '/routes':
        send(res, 200, { routes: await this.view.routes() });
        return;
      case '/fleet':
        send(res, 200, { instance: this.view.instance(), instances: await this.view.fleet() });
        return;
      case '/status': {
        const [routes, instances] = await Promise.all([this.view.routes(), this.view.fleet()]);
        send(res, 200, { instance: this.view.instance(), routes, instances, ...this.workers() });
        return;
      }
      default:
        send(res, 404, {
          error: `no such endpoint: ${path}`,
          endpoints: ['/health', '/ready', '/metrics', '/routes', '/fleet', '/status', 'POST /routes/NAME/switch'],
        });
    }
  }

  /** POST /routes/NAME/switch {"to": DOMAIN, "bootstrapServerId"?, "force"?, "by"?}, bearer token required. */
  private async handleSwitch(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (req.method !== 'POST') {
      send(res, 405, { error: `use POST to switch a route (got ${req.method})` });
      return;
    }
    if (!this.authorized(req, res, route, 'switch')) return;
    let body: { to?: unknown; bootstrapServerId?: unknown; force?: unknown; by?: unknown; mode?: unknown; topics?: unknown; progress?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
    } catch (err) {
      send(res, 400, { error: `the body must be a JSON object like {"to": "green"}: ${(err as Error).message}` });
      return;
    }
    if (typeof body.to !== 'string' || body.to === '') {
      send(res, 400, { error: 'the body needs "to": the streaming domain to switch to' });
      return;
    }
    if (body.bootstrapServerId !== undefined && typeof body.bootstrapServerId !== 'string') {
      send(res, 400, { error: '"bootstrapServerId" must be a string' });
      return;
    }
    if (body.mode !== undefined && body.mode !== 'planned' && body.mode !== 'hot') {
      send(res, 400, { error: '"mode" must be "planned" or "hot"' });
      return;
    }
    if (body.topics !== undefined && !(Array.isArray(body.topics) && body.topics.every((t) => typeof t === 'string'))) {
      send(res, 400, { error: '"topics" must be a list of topic names' });
      return;
    }
    const who = typeof body.by === 'string' && body.by !== '' ? body.by.slice(0, 200) : 'admin-api';
    // With "progress": true the answer streams one JSON line per step, then {"report": ...}.
    const streaming = body.progress === true;
    let streamed = false;
    const onProgress = streaming
      ? (p: SwitchPhase) => {
          if (!streamed) {
            streamed = true;
            res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          }
          res.write(`${JSON.stringify({ progress: p })}\n`);
        }
      : undefined;
    try {
      const report = await this.view.switchRoute({
        route,
        to: body.to,
        bootstrapServerId: body.bootstrapServerId,
        force: body.force === true,
        by: `${who} (${req.socket.remoteAddress ?? 'unknown'})`,
        mode: body.mode,
        topics: body.topics as string[] | undefined,
        onProgress,
      });
      if (streamed) res.end(`${JSON.stringify({ report })}\n`);
      else send(res, report.outcome === 'switched' || report.outcome === 'unchanged' ? 200 : report.outcome === 'refused' ? 409 : 500, report);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (streamed) res.end(`${JSON.stringify({ error: (err as Error).message, code })}\n`);
      else send(res, code === 'TURNOUT_UNKNOWN_ROUTE' ? 404 : UNAVAILABLE.has(code ?? '') ? 503 : 400, { error: (err as Error).message, code });
    }
  }

  private workers(): { workers?: WorkerProcessStatus[] } {
    return this.view.workers === undefined ? {} : { workers: this.view.workers() };
  }

  /** Checks the bearer token; answers 403/401 and returns false when it is not right. */
  private authorized(req: IncomingMessage, res: ServerResponse, route: string, what: string): boolean {
    const token = this.view.token;
    if (token === null) {
      send(res, 403, { error: `${what} over the admin API is disabled: set gateway.admin.token (e.g. token: \${TURNOUT_ADMIN_TOKEN}) to enable it` });
      return false;
    }
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (given === undefined || !sameSecret(given, token.reveal())) {
      this.log.warn(
        { from: req.socket.remoteAddress, route },
        given === undefined ? `${what} request without a token refused` : `${what} request with a wrong token refused`,
      );
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { error: given === undefined ? 'this endpoint needs "Authorization: Bearer <token>" (gateway.admin.token)' : 'wrong token' });
      return false;
    }
    return true;
  }

  /** GET /routes/NAME/preflight?to=DOMAIN&topics=a,b — reads both clusters, changes nothing; token required (it reads a lot). */
  private async handlePreflight(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (req.method !== 'GET') {
      send(res, 405, { error: `use GET for a preflight (got ${req.method})` });
      return;
    }
    if (!this.authorized(req, res, route, 'preflight')) return;
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const to = q.get('to');
    if (to === null || to === '') {
      send(res, 400, { error: 'give the destination: ?to=DOMAIN' });
      return;
    }
    const topics = (q.get('topics') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    try {
      send(res, 200, await this.view.preflight(route, to, topics));
    } catch (err) {
      const code = (err as { code?: string }).code;
      send(res, code === 'TURNOUT_UNKNOWN_ROUTE' ? 404 : code === 'TURNOUT_CLUSTER_ADMIN' ? 502 : UNAVAILABLE.has(code ?? '') ? 503 : 400, {
        error: (err as Error).message,
        code,
      });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Compares without leaking the token's length or content through timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8') || '{}'));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
