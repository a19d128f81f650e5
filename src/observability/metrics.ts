// The gateway's Prometheus metrics. Hot-path code gets pre-bound children (per route, per api
// key) once and then only increments numbers: no label lookups per frame.
//
// With several worker processes (src/cluster) the admin listener serves every worker's registry
// merged by prom-client's AggregatorRegistry: counters and histograms add up, and each per-route
// state gauge says how it merges (`aggregator`), so that two workers on epoch 3 show epoch 3.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { apiCodec } from '../protocol/index.ts';

/** What the metrics read from the process's memory budget (src/proxy/limits.ts MemoryBudget). */
export interface BudgetView {
  readonly used: number;
  readonly limit: number;
  readonly waiting: number;
  readonly pauses: number;
}

/** What the admin listener serves on /metrics. */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export class GatewayMetrics implements MetricsSource {
  readonly registry: Registry;
  readonly connectionsActive: Gauge<'route'>;
  readonly connectionsTotal: Counter<'route'>;
  readonly connectionErrors: Counter<'route' | 'reason'>;
  readonly requests: Counter<'route' | 'api'>;
  readonly requestErrors: Counter<'route' | 'api' | 'reason'>;
  readonly refusedTopicRequests: Counter<'route' | 'api'>;
  readonly producerBatchesHeldBack: Counter<'route'>;
  readonly requestDuration: Histogram<'route' | 'api'>;
  readonly bytes: Counter<'route' | 'direction'>;
  readonly upstreamConnectFailures: Counter<'route' | 'domain'>;
  readonly routeReady: Gauge<'route'>;
  readonly routeEpoch: Gauge<'route'>;
  readonly routeActiveDomain: Gauge<'route' | 'domain'>;
  readonly switches: Counter<'route' | 'outcome'>;
  readonly switchDuration: Histogram<'route' | 'outcome'>;
  readonly switchPhase: Histogram<'route' | 'mode' | 'phase'>;
  readonly fenceHeld: Counter<'route'>;
  readonly fenced: Gauge<'route'>;
  readonly stateRecordsRejected: Counter<'domain' | 'reason'>;
  readonly connectionsRefused: Counter<'route' | 'reason'>;
  readonly connectionsClosedByLimit: Counter<'route' | 'reason'>;
  private budget: BudgetView | null = null;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'turnout_' });
    const registers = [registry];
    this.connectionsActive = new Gauge({ name: 'turnout_client_connections', help: 'Open client connections', labelNames: ['route'], registers });
    this.connectionsTotal = new Counter({ name: 'turnout_client_connections_total', help: 'Client connections accepted', labelNames: ['route'], registers });
    this.connectionErrors = new Counter({
      name: 'turnout_connection_errors_total',
      help: 'Client connections closed because of an error, by reason (malformed_frame, frame_too_large, upstream_unreachable, upstream_closed, protocol_violation, ...)',
      labelNames: ['route', 'reason'],
      registers,
    });
    this.requests = new Counter({ name: 'turnout_requests_total', help: 'Requests forwarded, by API', labelNames: ['route', 'api'], registers });
    this.requestErrors = new Counter({
      name: 'turnout_request_errors_total',
      help: 'Requests that got no response from the upstream (connection lost) or whose response could not be processed, by API',
      labelNames: ['route', 'api', 'reason'],
      registers,
    });
    this.refusedTopicRequests = new Counter({
      name: 'turnout_refused_topic_requests_total',
      help: "Requests that named a topic clients of the route may not see or write (the gateway's state topic; for writes also MirrorMaker 2's offset syncs and checkpoints), answered TOPIC_AUTHORIZATION_FAILED for it, by API",
      labelNames: ['route', 'api'],
      registers,
    });
    this.producerBatchesHeldBack = new Counter({
      name: 'turnout_producer_batches_held_back_total',
      help: 'Batches of idempotent producers from before the last switch that would have reached the new cluster ahead of earlier ones, refused with NOT_LEADER_OR_FOLLOWER for a retry (proxy/sequence-gate.ts)',
      labelNames: ['route'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'turnout_request_duration_seconds',
      help: 'Time from a request arriving from the client to its response being written back, by API',
      labelNames: ['route', 'api'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.bytes = new Counter({
      name: 'turnout_bytes_total',
      help: 'Bytes received from clients (in) and sent to clients (out)',
      labelNames: ['route', 'direction'],
      registers,
    });
    this.upstreamConnectFailures = new Counter({
      name: 'turnout_upstream_connect_failures_total',
      help: 'Failed attempts to connect to an upstream broker',
      labelNames: ['route', 'domain'],
      registers,
    });
    // Merged over workers: ready only if every worker is; the highest epoch; the share of workers on each domain.
    this.routeReady = new Gauge({
      name: 'turnout_route_ready',
      help: '1 when the route has reached its upstream cluster (on every worker)',
      labelNames: ['route'],
      registers,
      aggregator: 'min',
    });
    this.routeEpoch = new Gauge({
      name: 'turnout_route_switch_epoch',
      help: "The route's switch epoch (0 until its first switch; the highest of the workers')",
      labelNames: ['route'],
      registers,
      aggregator: 'max',
    });
    this.routeActiveDomain = new Gauge({
      name: 'turnout_route_active_domain',
      help: '1 for the streaming domain the route points at, 0 for the others (with several workers: the share of workers pointing there)',
      labelNames: ['route', 'domain'],
      registers,
      aggregator: 'average',
    });
    this.switches = new Counter({
      name: 'turnout_switches_total',
      help: 'Route switches this instance initiated, by outcome (switched, unchanged, refused, failed)',
      labelNames: ['route', 'outcome'],
      registers,
    });
    this.switchPhase = new Histogram({
      name: 'turnout_switch_phase_seconds',
      help: 'Time from a switch request to each of its steps (checked, fenced, snapshot, caught up, offsets installed, flipped, released), on the initiating instance',
      labelNames: ['route', 'mode', 'phase'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.fenceHeld = new Counter({
      name: 'turnout_fence_held_requests_total',
      help: "Requests a planned switch's fence held on this instance (resent by clients to the destination, or released to the source on abort)",
      labelNames: ['route'],
      registers,
    });
    this.fenced = new Gauge({
      name: 'turnout_route_fenced',
      help: "1 while a planned switch holds the route's writes on this instance (on any of its workers)",
      labelNames: ['route'],
      registers,
      aggregator: 'max',
    });
    this.stateRecordsRejected = new Counter({
      name: 'turnout_state_records_rejected_total',
      help: 'Switch state records ignored because their signature is missing (unsigned), names a key this instance does not have (unknown-key), does not verify (bad-signature) or is not a Turnout signature (malformed)',
      labelNames: ['domain', 'reason'],
      registers,
    });
    this.connectionsRefused = new Counter({
      name: 'turnout_connections_refused_total',
      help: 'Client connections refused at accept, by the limit they hit (max_connections, max_connections_per_route, max_connections_per_address)',
      labelNames: ['route', 'reason'],
      registers,
    });
    this.connectionsClosedByLimit = new Counter({
      name: 'turnout_connections_closed_by_limit_total',
      help: 'Client connections the gateway closed for a limit (idle_timeout, authentication_timeout, unauthenticated_frame_too_large, frame_over_connection_budget)',
      labelNames: ['route', 'reason'],
      registers,
    });
    // Per process; with worker processes the instance's figures are the sums over workers.
    const budget = () => this.budget;
    new Gauge({
      name: 'turnout_buffered_bytes',
      help: 'Bytes all client connections of the process buffer now (partial frames, held requests, queued socket writes)',
      registers,
      aggregator: 'sum',
      collect() {
        this.set(budget()?.used ?? 0);
      },
    });
    new Gauge({
      name: 'turnout_buffered_bytes_limit',
      help: 'The buffered-bytes budget of the process (gateway.limits.maxBufferedBytes; with workers, the sum of theirs)',
      registers,
      aggregator: 'sum',
      collect() {
        this.set(budget()?.limit ?? 0);
      },
    });
    new Gauge({
      name: 'turnout_buffered_bytes_waiting_connections',
      help: 'Connections whose reads are paused until the buffered-bytes budget drains',
      registers,
      aggregator: 'sum',
      collect() {
        this.set(budget()?.waiting ?? 0);
      },
    });
    new Counter({
      name: 'turnout_buffered_bytes_pauses_total',
      help: "Times a connection's reads were paused because the process was over its buffered-bytes budget",
      registers,
      collect() {
        const b = budget();
        if (b === null) return;
        this.reset();
        this.inc(b.pauses);
      },
    });
    this.switchDuration = new Histogram({
      name: 'turnout_switch_duration_seconds',
      help: 'Time from a switch request to its outcome, fleet-wide prepare and apply included',
      labelNames: ['route', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The memory budget whose usage and limit /metrics reports. */
  watchBudget(budget: BudgetView): void {
    this.budget = budget;
  }

  setActiveDomain(route: string, active: string, all: string[]): void {
    for (const d of all) this.routeActiveDomain.labels(route, d).set(d === active ? 1 : 0);
  }

  forRoute(route: string): RouteMetrics {
    return new RouteMetrics(this, route);
  }
}

/** Label-bound metric children for one route; per-API children are created on first use. */
export class RouteMetrics {
  readonly route: string;
  readonly connectionsActive;
  readonly connectionsTotal;
  readonly bytesIn;
  readonly bytesOut;
  readonly ready;
  private readonly parent: GatewayMetrics;
  private readonly perApi: (ApiMetrics | undefined)[] = [];

  constructor(parent: GatewayMetrics, route: string) {
    this.parent = parent;
    this.route = route;
    this.connectionsActive = parent.connectionsActive.labels(route);
    this.connectionsTotal = parent.connectionsTotal.labels(route);
    this.bytesIn = parent.bytes.labels(route, 'in');
    this.bytesOut = parent.bytes.labels(route, 'out');
    this.ready = parent.routeReady.labels(route);
  }

  api(apiKey: number): ApiMetrics {
    const cached = this.perApi[apiKey];
    if (cached !== undefined) return cached;
    const name = apiName(apiKey);
    const m: ApiMetrics = {
      requests: this.parent.requests.labels(this.route, name),
      duration: this.parent.requestDuration.labels(this.route, name),
    };
    if (apiKey >= 0 && apiKey < 1024) this.perApi[apiKey] = m;
    return m;
  }

  requestError(apiKey: number, reason: string): void {
    this.parent.requestErrors.labels(this.route, apiName(apiKey), reason).inc();
  }

  connectionRefused(reason: string): void {
    this.parent.connectionsRefused.labels(this.route, reason).inc();
  }

  closedByLimit(reason: string): void {
    this.parent.connectionsClosedByLimit.labels(this.route, reason).inc();
  }

  /** A request named a protected topic (proxy/protected-topics.ts); a rare event, so the label is looked up each time. */
  refusedTopicRequest(apiKey: number): void {
    this.parent.refusedTopicRequests.labels(this.route, apiName(apiKey)).inc();
  }

  /** Batches the sequence gate sent back for a retry (rare: just after a switch). */
  producerBatchesHeldBack(batches: number): void {
    this.parent.producerBatchesHeldBack.labels(this.route).inc(batches);
  }

  connectionError(reason: string): void {
    this.parent.connectionErrors.labels(this.route, reason).inc();
  }

  upstreamConnectFailure(domain: string): void {
    this.parent.upstreamConnectFailures.labels(this.route, domain).inc();
  }
}

export interface ApiMetrics {
  requests: { inc(): void };
  duration: { observe(v: number): void };
}

/** The API's Kafka name; every unknown key shares one label so clients cannot grow the label set. */
export function apiName(apiKey: number): string {
  return apiCodec(apiKey)?.name ?? 'Unknown';
}
