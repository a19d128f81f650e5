// A route at run time: the gateway endpoint clients bootstrap from, the broker port range, and
// the streaming domain (upstream cluster listener) it currently points at. Connections ask the
// route where to connect when they open; filters ask it for the gateway address of a broker.
import type { BootstrapServerConfig, HostPort, RouteConfig, StreamingDomainConfig } from '../config/types.ts';
import { TurnoutError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import type { RouteMetrics } from '../observability/metrics.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { BrokerPorts } from './broker-ports.ts';
import { RouteTopicIds } from './topic-ids.ts';
import { TopicUsage } from './topic-usage.ts';
import { UpstreamCluster } from './upstream-cluster.ts';

/** What a switch records on the route, for status and audit. */
export interface SwitchRecord {
  epoch: number;
  from: string;
  to: string;
  listener: string;
  by: string;
  at: string;
  switchId: string;
}

/** What a planned switch needs from each open connection of a route (implemented by ProxyConnection). */
export interface FenceableConnection {
  readonly epoch: number;
  /** Requests of fenced kinds forwarded upstream and not answered yet. */
  fencedInFlight(): number;
  /** Held requests, in order, are processed as if they had just arrived (the fence was lifted). */
  releaseHeld(): void;
  /** The offsets of OffsetCommit requests held by the fence, oldest first. */
  heldOffsetCommits(): HeldOffsetCommit[];
  /** Requests (and bytes) held by the fence. */
  heldCount(): number;
}

export interface HeldOffsetCommit {
  groupId: string;
  /** "topic:partition" -> offset. */
  offsets: Map<string, bigint>;
}

/** A planned switch holds some requests on every connection of the route while it runs. */
export interface Fence {
  switchId: string;
  since: number;
}

/** Requests a fence holds: everything that writes records, transaction state or group offsets. */
export const FENCED_API_KEYS: ReadonlySet<number> = new Set([
  0, // Produce
  8, // OffsetCommit
  22, // InitProducerId
  24, // AddPartitionsToTxn
  25, // AddOffsetsToTxn
  26, // EndTxn
  28, // TxnOffsetCommit
]);

const MAX_ORPHANED_MEMBERS = 10_000;

/** A group member the gateway knows of whose connection is gone (see Route.orphanMembers). */
export interface OrphanedMember {
  groupId: string;
  member: { protocol: 'classic' | 'consumer' | 'share'; memberId: string; groupInstanceId: string | null; clientId: string };
}

/** Where an idempotent producer stands on one partition of a cluster: its epoch and last sequence number there. */
export interface ProducerSequence {
  epoch: number;
  lastSequence: number;
}

/**
 * Asks a cluster (with the streaming domain's service credentials) where idempotent producer
 * `producerId` stands on each "topic:partition": null where the partition holds nothing from it;
 * partitions it could not learn about are left out. Rejects when the cluster cannot be asked.
 */
export type ProducerLookup = (
  domain: StreamingDomainConfig,
  listener: BootstrapServerConfig,
  producerId: bigint,
  partitions: readonly string[],
) => Promise<Map<string, ProducerSequence | null>>;

/** The cluster a route pointed at before its last switch. */
export interface PreviousCluster {
  domain: StreamingDomainConfig;
  listener: BootstrapServerConfig;
  /** The route's epoch on it. */
  epoch: number;
}

/** A rejoin expected (holdMs set) or completed (holdMs null) on one process, for the others. */
export interface RejoinEvent {
  route: string;
  key: string;
  holdMs: number | null;
}

export class Route {
  readonly config: RouteConfig;
  readonly name: string;
  readonly ports: BrokerPorts;
  readonly log: Logger;
  readonly metrics: RouteMetrics;
  private cluster: UpstreamCluster;
  private readonly slotWarnings = new Set<string>();
  private readonly connectTimeoutMs: number;
  /** Switch epoch: 0 until the first switch; every switch of the route (fleet-wide) increments it. */
  epoch = 0;
  lastSwitch: SwitchRecord | null = null;
  private readonly switchListeners: ((epoch: number) => void)[] = [];
  /** The cluster before the last switch this process applied (null before any). */
  previous: PreviousCluster | null = null;
  /** How the data path learns producers' sequence numbers on a cluster (set by the gateway; null: it cannot). */
  producerLookup: ProducerLookup | null = null;
  /** Non-null while a planned switch holds writes on this route (connections check it per request). */
  fence: Fence | null = null;
  private connectionSource: (() => Iterable<FenceableConnection>) | null = null;
  /**
   * Group members whose connections a switch retired, by "client host|client id", until they have
   * rejoined on the new cluster (SyncGroup answered) or the deadline passed. Their Fetches wait:
   * fetched with positions from the old cluster, the new one would hand them records they had
   * already read (offsets differ between clusters) until the group tells them where to resume.
   */
  private readonly rejoining = new Map<string, { deadline: number; waiting: Set<FenceableConnection>; timer: NodeJS.Timeout }>();
  /**
   * Told of rejoins expected and completed here, for other processes serving the same route
   * (workers of one gateway: a client's group and fetch connections may land on different ones).
   */
  rejoinRelay: ((event: RejoinEvent) => void) | null = null;
  /**
   * Topics clients produced to, fetched from or committed offsets for through this route (never
   * internal ones) and when, for switchover and preflight; idle ones age out.
   */
  readonly topicUsage = new TopicUsage();
  /** The ids clients see for topics, and each cluster's own. */
  readonly topicIds: RouteTopicIds;
  /**
   * Group members whose connection closed without leaving (the client closed it, not a switch),
   * by the epoch and broker (port slot) they joined through: a switch away from that epoch's
   * cluster takes them out of their groups there, as it does for members of open connections.
   */
  private readonly orphans = new Map<string, Map<string, OrphanedMember>>();

  constructor(config: RouteConfig, domain: StreamingDomainConfig, log: Logger, metrics: RouteMetrics, connectTimeoutMs: number) {
    this.config = config;
    this.connectTimeoutMs = connectTimeoutMs;
    this.name = config.name;
    this.ports = new BrokerPorts(config.brokerPorts.base, config.brokerPorts.count);
    this.log = log.child({ route: config.name });
    this.metrics = metrics;
    this.cluster = this.newCluster(domain, config.streamingDomain.bootstrapServerId);
    this.topicIds = new RouteTopicIds(config.name);
  }

  /** An upstream cluster for (domain, listener), not started; the listener must exist. */
  newCluster(domain: StreamingDomainConfig, listenerId: string): UpstreamCluster {
    const listener = domain.kafkaCluster.bootstrapServers.find((b) => b.id === listenerId);
    if (listener === undefined) throw new TurnoutError('TURNOUT_UNKNOWN_LISTENER', `streaming domain "${domain.name}" has no bootstrap server "${listenerId}"`);
    return new UpstreamCluster(domain, listener, this.log, this.connectTimeoutMs);
  }

  /** The listeners tell the route where its open connections are. */
  attachConnections(source: () => Iterable<FenceableConnection>): void {
    this.connectionSource = source;
  }

  connections(): FenceableConnection[] {
    return this.connectionSource === null ? [] : [...this.connectionSource()];
  }

  get awaitingRejoin(): boolean {
    return this.rejoining.size > 0;
  }

  /** A member of a group left the old cluster at a switch; its client's fetches wait for its rejoin (at most `holdMs`). */
  expectRejoin(key: string, holdMs: number, relayed = false): void {
    if (this.rejoining.has(key)) return;
    const timer = setTimeout(() => this.rejoined(key, true), holdMs);
    timer.unref();
    this.rejoining.set(key, { deadline: Date.now() + holdMs, waiting: new Set(), timer });
    if (!relayed) this.rejoinRelay?.({ route: this.name, key, holdMs });
  }

  /** Whether a fetch of this client must wait; if so `conn` is released when the client rejoined. */
  holdFetch(key: string, conn: FenceableConnection): boolean {
    const r = this.rejoining.get(key);
    if (r === undefined) return false;
    r.waiting.add(conn);
    return true;
  }

  /** The client rejoined (relayed: told by another process, or the hold's own deadline). */
  rejoined(key: string, relayed = false): void {
    const r = this.rejoining.get(key);
    if (r === undefined) return;
    if (!relayed) this.rejoinRelay?.({ route: this.name, key, holdMs: null });
    this.rejoining.delete(key);
    clearTimeout(r.timer);
    for (const c of r.waiting) c.releaseHeld();
  }

  /** Members that joined through a connection that closed without a switch (see `orphans`). */
  orphanMembers(epoch: number, slot: string, members: OrphanedMember[]): void {
    const key = `${epoch}|${slot}`;
    let m = this.orphans.get(key);
    if (m === undefined) {
      // Only the current epoch's matter: older ones were taken out (or left behind) at their switch.
      for (const k of this.orphans.keys()) if (!k.startsWith(`${this.epoch}|`)) this.orphans.delete(k);
      m = new Map();
      this.orphans.set(key, m);
    }
    for (const o of members) {
      if (m.size >= MAX_ORPHANED_MEMBERS) break;
      m.set(`${o.groupId}|${o.member.memberId}`, o);
    }
  }

  /** The orphaned members of `epoch` that joined through broker `slot`; each is handed out once. */
  takeOrphanedMembers(epoch: number, slot: string): OrphanedMember[] {
    const key = `${epoch}|${slot}`;
    const m = this.orphans.get(key);
    if (m === undefined) return [];
    this.orphans.delete(key);
    return [...m.values()];
  }

  /** A client used topic `name` (produced, fetched, committed offsets). */
  noteTopic(name: string): void {
    this.topicUsage.note(name);
  }

  /** Topics in use now (see topicUsage). */
  get topicsSeen(): Set<string> {
    return this.topicUsage.names();
  }

  /** Topics of the gateway's own (its state topic): internal, like Kafka's and MirrorMaker 2's. */
  get gatewayTopics(): Set<string> {
    return this.topicUsage.gatewayTopics;
  }

  /** Starts holding writes (FENCED_API_KEYS) on every connection, new ones included. */
  raiseFence(switchId: string): void {
    this.fence = { switchId, since: Date.now() };
  }

  /** Stops holding; held requests go on to the route's current cluster, in order. */
  lowerFence(): void {
    if (this.fence === null) return;
    this.fence = null;
    for (const c of this.connections()) c.releaseHeld();
  }

  /** Called with the new epoch after every switch (the listeners retire the old cluster's connections). */
  onSwitch(listener: (epoch: number) => void): void {
    this.switchListeners.push(listener);
  }

  /**
   * Points the route at `cluster` from `epoch` on. New connections go to it at once; connections
   * to the previous cluster are retired by the listeners (in-flight requests finish first).
   */
  activate(cluster: UpstreamCluster, epoch: number, record: SwitchRecord | null): void {
    const previous = this.cluster;
    if (epoch !== this.epoch) this.previous = { domain: previous.domain, listener: previous.listener, epoch: this.epoch };
    this.cluster = cluster;
    // Requests held by a planned switch stay unsent: their connections retire, and clients send
    // them again to the new cluster.
    this.fence = null;
    this.epoch = epoch;
    if (record !== null) this.lastSwitch = record;
    this.slotWarnings.clear();
    if (previous !== cluster) {
      previous.stop();
      if (!cluster.started) cluster.start();
    }
    for (const l of this.switchListeners) l(epoch);
  }

  get listenerId(): string {
    return this.cluster.listener.id;
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
    if (!this.cluster.started) this.cluster.start();
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
      // A port whose broker the current cluster does not have (the route switched to a cluster
      // with other node ids, or the gateway restarted under clients with cached ports): serve it
      // with another broker. The client gets real answers there (metadata, NOT_LEADER_OR_FOLLOWER,
      // NOT_COORDINATOR) and moves on; a refused connection would only make it retry this port.
      const standIn = [...this.cluster.brokers.keys()].sort((a, b) => a - b)[0];
      if (standIn !== undefined) {
        this.log.debug({ port: this.ports.base + slot, standIn }, 'no broker behind this gateway port; a stand-in serves it');
        return { nodeId: standIn, address: this.cluster.brokers.get(standIn)! };
      }
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
