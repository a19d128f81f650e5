// The librdkafka and kafkajs long-running clients (rdkafka.ts, kafkajs-clients.ts) as client pairs
// of the switchover scenario (src/scenario/switchover.ts). Each is a producer and a group consumer
// on one topic, with each library's defaults except acks=all:
// - librdkafka 2.x (confluent-kafka-python): enable.idempotence=false and retries=INT32_MAX
//   (message.timeout.ms 300 s), acks=all by default; the consumer auto-commits every 5 s
//   (auto.commit.interval.ms) what the application was handed. One process for both.
// - kafkajs 2.2.4: not idempotent, 5 retries per send (backoff from 300 ms, doubling); sends one record
//   at a time and waits for its ack; consumer.run commits after every batch. In this process.
import type { ScenarioClient, Stamp } from '../../../src/scenario/switchover.ts';
import { JsonLines, VerifiablePair } from '../../../src/scenario/verifiable-clients.ts';
import type { ClusterDescriptor, KafkaTools } from '../../../src/testbed/index.ts';
import { createTopic } from '../clients/kafkajs.ts';
import type { ClientTarget } from '../clients/common.ts';
import { KafkajsAcrossSwitch } from './kafkajs-clients.ts';
import type { LongRunningClient } from './long-running.ts';
import { startRdkafkaClient } from './rdkafka.ts';

export class RdkafkaPair implements ScenarioClient {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  readonly #target: ClientTarget;
  readonly #intervalMs: number;
  readonly #config: Readonly<Record<string, string>>;
  #client: LongRunningClient | undefined;
  readonly #lines = new JsonLines();
  readonly #acked: Stamp[] = [];
  readonly #consumed: Stamp[] = [];
  readonly #sendErrors: string[] = [];
  readonly #counters = { assigned: 0, revoked: 0, lost: 0, errorCb: 0, consumerErrors: 0 };
  #producerStopped = false;
  #stopRequested = false;
  #exit: string | undefined;

  constructor(name: string, target: ClientTarget, topic: string, group: string, intervalMs = 40, config: Readonly<Record<string, string>> = {}) {
    this.name = name;
    this.#target = target;
    this.topic = topic;
    this.group = group;
    this.#intervalMs = intervalMs;
    this.#config = config;
    const settings = Object.entries(config).map(([k, v]) => `${k}=${v}`).join(', ');
    this.description = `librdkafka producer (acks=all, library defaults: not idempotent, retries=INT32_MAX${settings ? `; ${settings}` : ''}), ` +
      `one record every ${intervalMs} ms, and group consumer (auto-commit every 5 s), one process`;
  }

  async start(): Promise<void> {
    this.#client = startRdkafkaClient(this.#target, this.topic, this.group, this.#intervalMs, this.#config);
    await this.#client.waitFor('started', (ev) => ev.some((e) => e.started === true), 30_000);
  }

  async stopProducing(): Promise<void> {
    const c = this.#client;
    if (c === undefined) return;
    c.send('stop-producing');
    await c.waitFor('producer stopped and flushed', (ev) => ev.some((e) => e.producerStopped === true), 45_000).catch(() => {});
    this.#producerStopped = true;
    this.#poll();
  }

  async stop(): Promise<void> {
    const c = this.#client;
    if (c === undefined || this.#stopRequested) return;
    this.#stopRequested = true;
    this.#producerStopped = true;
    const wasRunning = c.isRunning();
    const status = await c.stop();
    if (wasRunning && (status.code !== 0 || status.signal !== null)) this.#exit = `exit ${JSON.stringify(status)} when told to stop; stderr: ${c.stderr.slice(-1500)}`;
    this.#poll();
  }

  acked(): readonly Stamp[] {
    this.#poll();
    return this.#acked;
  }

  consumed(): readonly Stamp[] {
    this.#poll();
    return this.#consumed;
  }

  sendErrors(): number {
    this.#poll();
    return this.#sendErrors.length;
  }

  pids(): number[] {
    return [this.#client?.pid ?? -1];
  }

  alive(): boolean {
    return this.#client !== undefined && (this.#client.isRunning() || this.#stopRequested);
  }

  problems(): string[] {
    this.#poll();
    const out: string[] = [];
    const c = this.#client;
    if (c !== undefined && !c.isRunning() && !this.#stopRequested) out.push(`exited on its own (${JSON.stringify(c.status)}); stderr: ${c.stderr.slice(-1500)}`);
    if (this.#exit !== undefined) out.push(this.#exit);
    if (this.#sendErrors.length > 0) out.push(`${this.#sendErrors.length} send(s) failed, e.g. ${this.#sendErrors.slice(0, 3).join(' | ')}`);
    return out;
  }

  counters(): Record<string, number> {
    this.#poll();
    return { ...this.#counters };
  }

  /** librdkafka's log (stderr). */
  log(): string {
    return this.#client?.stderr ?? '';
  }

  #poll(): void {
    if (this.#client === undefined) return;
    this.#lines.read(this.#client.stdout, (e) => {
      if (typeof e.ack === 'number') this.#acked.push({ value: `r-${e.ack}`, at: e.ackAt as number, partition: e.partition as number, offset: e.offset as number });
      else if (typeof e.consumed === 'string') this.#consumed.push({ value: e.consumed, at: e.at as number, partition: e.partition as number, offset: e.offset as number });
      else if (e.sendError !== undefined) this.#sendErrors.push(String(e.error));
      else if (e.assigned !== undefined) this.#counters.assigned++;
      else if (e.revoked !== undefined) this.#counters.revoked++;
      else if (e.lost !== undefined) this.#counters.lost++;
      else if (e.errorCb !== undefined) this.#counters.errorCb++;
      else if (e.consumerError !== undefined) this.#counters.consumerErrors++;
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
    this.description = `kafkajs producer (acks=-1, library defaults: not idempotent, 5 retries), one send at a time every ${intervalMs} ms, ` +
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
    for (let i = this.#consumed.length; i < c.length; i++) this.#consumed.push({ value: c[i].value, at: c[i].at, partition: c[i].partition, offset: c[i].offset });
    return this.#consumed;
  }

  sendErrors(): number {
    return this.clients.sendErrors.length;
  }

  pids(): number[] {
    return [process.pid];
  }

  /** kafkajs restarts a crashed consumer unless the crash says restart=false: then it gave up. */
  alive(): boolean {
    return this.clients.crashes.every((c) => c.restart);
  }

  problems(): string[] {
    const out: string[] = [];
    for (const c of this.clients.crashes) out.push(`consumer crashed at ${new Date(c.at).toISOString()} (${c.restart ? 'restarted by kafkajs' : 'NOT restarted'}): ${c.error}`);
    const e = this.clients.sendErrors;
    if (e.length > 0) out.push(`${e.length} send(s) failed, e.g. ${e.slice(0, 3).map((x) => x.error).join(' | ')}`);
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
  const java = (what: string, idempotent: boolean, autoCommit: boolean, label: string) => new VerifiablePair({
    tools: o.tools, name: label, bootstrap: o.bootstrap, topic: name(what), group: name(`${what}-group`), idempotent, autoCommit, throughput: o.javaThroughput ?? 100,
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
