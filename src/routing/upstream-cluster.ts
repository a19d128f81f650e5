// What Turnout knows about one upstream cluster listener (a streaming domain's bootstrap server):
// the address of each broker by node id, learned from Metadata that Turnout asks for itself with
// the domain's service credentials and from every response that crosses the gateway.

import { formatHostPort } from '../config/endpoints.ts';
import type { BootstrapServerConfig, HostPort, StreamingDomainConfig } from '../config/types.ts';
import type { Logger } from '../observability/log.ts';
import type { ApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.ts';
import type { MetadataResponse } from '../protocol/generated/messages/metadata-response.ts';
import { ApiKey } from '../protocol/index.ts';
import { KafkaConnection } from '../upstream/kafka-connection.ts';

/** While a cluster does not answer, discovery retries after 0.5 s, then 1 s, then every 2 s. */
const NOT_READY_POLL_FIRST_MS = 500;
const NOT_READY_POLL_MAX_MS = 2_000;

export interface ClusterSnapshot {
  clusterId: string | null;
  brokers: Map<number, HostPort>;
}

export class UpstreamCluster {
  readonly domain: StreamingDomainConfig;
  readonly listener: BootstrapServerConfig;
  private readonly log: Logger;
  private readonly connectTimeoutMs: number;
  readonly brokers = new Map<number, HostPort>();
  clusterId: string | null = null;
  /** When the last discovery succeeded (ms since epoch), 0 if never. */
  lastSuccessAt = 0;
  lastError: string | null = null;
  private refreshing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private intervalMs = 30_000;
  /** Failed discoveries in a row. */
  private failures = 0;
  private nextEndpoint = 0;
  started = false;

  constructor(domain: StreamingDomainConfig, listener: BootstrapServerConfig, log: Logger, connectTimeoutMs: number) {
    this.domain = domain;
    this.listener = listener;
    this.log = log.child({ domain: domain.name, listener: listener.id });
    this.connectTimeoutMs = connectTimeoutMs;
  }

  get ready(): boolean {
    return this.lastSuccessAt > 0 && this.lastError === null;
  }

  /** Bootstrap endpoints, rotated so that connections spread over them. */
  bootstrapEndpoints(): HostPort[] {
    const e = this.listener.endpoints;
    const start = this.nextEndpoint++ % e.length;
    return [...e.slice(start), ...e.slice(0, start)];
  }

  learn(nodeId: number, host: string, port: number): void {
    const known = this.brokers.get(nodeId);
    if (known !== undefined && known.host === host && known.port === port) return;
    this.brokers.set(nodeId, { host, port });
    this.log.debug({ nodeId, upstream: formatHostPort({ host, port }) }, 'learned upstream broker address');
  }

  /**
   * Starts periodic discovery (first run immediately): every `intervalMs` while the cluster
   * answers, and while it does not, after 0.5 s, 1 s, then every 2 s, so that readiness follows
   * a cluster that comes back within a couple of seconds instead of at the next slow poll.
   */
  start(intervalMs = 30_000): void {
    this.started = true;
    this.intervalMs = intervalMs;
    this.poll();
  }

  stop(): void {
    this.started = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Delay before the next discovery after `failures` failed ones in a row (0: the last one worked). */
  static nextPollMs(failures: number, intervalMs: number): number {
    return failures === 0 ? intervalMs : Math.min(intervalMs, NOT_READY_POLL_MAX_MS, NOT_READY_POLL_FIRST_MS * 2 ** (failures - 1));
  }

  private poll(): void {
    void this.refresh();
  }

  /** After every discovery, whoever asked for it: the next poll, sooner while the cluster does not answer. */
  private scheduleNext(): void {
    if (!this.started) return;
    this.failures = this.lastError === null ? 0 : this.failures + 1;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), UpstreamCluster.nextPollMs(this.failures, this.intervalMs));
    this.timer.unref();
  }

  /** Asks the cluster for its brokers; concurrent calls share one attempt. Never throws. */
  refresh(): Promise<void> {
    this.refreshing ??= this.discover().finally(() => {
      this.refreshing = null;
      this.scheduleNext();
    });
    return this.refreshing;
  }

  private async discover(): Promise<void> {
    const errors: string[] = [];
    for (const endpoint of this.bootstrapEndpoints()) {
      let conn: KafkaConnection | null = null;
      try {
        conn = await KafkaConnection.open(endpoint, this.listener.security, {
          connectTimeoutMs: this.connectTimeoutMs,
          requestTimeoutMs: this.connectTimeoutMs,
        });
        const versions = await conn.request<ApiVersionsResponse>(ApiKey.ApiVersions, 0, {});
        const security = this.listener.security;
        if (security.protocol === 'SASL_PLAINTEXT' && security.sasl === null) {
          // Without service credentials Turnout cannot ask for metadata; reachability is all it
          // can check, and broker addresses are learned from client traffic.
          this.markSuccess();
          return;
        }
        const metadataMax = versions.apiKeys.find((k) => k.apiKey === ApiKey.Metadata)?.maxVersion ?? 0;
        const version = Math.min(12, metadataMax);
        const md = await conn.request<MetadataResponse>(ApiKey.Metadata, version, {
          topics: [],
          allowAutoTopicCreation: version < 4, // v0-3 cannot carry false; [] asks for no topics from v1

          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        for (const b of md.brokers) this.learn(b.nodeId, b.host, b.port);
        this.clusterId = md.clusterId;
        this.markSuccess();
        return;
      } catch (err) {
        errors.push(`${formatHostPort(endpoint)}: ${(err as Error).message}`);
      } finally {
        conn?.close();
      }
    }
    const message = `cannot reach streaming domain "${this.domain.name}" (listener "${this.listener.id}"): ${errors.join('; ')}`;
    if (this.lastError !== message) this.log.warn({ err: message }, 'upstream discovery failed');
    this.lastError = message;
  }

  private markSuccess(): void {
    if (this.lastError !== null || this.lastSuccessAt === 0) {
      this.log.info({ brokers: this.brokers.size, clusterId: this.clusterId }, 'upstream cluster reached');
    }
    this.lastSuccessAt = Date.now();
    this.lastError = null;
  }
}
