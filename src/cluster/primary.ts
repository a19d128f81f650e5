// The primary process of `turnout start`: it never connects to Kafka. It owns the admin listener,
// runs the worker processes that serve the route listeners (pool.ts), and answers the admin API
// from them: /routes, /status and /ready merge every worker's view, /metrics merges their
// registries, and a switch, preflight or reload goes to one worker (the lowest serving slot),
// whose switch the others follow through the fleet protocol, as separate gateways would.
//
// Signals: SIGTERM/SIGINT stop every worker gracefully (gateway.shutdownTimeoutMs) and exit 0; a
// second one exits at once. SIGHUP (and --watch-config) reloads the file.
import { unwatchFile, watchFile } from 'node:fs';
import { AdminServer, type AdminView, type RouteStatus } from '../admin/server.ts';
import { formatHostPort, formatProblems, type GatewayConfig, loadConfigFile, resolveWorkers } from '../config/index.ts';
import type { FleetInstance } from '../control/switch-controller.ts';
import type { Logger } from '../observability/log.ts';
import { mergeRouteStatus, type WorkerAnswer } from './merge.ts';
import { PrimaryMetrics } from './metrics.ts';
import { WorkerPool } from './pool.ts';

const CALL_TIMEOUT_MS = 5_000;
/** Beyond gateway.shutdownTimeoutMs, what a worker gets to close its state log and exit. */
const STOP_GRACE_MS = 5_000;

export interface PrimaryOptions {
  configFile: string;
  /** The file's text as checked: every worker parses exactly this. */
  configText: string;
  config: GatewayConfig;
  log: Logger;
  watchConfig?: boolean;
}

export class Primary {
  private readonly file: string;
  private text: string;
  private readonly config: GatewayConfig;
  private readonly log: Logger;
  private readonly watchConfig: boolean;
  private readonly pool: WorkerPool;
  private readonly metrics: PrimaryMetrics;
  private admin: AdminServer | null = null;
  private adminAddress: string | null = null;
  private stopping = false;
  private reloading = Promise.resolve();
  /** The last merged routes, shown (not ready) while no worker serves. */
  private lastRoutes: RouteStatus[] = [];

  constructor(o: PrimaryOptions) {
    this.file = o.configFile;
    this.text = o.configText;
    this.config = o.config;
    this.log = o.log;
    this.watchConfig = o.watchConfig === true;
    const plan = resolveWorkers(o.config);
    this.log.info({ workers: plan.count, why: plan.why }, 'worker processes');
    this.pool = new WorkerPool({
      count: plan.count,
      instanceId: o.config.instanceId,
      log: o.log,
      startMessage: () => ({ adminAddress: this.adminAddress, configFile: this.file, configText: this.text }),
      onChange: () => this.metrics.workers.labels('serving').set(this.pool.serving().length),
      onRestart: () => this.metrics.restarts.inc(),
    });
    this.metrics = new PrimaryMetrics(plan.count, () => this.workerMetrics());
  }

  /** Starts the admin listener and the workers; false when the gateway could not start (the reason is logged). */
  async start(): Promise<boolean> {
    process.on('SIGTERM', () => this.stop('SIGTERM'));
    process.on('SIGINT', () => this.stop('SIGINT'));
    if (this.config.admin !== null) {
      this.admin = new AdminServer(this.view(), this.log);
      try {
        const at = await this.admin.listen(this.config.admin);
        this.adminAddress = formatHostPort(at);
        this.log.info({ admin: this.adminAddress }, 'admin listening');
      } catch (err) {
        this.log.fatal({ err: (err as Error).message, code: (err as { code?: string }).code }, 'gateway failed to start');
        return false;
      }
    }
    const failed = await this.pool.start();
    if (failed.length === this.pool.slots.length) {
      const first = failed[0];
      this.log.fatal({ err: first.error.message, code: first.error.code, worker: first.worker }, 'gateway failed to start');
      await this.admin?.close();
      return false;
    }
    if (this.stopping) return true;
    process.on('SIGHUP', () => this.reload('SIGHUP'));
    if (this.watchConfig) {
      // Polling the file's stat sees ConfigMap updates (an atomic symlink swap) that fs.watch misses.
      watchFile(this.file, { interval: 2000 }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) this.reload('file changed');
      });
    }
    this.log.info(
      { config: this.file, pid: process.pid, node: process.version, workers: this.pool.slots.length, serving: this.pool.serving().length },
      'gateway started',
    );
    return true;
  }

  private view(): AdminView {
    return {
      routes: () => this.routes(),
      metrics: this.metrics,
      fleet: () => this.fleet(),
      instance: () => this.config.instanceId,
      workers: () => this.pool.status(),
      switchRoute: (req) => {
        const { onProgress, ...request } = req;
        return this.pool.call(this.pool.first(), 'switch', { request, progress: onProgress !== undefined }, { onProgress });
      },
      preflight: (route, to, topics) => this.pool.call(this.pool.first(), 'preflight', { route, to, topics }),
      token: this.config.adminToken,
    };
  }

  private async routes(): Promise<RouteStatus[]> {
    const serving = this.pool.serving();
    if (serving.length === 0) return this.notServing();
    const answers = await Promise.all(
      serving.map((s): Promise<WorkerAnswer> => {
        const who = { worker: s.worker, instance: s.instanceId, pid: s.process?.process.pid ?? 0 };
        return this.pool.call(s, 'routes', null, { timeoutMs: CALL_TIMEOUT_MS }).then(
          (routes) => ({ ...who, routes }),
          (err: unknown) => ({ ...who, routes: null, error: (err as Error).message }),
        );
      }),
    );
    const merged = mergeRouteStatus(answers);
    if (merged.length === 0) return this.notServing();
    this.lastRoutes = merged;
    return merged;
  }

  /** The routes as last seen (or as configured), not ready: no worker serves them now. */
  private notServing(): RouteStatus[] {
    const why = this.stopping ? 'stopping' : 'no worker process is serving (starting or being replaced)';
    return this.config.routes.map((rc): RouteStatus => {
      const last = this.lastRoutes.find((r) => r.name === rc.name);
      return {
        name: rc.name,
        endpoint: formatHostPort(rc.endpoint),
        brokerPorts: `${rc.brokerPorts.base}-${rc.brokerPorts.base + rc.brokerPorts.count - 1}`,
        domain: last?.domain ?? rc.streamingDomain.name,
        listener: last?.listener ?? rc.streamingDomain.bootstrapServerId,
        clusterId: rc.clusterId,
        epoch: last?.epoch ?? 0,
        lastSwitch: last?.lastSwitch ?? null,
        connectionsByDomain: {},
        ready: false,
        lastError: why,
        connections: 0,
        brokers: last?.brokers ?? [],
        workers: [],
      };
    });
  }

  /** The fleet as the first worker sees it; every worker of this gateway counts as "self". */
  private async fleet(): Promise<FleetInstance[]> {
    const serving = this.pool.serving();
    if (serving.length === 0) return [];
    const ours = new Set(this.pool.slots.map((s) => s.instanceId));
    const instances = await this.pool.call(serving[0], 'fleet', null, { timeoutMs: CALL_TIMEOUT_MS });
    return instances.map((i) => ({ ...i, self: ours.has(i.instance) }));
  }

  private async workerMetrics() {
    const answers = await Promise.all(
      this.pool.serving().map((s) =>
        this.pool.call(s, 'metrics', null, { timeoutMs: CALL_TIMEOUT_MS }).catch((err: unknown) => {
          this.log.warn({ worker: s.worker, err: (err as Error).message }, 'worker metrics left out of a scrape');
          return null;
        }),
      ),
    );
    return answers.filter((a) => a !== null);
  }

  /**
   * Reload: the file is checked here; then every worker but the first takes its new streaming
   * domains, and the first applies it like a single gateway would (switching routes whose domain
   * changed; the others follow that switch through the fleet protocol). Workers started later get
   * the new file.
   */
  private reload(why: string): void {
    this.reloading = this.reloading
      .then(async () => {
        if (this.stopping) return;
        const next = loadConfigFile(this.file);
        if (!('config' in next)) {
          this.log.error(
            { config: this.file, why, problems: formatProblems(this.file, next.problems) },
            'config reload refused: the file has problems; nothing changed',
          );
          return;
        }
        this.log.info({ config: this.file, why }, 'reloading config');
        if (resolveWorkers(next.config).count !== this.pool.slots.length)
          this.log.warn({ workers: next.config.workers }, 'config reload: a different number of workers needs a restart; ignored');
        this.text = next.text;
        const [first, ...others] = this.pool.serving();
        if (first === undefined) {
          this.log.warn('config reload: no worker is serving now; workers starting from now on get the new file');
          return;
        }
        const args = { configFile: this.file, configText: next.text, by: `config-reload (${why})` };
        // Domains first everywhere, so that every worker can prepare a switch to a new one.
        await Promise.all(
          others.map((s) =>
            this.pool.call(s, 'reload', { ...args, switchRoutes: false }).catch((err: unknown) => {
              this.log.error({ worker: s.worker, err: (err as Error).message }, 'config reload failed on a worker');
            }),
          ),
        );
        const reports = await this.pool.call(first, 'reload', { ...args, switchRoutes: true });
        for (const r of reports) this.log.info({ route: r.route, outcome: r.outcome, epoch: r.epoch }, r.message);
      })
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'config reload failed'));
  }

  private stop(signal: string): void {
    if (this.stopping) {
      this.log.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
      this.pool.kill();
      process.exit(1);
    }
    this.stopping = true;
    this.log.info({ signal, timeoutMs: this.config.shutdownTimeoutMs }, 'stopping');
    if (this.watchConfig) unwatchFile(this.file);
    this.pool
      .stop(this.config.shutdownTimeoutMs + STOP_GRACE_MS)
      .then(() => this.admin?.close())
      .then(
        () => {
          this.log.info('gateway stopped');
          process.exit(0);
        },
        (err: unknown) => {
          this.log.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
  }
}
