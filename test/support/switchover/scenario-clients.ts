// The librdkafka and kafkajs long-running clients (rdkafka.ts, kafkajs-clients.ts) as client pairs
// of the switchover scenario (src/scenario/switchover.ts), and the four pairs the CI scenario and
// the verification run. Each is a producer and a group consumer on one topic, with each library's
// defaults except acks=all (the other clients' pairs: client-matrix.ts):
// - librdkafka 2.x (confluent-kafka-python from PyPI): enable.idempotence=false and retries=INT32_MAX
//   (message.timeout.ms 300 s), acks=all by default; the consumer auto-commits every 5 s
//   (auto.commit.interval.ms) what the application was handed. One process for both.
// - kafkajs 2.2.4: not idempotent, 5 retries per send (backoff from 300 ms, doubling); sends one record
//   at a time and waits for its ack; consumer.run commits after every batch. In this process.
import type { ScenarioClient, Stamp } from '../../../src/scenario/switchover.ts';
import { VerifiablePair } from '../../../src/scenario/verifiable-clients.ts';
import type { ClusterDescriptor, KafkaTools } from '../../../src/testbed/index.ts';
import type { ClientTarget } from '../clients/common.ts';
import { createTopic } from '../clients/kafkajs.ts';
import { KafkajsAcrossSwitch } from './kafkajs-clients.ts';
import { ProcessPair } from './process-pair.ts';
import { startRdkafkaClient } from './rdkafka.ts';

export class RdkafkaPair extends ProcessPair {
  /** `valueBytes`: values padded to that size (see rdkafka_switch_client.py --value-bytes). */
  constructor(
    name: string,
    target: ClientTarget,
    topic: string,
    group: string,
    intervalMs = 40,
    config: Readonly<Record<string, string>> = {},
    valueBytes = 0,
  ) {
    const settings = [...Object.entries(config).map(([k, v]) => `${k}=${v}`), ...(valueBytes > 0 ? [`${valueBytes}-byte values`] : [])].join(', ');
    super({
      name,
      topic,
      group,
      valuePrefix: 'r-',
      description:
        `librdkafka producer (acks=all, library defaults: not idempotent, retries=INT32_MAX${settings ? `; ${settings}` : ''}), ` +
        `one record every ${intervalMs} ms, and group consumer (auto-commit every 5 s), one process`,
      start: () => startRdkafkaClient(target, topic, group, intervalMs, config, valueBytes),
    });
  }
}

export class KafkajsPair implements ScenarioClient {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  readonly clients: KafkajsAcrossSwitch;
  readonly #acked: Stamp[] = [];
  readonly #consumed: Stamp[] = [];

  constructor(name: string, target: ClientTarget, topic: string, group: string, intervalMs = 40) {
    this.name = name;
    this.topic = topic;
    this.group = group;
    this.clients = new KafkajsAcrossSwitch(target, topic, group, intervalMs);
    this.description =
      `kafkajs producer (acks=-1, library defaults: not idempotent, 5 retries), one send at a time every ${intervalMs} ms, ` +
      'and group consumer (consumer.run, commits after each batch), in the harness process';
  }

  start(): Promise<void> {
    return this.clients.start();
  }

  stopProducing(): Promise<void> {
    return this.clients.stopProducing();
  }

  stop(): Promise<void> {
    return this.clients.stop();
  }

  acked(): readonly Stamp[] {
    const a = this.clients.acked;
    for (let i = this.#acked.length; i < a.length; i++) this.#acked.push({ value: a[i].value, at: a[i].ackAt, partition: a[i].partition, offset: a[i].offset });
    return this.#acked;
  }

  consumed(): readonly Stamp[] {
    const c = this.clients.consumed;
    for (let i = this.#consumed.length; i < c.length; i++)
      this.#consumed.push({ value: c[i].value, at: c[i].at, partition: c[i].partition, offset: c[i].offset });
    return this.#consumed;
  }

  sendErrors(): number {
    return this.clients.sendErrors.length;
  }

  pids(): number[] {
    return [process.pid];
  }

  /** Consumer crashes kafkajs did not restart from (restart=false): it gave the consumer up. */
  fatalErrors(): string[] {
    return this.clients.crashes.filter((c) => !c.restart).map((c) => `consumer crashed and was not restarted: ${c.error}`);
  }

  /** kafkajs restarts a crashed consumer unless the crash says restart=false: then it gave up. */
  alive(): boolean {
    return this.clients.crashes.every((c) => c.restart);
  }

  problems(): string[] {
    const out: string[] = [];
    for (const c of this.clients.crashes)
      out.push(`consumer crashed at ${new Date(c.at).toISOString()} (${c.restart ? 'restarted by kafkajs' : 'NOT restarted'}): ${c.error}`);
    const e = this.clients.sendErrors;
    if (e.length > 0)
      out.push(
        `${e.length} send(s) failed, e.g. ${e
          .slice(0, 3)
          .map((x) => x.error)
          .join(' | ')}`,
      );
    return out;
  }

  counters(): Record<string, number> {
    return { groupJoins: this.clients.groupJoins.length, crashes: this.clients.crashes.length, warnings: this.clients.warnings().length };
  }
}

export interface ScenarioPairsOptions {
  readonly tools: KafkaTools;
  /** The gateway route the clients connect to (SASL/PLAIN as alice). */
  readonly bootstrap: string;
  /** Start of every topic and group name (MirrorMaker must replicate `${prefix}-.*`). */
  readonly prefix: string;
  /** End of every topic and group name (e.g. a run id), so that runs do not share topics. */
  readonly suffix: string;
  /** Records per second of each Java producer (default 100). */
  readonly javaThroughput?: number;
  /** Milliseconds between the librdkafka and the kafkajs sends (default 40). */
  readonly intervalMs?: number;
}

const ALICE = { username: 'alice', password: 'alice-secret' } as const;

/**
 * The scenario's four client pairs, each on a topic of its own: Java idempotent producer with a
 * manual-commit consumer, Java non-idempotent producer with an auto-commit consumer, librdkafka,
 * kafkajs. Create their topics (createScenarioTopics) before starting them.
 */
export function scenarioPairs(o: ScenarioPairsOptions): ScenarioClient[] {
  const name = (what: string) => `${o.prefix}-${what}-${o.suffix}`;
  const target: ClientTarget = { bootstrap: o.bootstrap, sasl: ALICE };
  const java = (what: string, idempotent: boolean, autoCommit: boolean, label: string) =>
    new VerifiablePair({
      tools: o.tools,
      name: label,
      bootstrap: o.bootstrap,
      topic: name(what),
      group: name(`${what}-group`),
      idempotent,
      autoCommit,
      throughput: o.javaThroughput ?? 100,
    });
  return [
    java('java-idem', true, false, 'Java idempotent / manual commit'),
    java('java-plain', false, true, 'Java non-idempotent / auto-commit'),
    new RdkafkaPair('librdkafka', target, name('rdkafka'), name('rdkafka-group'), o.intervalMs ?? 40),
    new KafkajsPair('kafkajs', target, name('kafkajs'), name('kafkajs-group'), o.intervalMs ?? 40),
  ];
}

/** Creates each topic (3 partitions unless told) on every cluster, directly (not through the gateway). */
export async function createScenarioTopics(clusters: readonly ClusterDescriptor[], topics: readonly string[], partitions = 3): Promise<void> {
  await Promise.all(clusters.flatMap((c) => topics.map((topic) => createTopic({ bootstrap: c.bootstrap() }, topic, { partitions, timeoutMs: 60_000 }))));
}
