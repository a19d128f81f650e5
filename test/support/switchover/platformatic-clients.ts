// @platformatic/kafka 2.12.1 as an application would run it across a route switch, as a scenario
// pair: one Producer sending a record at a time, one Consumer with a message stream, both created
// ONCE in this process and never recreated. Library defaults (not idempotent, 3 retries 1 s apart,
// consumer autocommit, classic group with a 60 s session) except acks=all (its default without
// idempotence is the leader only) and where a new group starts: the stream resumes from the
// group's committed offsets, or the earliest when there are none (auto.offset.reset=earliest, as
// every pair of the suite; the library's default is the latest).
import {
  Consumer,
  type MessagesStream,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import type { Stamp } from '../../../src/scenario/switchover.ts';
import { type ClientTarget, clientId } from '../clients/common.ts';
import { connectionOptions, type StringMessage } from '../clients/platformatic.ts';
import { InProcessRun, type MatrixClient } from './process-pair.ts';

const EVENTS = [
  'client:broker:disconnect',
  'client:broker:failed',
  'consumer:group:join',
  'consumer:group:leave',
  'consumer:group:rejoin',
  'consumer:heartbeat:error',
];

export class PlatformaticPair implements MatrixClient {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  readonly #run: InProcessRun;
  readonly #producer: Producer<string, string, string, string>;
  readonly #consumer: Consumer<string, string, string, string>;
  #stream: MessagesStream<string, string, string, string> | undefined;
  readonly #acked: Stamp[] = [];
  readonly #consumed: Stamp[] = [];
  readonly #sendErrors: string[] = [];
  readonly #streamErrors: string[] = [];
  /** 'error' events of the clients themselves (the consumer emits one when a rejoin fails for good). */
  readonly #clientErrors: string[] = [];
  readonly #log: string[] = [];
  #streamClosed = false;
  #closedByItself = false;

  constructor(name: string, target: ClientTarget, topic: string, group: string, intervalMs = 50) {
    this.name = name;
    this.topic = topic;
    this.group = group;
    this.#run = new InProcessRun(intervalMs, async () => {
      await Promise.allSettled([this.#stream?.close(), this.#producer.close()]);
      await this.#consumer.close(true).catch(() => {});
    });
    this.description =
      `@platformatic/kafka producer (acks=all; library defaults: not idempotent, 3 retries 1 s apart), one send at a time every ${intervalMs} ms, ` +
      'and consumer stream (library defaults: autocommit, classic group), in the harness process';
    const base = connectionOptions(target);
    this.#producer = new Producer({
      ...base,
      clientId: clientId('turnout-switch-platformatic-producer'),
      serializers: stringSerializers,
      acks: ProduceAcks.ALL,
    });
    this.#consumer = new Consumer({ ...base, clientId: clientId('turnout-switch-platformatic-consumer'), groupId: group, deserializers: stringDeserializers });
    for (const [role, client] of [
      ['producer', this.#producer],
      ['consumer', this.#consumer],
    ] as [string, { on(event: string, listener: (payload?: unknown) => void): unknown }][]) {
      // An application listens for 'error' (an EventEmitter without a listener throws it, which
      // would end the harness process, not just this client): recorded as the client's fatal error.
      client.on('error', (err?: unknown) => {
        this.#clientErrors.push(`${new Date().toISOString()} ${role}: ${err instanceof Error ? describe(err) : String(err)}`);
      });
      for (const event of EVENTS) {
        client.on(event, (payload?: unknown) => {
          const error = (payload as { error?: Error } | undefined)?.error;
          this.#log.push(`${new Date().toISOString()} ${event}${error ? ` ${error.message}` : ''}`);
        });
      }
    }
  }

  async start(): Promise<void> {
    this.#run.track();
    const stream = await this.#consumer.consume({
      topics: [this.topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    });
    this.#stream = stream;
    stream.on('data', (m: StringMessage) => this.#consumed.push({ value: m.value ?? '', at: Date.now(), partition: m.partition, offset: Number(m.offset) }));
    stream.on('error', (err: Error) => this.#streamErrors.push(`${new Date().toISOString()} ${describe(err)}`));
    stream.on('close', () => {
      this.#streamClosed = true;
      if (!this.#run.stopping) this.#closedByItself = true;
    });
    this.#run.produce(async (seq) => {
      const value = `p-${seq}`;
      try {
        const r = await this.#producer.send({ messages: [{ topic: this.topic, key: `k${seq}`, value }] });
        const o = r.offsets?.[0];
        this.#acked.push({ value, at: Date.now(), partition: o?.partition, offset: o === undefined ? undefined : Number(o.offset) });
      } catch (err) {
        this.#sendErrors.push(describe(err as Error));
      }
    });
  }

  stopProducing(): Promise<void> {
    return this.#run.stopProducing();
  }

  stop(): Promise<void> {
    return this.#run.stop();
  }

  acked(): readonly Stamp[] {
    return this.#acked;
  }

  consumed(): readonly Stamp[] {
    return this.#consumed;
  }

  sendErrors(): number {
    return this.#sendErrors.length;
  }

  pids(): number[] {
    return [process.pid];
  }

  /** The message stream ends only when it is closed; one that closed by itself gave up. */
  alive(): boolean {
    return this.#run.stopping || !this.#streamClosed;
  }

  fatalErrors(): string[] {
    const out = this.#clientErrors.map((e) => `error event: ${e}`);
    if (this.#closedByItself)
      out.push(`the consumer's message stream closed by itself${this.#streamErrors.length ? ` after: ${this.#streamErrors.at(-1)}` : ''}`);
    return out;
  }

  problems(): string[] {
    const out = this.fatalErrors();
    if (this.#streamErrors.length > 0) out.push(`${this.#streamErrors.length} consumer stream error(s), e.g. ${this.#streamErrors.slice(0, 3).join(' | ')}`);
    if (this.#sendErrors.length > 0) out.push(`${this.#sendErrors.length} send(s) failed, e.g. ${[...new Set(this.#sendErrors)].slice(0, 3).join(' | ')}`);
    return out;
  }

  counters(): Record<string, number> {
    const count = (event: string) => this.#log.filter((l) => l.includes(` ${event}`)).length;
    return {
      groupJoins: count('consumer:group:join'),
      rejoins: count('consumer:group:rejoin'),
      heartbeatErrors: count('consumer:heartbeat:error'),
      streamErrors: this.#streamErrors.length,
    };
  }

  /** The client events it logged (disconnects, group changes, heartbeat errors). */
  log(): string {
    return this.#log.join('\n');
  }
}

function describe(err: Error): string {
  const inner = (err as Error & { errors?: Error[] }).errors;
  const nested = Array.isArray(inner) && inner.length ? ` [${[...new Set(inner.map((e) => describe(e)))].join('; ')}]` : '';
  return `${err.name}: ${err.message}${err.cause instanceof Error ? ` (cause: ${err.cause.message})` : ''}${nested}`;
}
