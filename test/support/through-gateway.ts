// A shared test-bed cluster behind a gateway route with SASL/PLAIN passthrough, as the
// clients-through-gateway tests use it: the seed user's target and client.properties, the
// cluster's own Kafka tools, and the checks that clients only ever see gateway addresses.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { defaultListOffsetsRequest } from '../../src/protocol/generated/messages/list-offsets-request.ts';
import type { ListOffsetsResponse } from '../../src/protocol/generated/messages/list-offsets-response.ts';
import { defaultMetadataRequest } from '../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, ZERO_UUID } from '../../src/protocol/index.ts';
import { type ClusterDescriptor, type ClusterSpec, DEFAULT_KAFKA_VERSION, type KafkaTools, SASL_USERS, testBed } from '../../src/testbed/index.ts';
import { sendRequest } from '../../src/testbed/kafka-request.ts';
import type { ClientTarget, ClusterMetadata } from './clients/index.ts';
import { createTopic } from './clients/kafkajs.ts';
import { domainFor, startGateway, type TestGateway } from './gateway.ts';
import { eventually } from './raw-kafka.ts';

/** The two shared 3-broker clusters (specs identical to the other tests', so they are shared). */
export const THREE_BROKER_CLUSTERS: readonly ClusterSpec[] = [
  { name: 'k4-three', brokers: 3, nodeIdBase: 101 },
  { name: 'k3-three', brokers: 3, nodeIdBase: 201, kafkaVersion: '3.9.2' },
];

export const versionOf = (spec: ClusterSpec): string => spec.kafkaVersion ?? DEFAULT_KAFKA_VERSION;

const ROUTE = 'clients';

export class ClusterBehindGateway {
  readonly spec: ClusterSpec;
  readonly cluster: ClusterDescriptor;
  readonly tools: KafkaTools;
  readonly gw: TestGateway;
  /** The seed user (kafka/kafka-secret) through the gateway. */
  readonly target: ClientTarget;
  /** The seed's client.properties (SASL_PLAINTEXT, PLAIN, kafka/kafka-secret). */
  readonly clientConfig: string;

  private constructor(spec: ClusterSpec, cluster: ClusterDescriptor, tools: KafkaTools, gw: TestGateway) {
    this.spec = spec;
    this.cluster = cluster;
    this.tools = tools;
    this.gw = gw;
    this.target = { bootstrap: gw.bootstrap[ROUTE], sasl: { username: 'kafka', password: SASL_USERS.kafka } };
    this.clientConfig = tools.saslClientConfig('kafka', SASL_USERS.kafka);
  }

  static async start(spec: ClusterSpec): Promise<ClusterBehindGateway> {
    const bed = await testBed();
    const cluster = await bed.cluster(spec);
    const tools = await bed.tools(cluster.version);
    const gw = await startGateway({ domains: [domainFor(cluster, 'main')], routes: [{ name: ROUTE, domain: 'main', listener: 'sasl' }] });
    return new ClusterBehindGateway(spec, cluster, tools, gw);
  }

  get bootstrap(): string {
    return this.target.bootstrap;
  }

  get version(): string {
    return this.cluster.version;
  }

  nodeIds(): number[] {
    return this.cluster.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
  }

  /** The gateway port that serves broker `nodeId`. */
  gatewayPortOf(nodeId: number): number {
    return this.gw.gateway.routes[0].ports.portOf(nodeId);
  }

  /** The gateway's address of broker `nodeId`, as `kafka-consumer-groups` prints it. */
  gatewayAddressOf(nodeId: number): string {
    return `127.0.0.1:${this.gatewayPortOf(nodeId)}`;
  }

  /** Every port the cluster's brokers listen on (plaintext, SASL, controller). */
  upstreamPorts(): number[] {
    return this.cluster.brokers.flatMap((b) => [b.plaintextPort, b.saslPort, b.controllerPort]);
  }

  /** Creates `topic` through the gateway (kafkajs admin) and waits until every broker knows it. */
  async createTopic(topic: string, partitions: number, replicationFactor = 3): Promise<void> {
    await createTopic(this.target, topic, { partitions, replicationFactor });
    await this.waitUntilEveryBrokerKnows(topic, partitions);
  }

  /** Waits until every running broker lists `topic` with `partitions` partitions, each with a
   *  leader, and each leader serves its partitions. A KRaft broker learns of a new topic or
   *  partition when it applies the controller's record, and it publishes the record to its
   *  metadata cache before its replica manager creates the partitions; with two clusters and many
   *  client JVMs on two cores, brokers lag by seconds. Meanwhile clients get
   *  UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER and cope differently: kafkajs resends a
   *  broker's whole Produce when one partition fails, duplicating the records of the others; kcat
   *  drops the records; kafkajs admin gives up. That happens against the brokers directly just as
   *  through the gateway, so tests start once the cluster agrees. Asked of each broker directly:
   *  this is the test bed's state, not something a client sees. */
  async waitUntilEveryBrokerKnows(topic: string, partitions: number): Promise<void> {
    const metadataRequest = { ...defaultMetadataRequest(), topics: [{ topicId: ZERO_UUID, name: topic }], allowAutoTopicCreation: false };
    const ready = async (): Promise<boolean> => {
      const leaders = new Map<number, number[]>();
      for (const b of this.cluster.brokers) {
        const md = await sendRequest<MetadataResponse>(b.host, b.plaintextPort, ApiKey.Metadata, 12, metadataRequest, 5_000).catch(() => undefined);
        if (!md) return false;
        const t = md.topics[0];
        if (t?.errorCode !== 0 || t.partitions.length !== partitions || t.partitions.some((p) => p.leaderId < 0)) return false;
        for (const p of t.partitions) leaders.set(p.leaderId, [...new Set([...(leaders.get(p.leaderId) ?? []), p.partitionIndex])]);
      }
      for (const [nodeId, led] of leaders) {
        const b = this.cluster.brokers.find((x) => x.nodeId === nodeId);
        if (!b) return false;
        const request = {
          ...defaultListOffsetsRequest(),
          replicaId: -1,
          topics: [{ name: topic, partitions: led.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -1n })) }],
        };
        const offsets = await sendRequest<ListOffsetsResponse>(b.host, b.plaintextPort, ApiKey.ListOffsets, 7, request, 5_000).catch(() => undefined);
        if (!offsets || offsets.topics.flatMap((t) => t.partitions).some((p) => p.errorCode !== 0)) return false;
      }
      return true;
    };
    await eventually(`every broker of ${this.cluster.name} to know ${topic} with ${partitions} partitions, each served by its leader`, ready, 30_000);
  }

  /** Runs `list` and checks the brokers it returns: each at 127.0.0.1 on its gateway port, and
   *  together exactly the cluster's node ids (no test stops brokers of the shared clusters: those
   *  that do have clusters of their own). */
  async assertListsGatewayBrokers(who: string, list: () => Promise<ClusterMetadata>): Promise<ClusterMetadata> {
    const metadata = await list();
    const upstream = new Set(this.upstreamPorts());
    const ports = this.gw.gateway.routes[0].ports;
    for (const b of metadata.brokers) {
      assert.ok(!upstream.has(b.port), `${who} was told upstream port ${b.port} for node ${b.nodeId}`);
      assert.notEqual(ports.slotOfPort(b.port), -1, `${who}: port ${b.port} of node ${b.nodeId} is not a gateway broker port`);
      assert.deepEqual(b, { nodeId: b.nodeId, host: '127.0.0.1', port: this.gatewayPortOf(b.nodeId) }, `${who}: node ${b.nodeId}`);
    }
    assert.deepEqual(
      metadata.brokers.map((b) => b.nodeId),
      this.nodeIds(),
      `${who}: listed node ids`,
    );
    return metadata;
  }

  /** Tool output names no upstream broker port (as host:port or as a bare number). */
  assertNoUpstreamAddress(what: string, text: string): void {
    for (const p of this.upstreamPorts()) assert.ok(!new RegExp(`\\b${p}\\b`).test(text), `${what} shows upstream port ${p}:\n${text}`);
  }

  async stop(): Promise<void> {
    await this.tools.stopAll();
    await this.gw.stop();
  }
}

/**
 * Starts a gateway in front of each cluster when the test file starts (all at once; each describe
 * awaits its own) and stops them at the end. Call at the top level of a test file.
 */
export function clustersBehindGateway(specs: readonly ClusterSpec[]): Map<string, Promise<ClusterBehindGateway>> {
  const setups = new Map<string, Promise<ClusterBehindGateway>>();
  before(() => {
    for (const spec of specs) {
      const setup = ClusterBehindGateway.start(spec);
      setup.catch(() => {}); // observed by the describe that needs it
      setups.set(spec.name, setup);
    }
  });
  after(async () => {
    await Promise.allSettled([...setups.values()].map(async (s) => (await s).stop()));
  });
  return setups;
}
