// kafkajs 2.2.4 (pure JavaScript, in-process). Its log goes to a ring buffer, shown only in the
// error of a failed step. Every client is disconnected when its step ends, fails or times out.
import { type Admin, Kafka, type KafkaConfig, type LogEntry, logLevel, Partitioners } from 'kafkajs';
import {
  type ClientDriver,
  type ClientTarget,
  type ClusterMetadata,
  type ConsumedRecord,
  clientId,
  DEFAULT_TIMEOUT_MS,
  LogRing,
  nextOffsets,
  type ProduceMessage,
  runInProcess,
  type StepOptions,
  sortMetadata,
} from './common.ts';

const CLIENT = 'kafkajs';

// kafkajs 2.2.4 arms a timer with a negative delay after every response (RequestQueue
// scheduleCheckPendingRequests, with throttledUntil = -1); Node 23+ reports that once per process
// as TimeoutNegativeWarning and uses 1 ms, which is what kafkajs meant. Drop that one warning when
// kafkajs raised it; every other warning, the same kind from anywhere else included, still shows.
const warningListeners = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'TimeoutNegativeWarning' && warning.stack?.includes('/node_modules/kafkajs/')) return;
  for (const listener of warningListeners) listener(warning);
});

const LEVEL_NAMES: Record<number, string> = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' };

function connect(target: ClientTarget, log: LogRing, timeoutMs: number): Kafka {
  const config: KafkaConfig = {
    clientId: clientId('turnout-test-kafkajs'),
    brokers: target.bootstrap.split(','),
    connectionTimeout: Math.min(timeoutMs, 10_000),
    // kafkajs retries for ~30 s by default; a driver step has its own deadline, keep retries inside it.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    logLevel: logLevel.INFO,
    logCreator: () => (entry: LogEntry) => {
      const { message, timestamp, logger: _, ...extra } = entry.log;
      log.push(`${timestamp} ${LEVEL_NAMES[entry.level] ?? entry.level} [${entry.namespace}] ${message} ${JSON.stringify(extra)}`);
    },
  };
  if (target.sasl) config.sasl = { mechanism: 'plain', username: target.sasl.username, password: target.sasl.password };
  return new Kafka(config);
}

export async function produce(target: ClientTarget, topic: string, messages: readonly ProduceMessage[], options: StepOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = new LogRing();
  // The default partitioner of kafkajs 2.x is the Java client's murmur2 one; naming it silences
  // the "default partitioner changed" warning.
  const producer = connect(target, log, timeoutMs).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  await runInProcess({
    client: CLIENT,
    step: 'produce',
    timeoutMs,
    log,
    close: () => producer.disconnect(),
    work: async () => {
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key ?? null, value: m.value })) });
    },
  });
}

export async function consumeGroup(target: ClientTarget, topic: string, group: string, count: number, timeoutMs: number): Promise<ConsumedRecord[]> {
  const log = new LogRing();
  const consumer = connect(target, log, timeoutMs).consumer({
    groupId: group,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    // disconnect() waits for the fetch in flight; a short long-poll keeps that wait short.
    maxWaitTimeInMs: 250,
  });
  const records: ConsumedRecord[] = [];
  return runInProcess({
    client: CLIENT,
    step: 'consumeGroup',
    timeoutMs,
    log,
    close: () => consumer.disconnect(),
    progress: () => `${records.length} of ${count} records consumed`,
    work: async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        // A crash on a retriable error (e.g. the group coordinator still loading on a fresh
        // cluster) is followed by kafkajs restarting the consumer; only a final one is fatal.
        consumer.on(consumer.events.CRASH, (e) => !e.payload.restart && reject(e.payload.error));
        if (count === 0) return resolve();
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              if (records.length >= count) return;
              records.push({
                ...(message.key ? { key: message.key.toString() } : {}),
                value: message.value?.toString() ?? '',
                partition,
                offset: BigInt(message.offset),
              });
              if (records.length === count) resolve();
            },
          })
          .catch(reject);
      });
      await consumer.commitOffsets([...nextOffsets(records)].map(([partition, offset]) => ({ topic, partition, offset: offset.toString() })));
      return records;
    },
  });
}

export async function listMetadata(target: ClientTarget, options: StepOptions = {}): Promise<ClusterMetadata> {
  return withAdmin(target, 'listMetadata', options.timeoutMs, async (admin) => {
    const cluster = await admin.describeCluster();
    const topics = await admin.listTopics();
    return sortMetadata({ brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })), topics });
  });
}

export interface CreateTopicOptions extends StepOptions {
  readonly partitions?: number;
  /** Default: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
}

/** Creates `topic` and waits until every partition has a leader. */
export async function createTopic(target: ClientTarget, topic: string, options: CreateTopicOptions = {}): Promise<void> {
  const partitions = options.partitions ?? 1;
  await withAdmin(target, 'createTopic', options.timeoutMs, async (admin) => {
    // Not kafkajs's own waitForLeaders: it gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft
    // broker answers until it has applied the new topic's metadata. With several topics created at
    // once on a busy machine that was ~1 creation in 5, against the brokers directly as well.
    await admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic, numPartitions: partitions, replicationFactor: options.replicationFactor ?? -1 }],
    });
    for (;;) {
      try {
        const [described] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        if (described?.partitions.length === partitions && described.partitions.every((p) => p.leader >= 0)) return;
      } catch (err) {
        const type = (err as { type?: string }).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
}

export async function deleteTopic(target: ClientTarget, topic: string, options: StepOptions = {}): Promise<void> {
  await withAdmin(target, 'deleteTopic', options.timeoutMs, (admin) => admin.deleteTopics({ topics: [topic] }));
}

/** Runs `work` with a connected kafkajs admin client as one driver step (deadline, log, disconnect). */
export async function withAdmin<T>(target: ClientTarget, step: string, timeoutMs = DEFAULT_TIMEOUT_MS, work: (admin: Admin) => Promise<T>): Promise<T> {
  const log = new LogRing();
  const admin = connect(target, log, timeoutMs).admin();
  return runInProcess({
    client: CLIENT,
    step,
    timeoutMs,
    log,
    close: () => admin.disconnect(),
    work: async () => {
      await admin.connect();
      return work(admin);
    },
  });
}

export const kafkajsDriver: ClientDriver = { name: CLIENT, produce, consumeGroup, listMetadata };
