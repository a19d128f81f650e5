// /metrics of a gateway with worker processes: the primary's own metrics (its process, the
// workers) and every worker's registry, merged by prom-client's AggregatorRegistry with each
// metric's `aggregator` (see src/observability/metrics.ts).
//
// The primary asks the workers itself rather than with AggregatorRegistry.clusterMetrics(): that
// waits for every worker node:cluster lists, so a worker dying during a scrape failed the whole
// scrape after 5 s, and it leaves the primary's own registry out.
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MetricsSource } from '../observability/metrics.ts';
import type { MetricsJson } from './messages.ts';

export class PrimaryMetrics implements MetricsSource {
  readonly registry = new Registry();
  readonly workers: Gauge<'state'>;
  readonly restarts: Counter;
  private readonly fromWorkers: () => Promise<MetricsJson[]>;

  /** `fromWorkers`: the registries of the workers that answered. */
  constructor(configured: number, fromWorkers: () => Promise<MetricsJson[]>) {
    this.fromWorkers = fromWorkers;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'turnout_' });
    this.workers = new Gauge({
      name: 'turnout_workers',
      help: 'Worker processes: configured, and serving (listeners open) now',
      labelNames: ['state'],
      registers,
    });
    this.workers.labels('configured').set(configured);
    this.workers.labels('serving').set(0);
    this.restarts = new Counter({ name: 'turnout_worker_restarts_total', help: 'Worker processes started again after one exited', registers });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    const all = [await this.registry.getMetricsAsJSON(), ...(await this.fromWorkers())];
    return AggregatorRegistry.aggregate(all).metrics();
  }
}
