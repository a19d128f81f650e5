// A route at run time: the gateway endpoint clients bootstrap from, the broker port range, and
// the streaming domain (upstream cluster listener) it currently points at. Connections ask the
// route where to connect when they open; filters ask it for the gateway address of a broker.
import type { HostPort, RouteConfig, StreamingDomainConfig } from '../config/types.ts';
import type { Logger } from '../observability/log.ts';
import type { RouteMetrics } from '../observability/metrics.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { BrokerPorts } from './broker-ports.ts';
import { UpstreamCluster } from './upstream-cluster.ts';

export class Route {
  readonly config: RouteConfig;
  readonly name: string;
  readonly ports: BrokerPorts;
  readonly log: Logger;
  readonly metrics: RouteMetrics;
  private cluster: UpstreamCluster;
  private readonly slotWarnings = new Set<string>();

  constructor(config: RouteConfig, domain: StreamingDomainConfig, log: Logger, metrics: RouteMetrics, connectTimeoutMs: number) {
    this.config = config;
    this.name = config.name;
    this.ports = new BrokerPorts(config.brokerPorts.base, config.brokerPorts.count);
    this.log = log.child({ route: config.name });
    this.metrics = metrics;
    const listener = domain.kafkaCluster.bootstrapServers.find((b) => b.id === config.streamingDomain.bootstrapServerId);
    if (listener === undefined) throw new Error(`route ${config.name}: listener ${config.streamingDomain.bootstrapServerId} missing (config validation should have caught this)`);
    this.cluster = new UpstreamCluster(domain, listener, this.log, connectTimeoutMs);
  }

  get upstream(): UpstreamCluster {
    return this.cluster;
  }

  get domainName(): string {
    return this.cluster.domain.name;
  }

  get ready(): boolean {
    return this.cluster.ready;
  }

  start(): void {
    this.cluster.start();
  }

  stop(): void {
    this.cluster.stop();
  }

  /** The address clients use for broker `nodeId`. */
  gatewayAddress(nodeId: number): HostPort {
    return { host: this.config.endpoint.host, port: this.ports.portOf(nodeId) };
  }

  knowsBroker(nodeId: number): boolean {
    return this.cluster.brokers.has(nodeId);
  }

  learnBroker(nodeId: number, host: string, port: number): void {
    this.cluster.learn(nodeId, host, port);
  }

  /** Where a client connection to the bootstrap endpoint goes: the listener's endpoints in order. */
  bootstrapTargets(): HostPort[] {
    return this.cluster.bootstrapEndpoints();
  }

  /**
   * The upstream broker behind a gateway broker port. Unknown slots trigger one discovery round
   * (a gateway restarted under clients that cached its broker ports).
   */
  async brokerTarget(slot: number): Promise<{ nodeId: number; address: HostPort }> {
    let found = this.brokerInSlot(slot);
    if (found === null) {
      await this.cluster.refresh();
      found = this.brokerInSlot(slot);
    }
    if (found === null) {
      throw new UpstreamError(
        UpstreamErrorCode.NoBrokerForPort,
        `no broker of streaming domain "${this.domainName}" is served on gateway port ${this.ports.base + slot}: known node ids are [${[...this.cluster.brokers.keys()].join(', ')}]`,
      );
    }
    return found;
  }

  private brokerInSlot(slot: number): { nodeId: number; address: HostPort } | null {
    let match: { nodeId: number; address: HostPort } | null = null;
    for (const [nodeId, address] of this.cluster.brokers) {
      if (this.ports.slotOf(nodeId) !== slot) continue;
      if (match !== null) {
        const key = `${match.nodeId}/${nodeId}`;
        if (!this.slotWarnings.has(key)) {
          this.slotWarnings.add(key);
          this.log.error(
            { nodeIds: [match.nodeId, nodeId], port: this.ports.base + slot },
            `brokers ${match.nodeId} and ${nodeId} share gateway port ${this.ports.base + slot} (node id mod ${this.ports.count}); raise routes[].brokerPorts.count`,
          );
        }
        if (nodeId > match.nodeId) continue;
      }
      match = { nodeId, address };
    }
    return match;
  }
}
