// @platformatic/kafka 2.12.1 (pure TypeScript, in-process). It has no logger; the driver records
// its connection and group events in a ring buffer, shown only in the error of a failed step.
import {
  Admin,
  type BaseOptions,
  Consumer,
  connectionsConnectsChannel,
  type Message,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  SASLMechanisms,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import {
  type ClientDriver,
  type ClientTarget,
  type ClusterMetadata,
  type ConsumedRecord,
  clientId,
  DEFAULT_TIMEOUT_MS,
  LogRing,
  type ProduceMessage,
  runInProcess,
  type StepOptions,
  sortMetadata,
} from './common.ts';

const CLIENT = 'platformatic';

/** Where a client connects and how it logs in: the target's brokers, and its SASL/PLAIN user when it has one. */
export function connectionOptions(target: ClientTarget): Pick<BaseOptions, 'bootstrapBrokers' | 'sasl'> {
  return {
    bootstrapBrokers: target.bootstrap.split(','),
    ...(target.sasl ? { sasl: { mechanism: SASLMechanisms.PLAIN, username: target.sasl.username, password: target.sasl.password } } : {}),
  };
}

function baseOptions(target: ClientTarget, timeoutMs: number): BaseOptions {
  return {
    clientId: clientId('turnout-test-platformatic'),
    ...connectionOptions(target),
    connectTimeout: Math.min(timeoutMs, 5_000),
    retries: 5,
    retryDelay: 250,
  };
}

const LOGGED_EVENTS = [
  'client:broker:connect',
  'client:broker:disconnect',
  'client:broker:failed',
  'client:broker:sasl:handshake',
  'consumer:group:join',
  'consumer:group:leave',
  'consumer:group:rejoin',
  'consumer:group:rebalance',
  'consumer:heartbeat:error',
  'consumer:group:autocommit:error',
];

// A failed connection's event does not carry the error (e.g. a SASL authentication failure, which
// the client retries until its deadline); the connects tracing channel does, keyed by connection.
const connectErrors = new WeakMap<object, Error>();
connectionsConnectsChannel.error.subscribe((context) => {
  const c = context as { connection?: object; error?: Error };
  if (c.connection && c.error) connectErrors.set(c.connection, c.error);
});

function describeError(err: Error): string {
  return err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message;
}

/** Records the client's events (broker address and error message only: payloads hold sockets). */
function recordEvents(client: { on(event: string, listener: (...args: unknown[]) => void): unknown }, log: LogRing): void {
  for (const event of LOGGED_EVENTS) {
    client.on(event, (payload?: unknown) => {
      const p = (payload ?? {}) as { broker?: { host: string; port: number }; connection?: object; error?: Error };
      const broker = p.broker ? ` ${p.broker.host}:${p.broker.port}` : '';
      const cause = p.error ?? (p.connection ? connectErrors.get(p.connection) : undefined);
      const error = cause ? ` error: ${describeError(cause)}` : '';
      log.push(`${new Date().toISOString()} ${event}${broker}${error}`);
    });
  }
  // Without a listener an EventEmitter throws 'error' (the consumer emits one when a rejoin fails
  // for good), which would end the whole test process; a step that cannot go on then times out
  // with this line in its log.
  client.on('error', (err?: unknown) => log.push(`${new Date().toISOString()} error: ${err instanceof Error ? describeError(err) : String(err)}`));
}

export async function produce(target: ClientTarget, topic: string, messages: readonly ProduceMessage[], options: StepOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = new LogRing();
  const producer = new Producer({ ...baseOptions(target, timeoutMs), serializers: stringSerializers, acks: ProduceAcks.ALL, autocreateTopics: true });
  recordEvents(producer, log);
  await runInProcess({
    client: CLIENT,
    step: 'produce',
    timeoutMs,
    log,
    close: () => producer.close(),
    work: async () => void (await producer.send({ messages: messages.map((m) => ({ topic, key: m.key, value: m.value })) })),
  });
}

export type StringMessage = Message<string, string, string, string>;

export async function consumeGroup(target: ClientTarget, topic: string, group: string, count: number, timeoutMs: number): Promise<ConsumedRecord[]> {
  const log = new LogRing();
  const consumer = new Consumer({
    ...baseOptions(target, timeoutMs),
    groupId: group,
    deserializers: stringDeserializers,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    // close() waits for the fetch in flight; a short long-poll keeps that wait short.
    maxWaitTime: 250,
  });
  recordEvents(consumer, log);
  const records: ConsumedRecord[] = [];
  return runInProcess({
    client: CLIENT,
    step: 'consumeGroup',
    timeoutMs,
    log,
    close: () => consumer.close(true),
    progress: () => `${records.length} of ${count} records consumed`,
    work: async () => {
      // COMMITTED + fallback EARLIEST is group semantics: resume from the group's offsets, or
      // start at the beginning when it has none (the default is LATEST for both).
      const stream = await consumer.consume({
        topics: [topic],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
        autocommit: false,
      });
      const last = new Map<number, StringMessage>();
      try {
        if (count > 0) {
          for await (const message of stream as AsyncIterable<StringMessage>) {
            records.push({
              ...(message.key !== undefined ? { key: message.key } : {}),
              value: message.value ?? '',
              partition: message.partition,
              offset: message.offset,
            });
            last.set(message.partition, message);
            if (records.length >= count) break;
          }
          if (records.length < count) throw new Error(`the message stream ended after ${records.length} of ${count} records`);
        }
        // commit() of a message commits its offset + 1 for its partition.
        for (const message of last.values()) await message.commit();
      } finally {
        await stream.close();
      }
      return records;
    },
  });
}

export async function listMetadata(target: ClientTarget, options: StepOptions = {}): Promise<ClusterMetadata> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = new LogRing();
  const admin = new Admin(baseOptions(target, timeoutMs));
  recordEvents(admin, log);
  return runInProcess({
    client: CLIENT,
    step: 'listMetadata',
    timeoutMs,
    log,
    close: () => admin.close(),
    work: async () => {
      const topics = await admin.listTopics({ includeInternals: true });
      const metadata = await admin.metadata({ topics: [], forceUpdate: true });
      const brokers = [...metadata.brokers].map(([nodeId, b]) => ({ nodeId, host: b.host, port: b.port }));
      return sortMetadata({ brokers, topics });
    },
  });
}

export const platformaticDriver: ClientDriver = { name: CLIENT, produce, consumeGroup, listMetadata };
