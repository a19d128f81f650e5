// A client pair (producer + group consumer on one topic) that runs as ONE child process speaking
// the long-running clients' JSON-lines protocol (rdkafka_switch_client.py, franz-switch,
// sarama-switch), as a ScenarioClient of the switchover scenario (src/scenario/switchover.ts); and
// InProcessRun, the produce loop and stop sequence of the pairs that run in this process instead.
import type { ScenarioClient } from '../../../src/scenario/switchover.ts';
import { JsonLines, PolledPair } from '../../../src/scenario/verifiable-clients.ts';
import { track } from '../clients/common.ts';
import type { LongRunningClient } from './long-running.ts';

/** A scenario pair that can also say which errors its client reported as fatal (the client is
 *  unusable after them, or stopped by itself). */
export interface MatrixClient extends ScenarioClient {
  fatalErrors(): string[];
}

export interface ProcessPairOptions {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  /** The producer's values are `${valuePrefix}${seq}` ("r-" for librdkafka, "f-" franz-go, "s-" sarama). */
  readonly valuePrefix: string;
  readonly start: () => LongRunningClient | Promise<LongRunningClient>;
}

export class ProcessPair extends PolledPair implements MatrixClient {
  readonly name: string;
  readonly description: string;
  readonly topic: string;
  readonly group: string;
  readonly #o: ProcessPairOptions;
  #client: LongRunningClient | undefined;
  readonly #lines = new JsonLines();
  readonly #consumerErrors: string[] = [];
  readonly #fatal: string[] = [];
  readonly #counters = { assigned: 0, revoked: 0, lost: 0, errorCb: 0, consumerErrors: 0, fatal: 0 };
  #stopRequested = false;
  #exit: string | undefined;
  /** Set when the process exited before it was told to stop: how, and what it last logged. */
  #exitedByItself: string | undefined;

  constructor(o: ProcessPairOptions) {
    super();
    this.#o = o;
    this.name = o.name;
    this.description = o.description;
    this.topic = o.topic;
    this.group = o.group;
  }

  async start(): Promise<void> {
    const client = await this.#o.start();
    this.#client = client;
    client.exited.then(
      async (status) => {
        if (this.#stopRequested) return;
        this.#exitedByItself = `the process exited on its own (${JSON.stringify(status)})`;
        await new Promise((r) => setTimeout(r, 300)); // the rest of its stderr
        this.#exitedByItself += `; stderr (end): ${client.stderr.slice(-2500)}`;
      },
      () => {},
    );
    await this.#client.waitFor('started', (ev) => ev.some((e) => e.started === true), 30_000);
  }

  async stopProducing(): Promise<void> {
    const c = this.#client;
    if (c === undefined) return;
    c.send('stop-producing');
    await c.waitFor('producer stopped and flushed', (ev) => ev.some((e) => e.producerStopped === true), 45_000).catch(() => {});
    this.poll();
  }

  async stop(): Promise<void> {
    const c = this.#client;
    if (c === undefined || this.#stopRequested) return;
    this.#stopRequested = true;
    const wasRunning = c.isRunning();
    const status = await c.stop();
    if (wasRunning && (status.code !== 0 || status.signal !== null))
      this.#exit = `exit ${JSON.stringify(status)} when told to stop; stderr: ${c.stderr.slice(-1500)}`;
    this.poll();
  }

  pids(): number[] {
    return [this.#client?.pid ?? -1];
  }

  alive(): boolean {
    return this.#client !== undefined && (this.#client.isRunning() || this.#stopRequested);
  }

  fatalErrors(): string[] {
    this.poll();
    const out = [...this.#fatal];
    if (this.#exitedByItself !== undefined) out.push(this.#exitedByItself);
    return out;
  }

  problems(): string[] {
    this.poll();
    const out: string[] = [];
    if (this.#exitedByItself !== undefined) out.push(this.#exitedByItself);
    if (this.#exit !== undefined) out.push(this.#exit);
    if (this.#fatal.length > 0) out.push(`${this.#fatal.length} fatal error(s): ${this.#fatal.slice(0, 3).join(' | ')}`);
    if (this.sendErrorMessages.length > 0) out.push(`${this.sendErrorMessages.length} send(s) failed, e.g. ${distinct(this.sendErrorMessages).join(' | ')}`);
    if (this.#consumerErrors.length > 0) out.push(`${this.#consumerErrors.length} consumer error(s), e.g. ${distinct(this.#consumerErrors).join(' | ')}`);
    return out;
  }

  counters(): Record<string, number> {
    this.poll();
    return { ...this.#counters };
  }

  /** The client library's log (stderr). */
  log(): string {
    return this.#client?.stderr ?? '';
  }

  protected override poll(): void {
    if (this.#client === undefined) return;
    this.#lines.read(this.#client.stdout, (e) => {
      if (typeof e.ack === 'number')
        this.ackedStamps.push({ value: `${this.#o.valuePrefix}${e.ack}`, at: e.ackAt as number, partition: e.partition as number, offset: e.offset as number });
      else if (typeof e.consumed === 'string')
        this.consumedStamps.push({ value: e.consumed, at: e.at as number, partition: e.partition as number, offset: e.offset as number });
      else if (e.sendError !== undefined) this.sendErrorMessages.push(String(e.error));
      else if (e.fatal !== undefined) {
        this.#fatal.push(String(e.fatal));
        this.#counters.fatal++;
      } else if (e.assigned !== undefined) this.#counters.assigned++;
      else if (e.revoked !== undefined) this.#counters.revoked++;
      else if (e.lost !== undefined) this.#counters.lost++;
      else if (e.errorCb !== undefined) this.#counters.errorCb++;
      else if (e.consumerError !== undefined) {
        this.#counters.consumerErrors++;
        this.#consumerErrors.push(String(e.consumerError));
      }
    });
  }
}

/** The producer and the stop sequence of a pair whose clients run in this process (kafkajs,
 *  @platformatic/kafka), as an application runs them: one send at a time, `intervalMs` apart,
 *  from produce() until stopProducing() or stop(). stop() runs once: it waits for the send in
 *  flight, then `close`s the clients. */
export class InProcessRun {
  readonly #intervalMs: number;
  readonly #close: () => Promise<unknown>;
  #stopping = false;
  #producerStopped = false;
  #producing: Promise<void> = Promise.resolve();
  #untrack: () => void = () => {};

  constructor(intervalMs: number, close: () => Promise<unknown>) {
    this.#intervalMs = intervalMs;
    this.#close = close;
  }

  /** True from the start of stop(). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Has stopAllClients() call stop() (first thing in start(), so that a start that fails halfway is closed too). */
  track(): void {
    this.#untrack = track(() => this.stop());
  }

  /** Starts the loop: send(seq) for seq 0, 1, ...; send reports its outcome itself (it must not throw). */
  produce(send: (seq: number) => Promise<void>): void {
    this.#producing = (async () => {
      for (let seq = 0; !this.#stopping && !this.#producerStopped; seq++) {
        await send(seq);
        await new Promise((r) => setTimeout(r, this.#intervalMs));
      }
    })();
  }

  /** Stops sending (the send in flight finishes); the consumer keeps consuming. */
  async stopProducing(): Promise<void> {
    this.#producerStopped = true;
    await this.#producing;
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#untrack();
    await this.#producing;
    await this.#close();
  }
}

/** Up to `max` different messages (the same error repeated a thousand times says nothing more). */
function distinct(messages: readonly string[], max = 3): string[] {
  return [...new Set(messages)].slice(0, max);
}
