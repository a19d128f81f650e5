// MirrorMaker 2 in dedicated mode, one replication direction per instance (source -> target).
// Topics keep their names (IdentityReplicationPolicy), consumer group offsets are translated and
// written to the target every second, and MirrorMaker's own topics are never replicated, so that a
// blue -> green and a green -> blue instance can run side by side without feeding each other. If
// both also replicate the same topics, both need `bothWays` (see bothWaysConfig below).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderProperties } from './broker-config.ts';
import type { KafkaCluster } from './cluster.ts';
import { TestBedError, TestBedErrorCode } from './errors.ts';
import { resolveKafka } from './jars.ts';
import { Heap, spawnJvm, writeLogConfig } from './jvm.ts';
import type { GroupProcess } from './processes.ts';
import type { MirrorMakerInfo, MirrorMakerSpec } from './types.ts';
import { kafkaLine } from './versions.ts';
import { pollUntil, tailFile } from './wait.ts';

const START_TIMEOUT_MS = 90_000;
const CONNECTORS = ['MirrorSourceConnector', 'MirrorCheckpointConnector', 'MirrorHeartbeatConnector'] as const;

// Defaults of topics.exclude plus what MirrorMaker itself writes: with identity names an offset-syncs
// or checkpoints topic would otherwise flow back and forth between two opposite instances.
const TOPICS_EXCLUDE = [
  '.*[\\-\\.]internal', // mm2-offsets/-configs/-status.<alias>.internal, <alias>.checkpoints.internal, mm2-offset-syncs.<alias>.internal
  '.*\\.replica',
  '__.*', // __consumer_offsets, __transaction_state, ...
  'heartbeats',
  'mm2-.*',
  'connect-.*',
  '_turnout.*', // Turnout's switch state: each cluster keeps its own copy, written by the gateways
].join(',');

export function mirrorMakerConfig(spec: MirrorMakerSpec, source: KafkaCluster, target: KafkaCluster): Record<string, string> {
  const s = source.name;
  const t = target.name;
  return {
    clusters: `${s},${t}`,
    [`${s}.bootstrap.servers`]: bootstrapOf(source),
    [`${t}.bootstrap.servers`]: bootstrapOf(target),
    [`${s}->${t}.enabled`]: 'true',
    [`${t}->${s}.enabled`]: 'false',
    [`${s}->${t}.topics`]: spec.topics ?? '.*',
    [`${s}->${t}.groups`]: spec.groups ?? '.*',
    'topics.exclude': TOPICS_EXCLUDE,
    'replication.policy.class': 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy',

    'sync.group.offsets.enabled': 'true',
    'sync.group.offsets.interval.seconds': '1',
    'emit.checkpoints.enabled': 'true',
    'emit.checkpoints.interval.seconds': '1',
    // MirrorSourceConnector replicates a topic named "heartbeats" whatever topics.exclude says, and
    // with identity names nothing marks a heartbeat as already replicated: opposite instances would
    // bounce every heartbeat between the clusters forever. So no heartbeats are emitted.
    'emit.heartbeats.enabled': 'false',
    'refresh.topics.interval.seconds': '1',
    'refresh.groups.interval.seconds': '1',
    // The Connect worker of a flow reads its settings from the target cluster's prefix (few
    // top-level ones pass). Source offsets, and with them the offset syncs that checkpoint
    // translation relies on, are flushed every second.
    [`${t}.offset.flush.interval.ms`]: '1000',
    // No authorizer runs on the test clusters, so there are no ACLs to copy.
    'sync.topic.acls.enabled': 'false',
    'tasks.max': '1',
    // Scanning the classpath for Connect plugins by reflection costs seconds per herder; every
    // plugin MirrorMaker needs is declared through ServiceLoader manifests.
    'plugin.discovery': 'service_load',
    [`${t}.plugin.discovery`]: 'service_load',

    'replication.factor': '1',
    'checkpoints.topic.replication.factor': '1',
    'heartbeats.topic.replication.factor': '1',
    'offset-syncs.topic.replication.factor': '1',
    'offset.storage.replication.factor': '1',
    'status.storage.replication.factor': '1',
    'config.storage.replication.factor': '1',
    ...(spec.bothWays ? bothWaysConfig(`${s}->${t}.`) : {}),
    ...spec.config,
  };
}

/** Header that marks a record as a MirrorMaker copy (set with `bothWays`); its value is null. */
export const REPLICATED_HEADER = 'turnout.replicated';

// Loop protection for two opposite instances with identical topic names, as Kafka Connect
// transforms of the flow: drop records that already carry REPLICATED_HEADER (copies made by the
// opposite instance), then add the header to everything that is copied. MirrorSourceTask takes a
// dropped record's null metadata as "filtered, no offset sync", so offset translation only rests
// on the records actually copied.
//
// MirrorMaker has no per-connector prefix: settings under "source->target." reach the checkpoint
// and heartbeat connectors too. That is harmless: their records never carry the header, so none is
// dropped, and the extra header on a checkpoint record is ignored by whoever reads it.
//
// The header's value is null ("null" parses to no schema and no value) because MirrorMaker's
// header converter is ByteArrayConverter, which fails the task on any header InsertHeader can make
// from a literal (a string such as the source cluster's name has schema STRING). Switching the
// header converter instead would re-encode the copied records' own binary headers.
function bothWaysConfig(flow: string): Record<string, string> {
  return {
    [`${flow}transforms`]: 'skipReplicated,markReplicated',
    [`${flow}transforms.skipReplicated.type`]: 'org.apache.kafka.connect.transforms.Filter',
    [`${flow}transforms.skipReplicated.predicate`]: 'isReplicated',
    [`${flow}transforms.markReplicated.type`]: 'org.apache.kafka.connect.transforms.InsertHeader',
    [`${flow}transforms.markReplicated.header`]: REPLICATED_HEADER,
    [`${flow}transforms.markReplicated.value.literal`]: 'null',
    [`${flow}predicates`]: 'isReplicated',
    [`${flow}predicates.isReplicated.type`]: 'org.apache.kafka.connect.transforms.predicates.HasHeaderKey',
    [`${flow}predicates.isReplicated.name`]: REPLICATED_HEADER,
  };
}

function bootstrapOf(cluster: KafkaCluster): string {
  return cluster
    .info()
    .brokers.map((b) => `${b.host}:${b.plaintextPort}`)
    .join(',');
}

export class MirrorMaker {
  readonly spec: MirrorMakerSpec;
  readonly version: string;
  readonly dir: string;
  readonly #logFile: string;
  #process: GroupProcess | undefined;
  #startupMs = 0;

  private constructor(spec: MirrorMakerSpec, version: string, dir: string) {
    this.spec = spec;
    this.version = version;
    this.dir = dir;
    this.#logFile = join(dir, 'mirror-maker.log');
  }

  /** Starts MirrorMaker 2 from `source` to `target` and waits until its connectors have started. */
  static async start(spec: MirrorMakerSpec, source: KafkaCluster, target: KafkaCluster, runDir: string): Promise<MirrorMaker> {
    const started = Date.now();
    const version = spec.kafkaVersion ?? target.version;
    const jars = await resolveKafka(version);
    const dir = join(runDir, `mm2-${spec.name}`);
    mkdirSync(dir, { recursive: true });
    const mm = new MirrorMaker(spec, version, dir);
    const configPath = join(dir, 'mm2.properties');
    writeFileSync(configPath, renderProperties(mirrorMakerConfig(spec, source, target)));
    mm.#process = spawnJvm({
      jars,
      main: kafkaLine(version).mirrorMakerMain,
      // Only the herder that writes to the target: without --clusters MirrorMaker also runs one
      // for the disabled reverse flow, whose Connect group would clash with an opposite instance.
      args: [configPath, '--clusters', target.name],
      heap: Heap.mirrorMaker,
      logConfigFlag: writeLogConfig(version, dir, { file: mm.#logFile }),
      cwd: dir,
      outputFile: join(dir, 'stdout.log'),
    });
    try {
      await mm.#waitReady();
    } catch (err) {
      await mm.stop();
      throw err;
    }
    mm.#startupMs = Date.now() - started;
    return mm;
  }

  info(): MirrorMakerInfo {
    return {
      name: this.spec.name,
      source: this.spec.source,
      target: this.spec.target,
      version: this.version,
      running: this.#process?.isRunning() ?? false,
      connectors: this.#startedConnectors(),
      logDir: this.dir,
      startupMs: this.#startupMs,
    };
  }

  async stop(): Promise<void> {
    await this.#process?.stop('SIGKILL');
  }

  #startedConnectors(): string[] {
    let log = '';
    try {
      log = readFileSync(this.#logFile, 'utf8');
    } catch {
      return [];
    }
    return CONNECTORS.filter((c) => log.includes(`Finished creating connector ${c}`));
  }

  async #waitReady(): Promise<void> {
    await pollUntil(
      () => {
        if (!this.#process?.isRunning()) {
          throw new TestBedError(
            TestBedErrorCode.ProcessExited,
            `MirrorMaker "${this.spec.name}" exited during start-up; see ${this.dir}:\n` +
              `${tailFile(join(this.dir, 'stdout.log'), 10)}\n${tailFile(this.#logFile, 25)}`,
          );
        }
        return this.#startedConnectors().length === CONNECTORS.length ? true : undefined;
      },
      START_TIMEOUT_MS,
      () =>
        new TestBedError(
          TestBedErrorCode.StartTimeout,
          `MirrorMaker "${this.spec.name}" did not start its connectors within ${START_TIMEOUT_MS / 1000} s; ` +
            `see ${this.#logFile}:\n${tailFile(this.#logFile, 25)}`,
        ),
      250,
    );
  }
}
