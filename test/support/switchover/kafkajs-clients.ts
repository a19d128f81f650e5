// kafkajs 2.2.4 as an application would run it across a route switch: one producer sending a
// record at a time (acks=-1, kafkajs's default retries), one group consumer (consumer.run), and
// one admin client, all in this process and created ONCE; nothing here reconnects or recreates
// them. Every log entry is kept with its time, so a test can show what kafkajs said at the switch.
import { type Admin, type Consumer, Kafka, type LogEntry, logLevel, Partitioners, type Producer } from 'kafkajs';
import { type ClientTarget, clientId } from '../clients/common.ts';
import '../clients/kafkajs.ts'; // its process-wide filter for kafkajs's TimeoutNegativeWarning
import { InProcessRun } from './process-pair.ts';

export interface KafkajsLogLine {
  at: number;
  level: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
  namespace: string;
  message: string;
  extra: Record<string, unknown>;
}

export interface Acked {
  seq: number;
  value: string;
  partition: number;
  offset: number;
  sentAt: number;
  ackAt: number;
}
export interface Consumed {
  value: string;
  partition: number;
  offset: number;
  at: number;
}

const LEVELS: Record<number, KafkajsLogLine['level']> = {
  [logLevel.ERROR]: 'ERROR',
  [logLevel.WARN]: 'WARN',
  [logLevel.INFO]: 'INFO',
  [logLevel.DEBUG]: 'DEBUG',
};

export class KafkajsAcrossSwitch {
  readonly log: KafkajsLogLine[] = [];
  readonly acked: Acked[] = [];
  readonly sendErrors: { seq: number; error: string; sentAt: number; failedAt: number }[] = [];
  readonly consumed: Consumed[] = [];
  /** consumer.events.CRASH payloads; restart=false means kafkajs gave the consumer up. */
  readonly crashes: { at: number; error: string; restart: boolean }[] = [];
  readonly groupJoins: { at: number; memberId: string; assignment: unknown }[] = [];
  readonly producer: Producer;
  readonly consumer: Consumer;
  readonly admin: Admin;
  readonly #run: InProcessRun;
  readonly #topic: string;

  constructor(target: ClientTarget, topic: string, group: string, intervalMs: number) {
    this.#topic = topic;
    this.#run = new InProcessRun(intervalMs, () => Promise.allSettled([this.producer.disconnect(), this.consumer.disconnect(), this.admin.disconnect()]));
    const kafka = new Kafka({
      clientId: clientId('turnout-switch-kafkajs'),
      brokers: target.bootstrap.split(','),
      ...(target.sasl ? { sasl: { mechanism: 'plain' as const, username: target.sasl.username, password: target.sasl.password } } : {}),
      logLevel: logLevel.INFO,
      logCreator: () => (entry: LogEntry) => {
        const { message, timestamp: _t, logger: _l, ...extra } = entry.log;
        this.log.push({ at: Date.now(), level: LEVELS[entry.level] ?? 'DEBUG', namespace: entry.namespace, message, extra });
      },
    });
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    this.consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 250 });
    this.admin = kafka.admin();
  }

  async start(): Promise<void> {
    this.#run.track();
    await Promise.all([this.producer.connect(), this.consumer.connect(), this.admin.connect()]);
    this.consumer.on(this.consumer.events.CRASH, (e) => this.crashes.push({ at: Date.now(), error: String(e.payload.error), restart: e.payload.restart }));
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) =>
      this.groupJoins.push({ at: Date.now(), memberId: e.payload.memberId, assignment: e.payload.memberAssignment }),
    );
    await this.consumer.subscribe({ topics: [this.#topic], fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        this.consumed.push({ value: message.value?.toString() ?? '', partition, offset: Number(message.offset), at: Date.now() });
      },
    });
    this.#run.produce(async (seq) => {
      const value = `j-${seq}`;
      const sentAt = Date.now();
      try {
        const [md] = await this.producer.send({ topic: this.#topic, acks: -1, messages: [{ key: `k${seq}`, value }] });
        this.acked.push({ seq, value, partition: md.partition, offset: Number(md.baseOffset), sentAt, ackAt: Date.now() });
      } catch (err) {
        this.sendErrors.push({ seq, error: `${(err as Error).name}: ${(err as Error).message}`, sentAt, failedAt: Date.now() });
      }
    });
  }

  async clusterId(): Promise<{ clusterId: string; brokers: { nodeId: number; host: string; port: number }[] }> {
    const c = await this.admin.describeCluster();
    return { clusterId: c.clusterId, brokers: c.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })).sort((a, b) => a.nodeId - b.nodeId) };
  }

  /** Stops sending (the send in flight finishes); the consumer keeps consuming. */
  stopProducing(): Promise<void> {
    return this.#run.stopProducing();
  }

  stop(): Promise<void> {
    return this.#run.stop();
  }

  /** Log lines at WARN or ERROR logged in [from, to). */
  warnings(from = 0, to = Infinity): string[] {
    return this.log
      .filter((l) => (l.level === 'WARN' || l.level === 'ERROR') && l.at >= from && l.at < to)
      .map((l) => `${l.level} [${l.namespace}] ${l.message} ${JSON.stringify(l.extra)}`);
  }
}
