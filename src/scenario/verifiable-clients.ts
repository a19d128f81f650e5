// Kafka's own verification clients as scenario client pairs: org.apache.kafka.tools.VerifiableProducer
// (one JSON line per acknowledged or failed send) and VerifiableConsumer (--verbose: one JSON line
// per consumed record, plus assignments and commits), each a JVM of the test bed's Kafka tools.
// Kafka's system tests check delivery with exactly these two tools.
//
// Settings, and why:
// - acks=-1 (all) on every producer.
// - The tool sets retries=0 unless told otherwise; applications keep Java's default (retry until
//   delivery.timeout.ms, 120 s), so both producers get retries=2147483647.
// - idempotent: enable.idempotence=true (Java's default since 3.0); the broker drops a retried
//   batch it already has, so retries never write a record twice.
// - non-idempotent: enable.idempotence=false with the same retries and Java's default
//   max.in.flight.requests.per.connection=5: a retry after a lost response writes the record again
//   (a duplicate on the log) and may reorder a partition. That is what an application that turned
//   idempotence off gets, and what a gateway that invents errors for forwarded writes would expose.
// - Consumers: --reset-policy earliest, --session-timeout 10000 (classic protocol; with
//   groupProtocol "consumer", KIP-848, the tool gets --group-protocol consumer and no session
//   timeout, which that protocol leaves to the broker and the Java client refuses). Manual commit
//   is the tool's default (commitSync of the consumed positions after every poll); --enable-autocommit uses
//   Java's auto-commit every auto.commit.interval.ms (5 s default), so a group moved at a switch
//   re-reads up to 5 s of records.
// The timestamps are the tools' own: each JSON event carries `timestamp`, the wall clock when the
// ack callback ran (producer_send_success) or when the record was handed to the tool (record_data).
import type { KafkaTools, ToolProcess } from '../testbed/tools.ts';
import { KafkaTool } from '../testbed/versions.ts';
import type { ScenarioClient, Stamp } from './switchover.ts';

export interface VerifiablePairOptions {
  readonly tools: KafkaTools;
  readonly name: string;
  /** The gateway route's bootstrap address. */
  readonly bootstrap: string;
  readonly topic: string;
  readonly group: string;
  readonly idempotent: boolean;
  readonly autoCommit: boolean;
  /** The consumer's group protocol: "classic" (default) or "consumer" (KIP-848). */
  readonly groupProtocol?: 'classic' | 'consumer';
  /** Records per second (default 100). */
  readonly throughput?: number;
  /** SASL/PLAIN user of the test bed (default alice). */
  readonly user?: string;
  readonly producerConfig?: Readonly<Record<string, string>>;
  readonly consumerConfig?: Readonly<Record<string, string>>;
}

export type JsonEvent = Record<string, unknown>;

/** Complete JSON lines of a growing stdout, parsed once each. */
export class JsonLines {
  #cursor = 0;
  read(text: string, each: (e: JsonEvent) => void): void {
    const end = text.lastIndexOf('\n');
    if (end < this.#cursor) return;
    const chunk = text.slice(this.#cursor, end);
    this.#cursor = end + 1;
    for (const line of chunk.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        each(JSON.parse(line) as JsonEvent);
      } catch {
        // not an event (a library printing to stdout)
      }
    }
  }
}

/** The accessors of a client pair whose events are read from its processes' output when asked
 *  (poll): acknowledged and consumed records and failed sends, each current as of the call. */
export abstract class PolledPair {
  protected readonly ackedStamps: Stamp[] = [];
  protected readonly consumedStamps: Stamp[] = [];
  /** One message per failed send. */
  protected readonly sendErrorMessages: string[] = [];

  /** Reads the events the processes wrote since the last poll. */
  protected abstract poll(): void;

  acked(): readonly Stamp[] {
    this.poll();
    return this.ackedStamps;
  }

  consumed(): readonly Stamp[] {
    this.poll();
    return this.consumedStamps;
  }

  sendErrors(): number {
    this.poll();
    return this.sendErrorMessages.length;
  }
}

export class VerifiablePair extends PolledPair implements ScenarioClient {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  readonly #o: VerifiablePairOptions;
  #producer: ToolProcess | undefined;
  #consumer: ToolProcess | undefined;
  #producerStopRequested = false;
  #stopRequested = false;
  #assignments = 0;
  #failedCommits = 0;
  readonly #failedCommitSamples: string[] = [];
  readonly #producerLines = new JsonLines();
  readonly #consumerLines = new JsonLines();

  constructor(o: VerifiablePairOptions) {
    super();
    this.#o = o;
    this.name = o.name;
    this.topic = o.topic;
    this.group = o.group;
    this.description =
      `Java VerifiableProducer (kafka-clients ${o.tools.version}) acks=all, ` +
      `${o.idempotent ? 'idempotent' : 'not idempotent (max.in.flight 5)'}, retries=MAX, ${o.throughput ?? 100}/s; ` +
      `VerifiableConsumer, ${o.autoCommit ? 'auto-commit every 5 s' : 'manual commitSync after every poll'}` +
      `${o.groupProtocol === 'consumer' ? ', group.protocol=consumer (KIP-848)' : ''}`;
  }

  async start(): Promise<void> {
    const { tools, bootstrap } = this.#o;
    const user = this.#o.user ?? 'alice';
    const producerConfig = tools.saslClientConfig(user, undefined, {
      retries: '2147483647',
      'enable.idempotence': String(this.#o.idempotent),
      ...this.#o.producerConfig,
    });
    const consumerConfig = tools.saslClientConfig(user, undefined, { ...this.#o.consumerConfig });
    this.#consumer = tools.spawn(KafkaTool.VerifiableConsumer, [
      ...tools.connectionArgs(KafkaTool.VerifiableConsumer, bootstrap, consumerConfig),
      '--topic',
      this.topic,
      '--group-id',
      this.group,
      '--verbose',
      '--reset-policy',
      'earliest',
      ...(this.#o.groupProtocol === 'consumer' ? ['--group-protocol', 'consumer'] : ['--session-timeout', '10000']),
      ...(this.#o.autoCommit ? ['--enable-autocommit'] : []),
    ]);
    this.#producer = tools.spawn(KafkaTool.VerifiableProducer, [
      ...tools.connectionArgs(KafkaTool.VerifiableProducer, bootstrap, producerConfig),
      '--topic',
      this.topic,
      '--throughput',
      String(this.#o.throughput ?? 100),
      '--max-messages',
      '-1',
      '--acks',
      '-1',
    ]);
  }

  async stopProducing(): Promise<void> {
    this.#producerStopRequested = true;
    await this.#producer?.stop('SIGTERM'); // the tool's shutdown hook closes (flushes) the producer
    this.poll();
  }

  async stop(): Promise<void> {
    this.#producerStopRequested = true;
    this.#stopRequested = true;
    await Promise.all([this.#producer?.stop('SIGTERM'), this.#consumer?.stop('SIGTERM')]);
    this.poll();
  }

  pids(): number[] {
    return [this.#producer?.pid ?? -1, this.#consumer?.pid ?? -1];
  }

  alive(): boolean {
    const p = this.#producer;
    const c = this.#consumer;
    if (p === undefined || c === undefined) return false;
    return (p.isRunning() || this.#producerStopRequested) && (c.isRunning() || this.#stopRequested);
  }

  problems(): string[] {
    this.poll();
    const out: string[] = [];
    for (const [role, p, expected] of [
      ['producer', this.#producer, this.#producerStopRequested],
      ['consumer', this.#consumer, this.#stopRequested],
    ] as const) {
      if (p !== undefined && !p.isRunning() && !expected) out.push(`${role} (pid ${p.pid}) exited on its own; stderr: ${p.stderr.slice(-1500)}`);
    }
    if (this.sendErrorMessages.length > 0) out.push(`${this.sendErrorMessages.length} send(s) failed, e.g. ${this.sendErrorMessages.slice(0, 3).join(' | ')}`);
    if (this.#failedCommits > 0)
      out.push(
        `${this.#failedCommits} offset commit(s) failed (the consumer re-reads from the previous commit), e.g. ${this.#failedCommitSamples.join(' | ')}`,
      );
    return out;
  }

  /** Group events: assignments seen (each rejoin assigns again) and commits that failed. */
  counters(): Record<string, number> {
    this.poll();
    return { assignments: this.#assignments, failedCommits: this.#failedCommits };
  }

  /** The tools' logs (warnings and errors; stderr), for evidence. */
  logs(): { producer: string; consumer: string } {
    return { producer: this.#producer?.stderr ?? '', consumer: this.#consumer?.stderr ?? '' };
  }

  protected override poll(): void {
    if (this.#producer) {
      this.#producerLines.read(this.#producer.stdout, (e) => {
        if (e.name === 'producer_send_success')
          this.ackedStamps.push({ value: String(e.value), at: Number(e.timestamp), partition: Number(e.partition), offset: Number(e.offset) });
        else if (e.name === 'producer_send_error') this.sendErrorMessages.push(`${String(e.exception)}: ${String(e.message)}`);
      });
    }
    if (this.#consumer) {
      this.#consumerLines.read(this.#consumer.stdout, (e) => {
        if (e.name === 'record_data')
          this.consumedStamps.push({ value: String(e.value), at: Number(e.timestamp), partition: Number(e.partition), offset: Number(e.offset) });
        else if (e.name === 'partitions_assigned') this.#assignments++;
        else if (e.name === 'offsets_committed' && e.success === false) {
          this.#failedCommits++;
          if (this.#failedCommitSamples.length < 3) this.#failedCommitSamples.push(`${new Date(Number(e.timestamp)).toISOString()} ${String(e.error)}`);
        }
      });
    }
  }
}
