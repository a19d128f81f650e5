// A KRaft cluster of combined broker+controller nodes on loopback ports: formats the storage of
// every node, starts the brokers, and knows when the cluster really serves requests (every running
// broker answers Metadata listing every running broker). Single brokers can be stopped (gracefully
// or killed) and restarted with their data, which later tests use to move partition leaders.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultMetadataRequest } from '../protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../protocol/generated/messages/metadata-response.ts';
import { ApiKey } from '../protocol/index.ts';
import { brokerConfig, type NodeAddress, renderProperties } from './broker-config.ts';
import { TestBedError, TestBedErrorCode } from './errors.ts';
import { type KafkaJars, resolveKafka } from './jars.ts';
import { Heap, spawnJvm, writeLogConfig } from './jvm.ts';
import { canConnect, sendRequest } from './kafka-request.ts';
import { freePorts, LOOPBACK } from './ports.ts';
import type { GroupProcess } from './processes.ts';
import type { ClusterInfo, ClusterSpec } from './types.ts';
import { DEFAULT_KAFKA_VERSION, kafkaLine } from './versions.ts';
import { pollUntil, tailFile } from './wait.ts';

const START_TIMEOUT_MS = 90_000;

interface Node {
  readonly address: NodeAddress;
  readonly dir: string;
  readonly configPath: string;
  readonly logConfigFlag: string;
  process?: GroupProcess;
  /** Set while the node is down on purpose, so that its exit is not reported as a crash. */
  stopped: boolean;
}

/** Kafka cluster ids are 16 random bytes in URL-safe base64 without padding. Like Kafka's own
 *  Uuid.randomUuid(), reject ids starting with "-": command line parsers take them for options. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class KafkaCluster {
  readonly name: string;
  readonly version: string;
  readonly clusterId: string;
  readonly dir: string;
  #startupMs = 0;
  readonly #jars: KafkaJars;
  readonly #nodes: Node[];

  private constructor(spec: ClusterSpec, version: string, jars: KafkaJars, dir: string, nodes: Node[]) {
    this.name = spec.name;
    this.version = version;
    this.clusterId = newClusterId();
    this.#jars = jars;
    this.dir = dir;
    this.#nodes = nodes;
  }

  /** Starts the cluster described by `spec` under `runDir`/<name> and waits until it is ready. */
  static async start(spec: ClusterSpec, runDir: string): Promise<KafkaCluster> {
    const started = Date.now();
    const version = spec.kafkaVersion ?? DEFAULT_KAFKA_VERSION;
    kafkaLine(version); // unsupported versions fail before anything is downloaded
    const count = spec.brokers ?? 1;
    const base = spec.nodeIdBase ?? 1;
    const jars = await resolveKafka(version);
    const ports = await freePorts(3 * count);
    const addresses: NodeAddress[] = Array.from({ length: count }, (_, i) => ({
      nodeId: base + i,
      host: LOOPBACK,
      plaintextPort: ports[3 * i],
      saslPort: ports[3 * i + 1],
      controllerPort: ports[3 * i + 2],
    }));
    const dir = join(runDir, spec.name);
    const nodes = addresses.map((address): Node => {
      const nodeDir = join(dir, `broker-${address.nodeId}`);
      mkdirSync(nodeDir, { recursive: true });
      const configPath = join(nodeDir, 'server.properties');
      const props = brokerConfig({ version, node: address, voters: addresses, dataDir: join(nodeDir, 'data'), overrides: spec.brokerConfig });
      writeFileSync(configPath, renderProperties(props));
      const logConfigFlag = writeLogConfig(version, nodeDir, { file: join(nodeDir, 'server.log') });
      return { address, dir: nodeDir, configPath, logConfigFlag, stopped: false };
    });
    const cluster = new KafkaCluster(spec, version, jars, dir, nodes);
    try {
      await Promise.all(nodes.map((node) => cluster.#format(node)));
      for (const node of nodes) cluster.#spawn(node);
      await cluster.#waitReady();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    cluster.#startupMs = Date.now() - started;
    return cluster;
  }

  info(): ClusterInfo {
    return {
      name: this.name,
      version: this.version,
      clusterId: this.clusterId,
      logDir: this.dir,
      startupMs: this.#startupMs,
      brokers: this.#nodes.map((n) => ({ ...n.address, running: n.process?.isRunning() ?? false, dir: n.dir })),
    };
  }

  /** Stops one broker: SIGTERM is a controlled shutdown, SIGKILL a crash. Resolves once the other
   *  brokers no longer list it, i.e. once its partitions have new leaders. */
  async stopBroker(nodeId: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const node = this.#node(nodeId);
    node.stopped = true;
    await node.process?.stop(signal);
    await this.#waitReady();
  }

  /** Restarts a stopped broker with its data and waits until every running broker lists it. */
  async startBroker(nodeId: number): Promise<void> {
    const node = this.#node(nodeId);
    if (node.process?.isRunning()) return;
    this.#spawn(node);
    await this.#waitReady();
  }

  /** Stops every broker at once. They are killed rather than shut down: the data is throwaway,
   *  and brokers of a multi-node cluster would wait for controllers that are shutting down too. */
  async stop(): Promise<void> {
    for (const n of this.#nodes) n.stopped = true;
    await Promise.all(this.#nodes.map((n) => n.process?.stop('SIGKILL')));
  }

  #node(nodeId: number): Node {
    const node = this.#nodes.find((n) => n.address.nodeId === nodeId);
    if (!node) {
      const ids = this.#nodes.map((n) => n.address.nodeId).join(', ');
      throw new TestBedError(TestBedErrorCode.UnknownBroker, `cluster "${this.name}" has no broker with node id ${nodeId} (its node ids: ${ids})`);
    }
    return node;
  }

  async #format(node: Node): Promise<void> {
    const line = kafkaLine(this.version);
    const logFile = join(node.dir, 'format.log');
    const proc = spawnJvm({
      jars: this.#jars,
      main: line.storageToolMain,
      args: ['format', '-t', this.clusterId, '-c', node.configPath],
      heap: Heap.tool,
      logConfigFlag: node.logConfigFlag,
      outputFile: logFile,
      holdsProcessOpen: true,
    });
    const status = await proc.exited;
    if (status.code !== 0) {
      throw new TestBedError(
        TestBedErrorCode.ProcessExited,
        `formatting the storage of broker ${node.address.nodeId} of cluster "${this.name}" failed (exit ${status.code}); ` +
          `see ${logFile}:\n${tailFile(logFile, 20)}`,
      );
    }
  }

  #spawn(node: Node): void {
    node.stopped = false;
    node.process = spawnJvm({
      jars: this.#jars,
      main: kafkaLine(this.version).brokerMain,
      args: [node.configPath],
      heap: Heap.broker,
      logConfigFlag: node.logConfigFlag,
      cwd: node.dir,
      outputFile: join(node.dir, 'stdout.log'),
    });
  }

  /** Waits until every running broker answers Metadata listing exactly the running brokers and
   *  accepts connections on its SASL listener; fails fast when a broker process dies. */
  async #waitReady(): Promise<void> {
    await pollUntil(
      async () => {
        const running = this.#nodes.filter((n) => n.process?.isRunning());
        const died = this.#nodes.find((n) => !n.stopped && n.process && !n.process.isRunning());
        if (died) this.#throwDied(died);
        const expected = running
          .map((n) => n.address.nodeId)
          .sort()
          .join(',');
        for (const node of running) {
          const a = node.address;
          // Metadata v4 is served by every Kafka from 1.0 to 4.x; no topics asks for brokers and cluster id only.
          const snapshot = await sendRequest<MetadataResponse>(a.host, a.plaintextPort, ApiKey.Metadata, 4, {
            ...defaultMetadataRequest(),
            topics: [],
            allowAutoTopicCreation: false,
          }).catch(() => undefined);
          if (!snapshot || snapshot.clusterId !== this.clusterId) return undefined;
          if (
            snapshot.brokers
              .map((b) => b.nodeId)
              .sort()
              .join(',') !== expected
          )
            return undefined;
          if (!(await canConnect(a.host, a.saslPort))) return undefined;
        }
        return true;
      },
      START_TIMEOUT_MS,
      () =>
        new TestBedError(
          TestBedErrorCode.StartTimeout,
          `cluster "${this.name}" (Kafka ${this.version}) was not ready within ${START_TIMEOUT_MS / 1000} s; ` +
            `broker logs are under ${this.dir}:\n` +
            this.#nodes.map((n) => `--- broker ${n.address.nodeId}\n${tailFile(join(n.dir, 'server.log'), 15)}`).join('\n'),
        ),
    );
  }

  #throwDied(node: Node): never {
    throw new TestBedError(
      TestBedErrorCode.ProcessExited,
      `broker ${node.address.nodeId} of cluster "${this.name}" exited during start-up (exit ${node.process?.status?.code}); ` +
        `see ${node.dir}:\n${tailFile(join(node.dir, 'stdout.log'), 10)}\n${tailFile(join(node.dir, 'server.log'), 25)}`,
    );
  }
}
