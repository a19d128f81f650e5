// Partition leaders move under live clients: with a producer (acks=all) and a consumer group
// running through the gateway, the broker leading most partitions is shut down and restarted, then
// another is killed. Both clients keep going through the gateway (which re-routes them to the new
// leaders' gateway ports), and every record the broker acknowledged is consumed.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CreateTopicsResponse } from '../../../src/protocol/generated/messages/create-topics-response.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type TestBedApi, type ToolProcess, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { eventually, metricValue, scrapeMetrics } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

// Its own cluster: this file stops brokers, which would disturb tests sharing k4-three.
const NAME = 'gw-leader-move';
const ROUTE = 'moves';
const PARTITIONS = 6;

/** The JSON events a verifiable producer or consumer has printed, parsed as they arrive. */
class Events {
  readonly tool: ToolProcess;
  private readonly name: string;
  private parsed = 0;
  readonly values = new Set<string>();
  count = 0;

  constructor(tool: ToolProcess, name: string) {
    this.tool = tool;
    this.name = name;
  }

  /** Reads new complete lines; returns how many `name` events were seen in total. */
  update(): number {
    const out = this.tool.stdout;
    const end = out.lastIndexOf('\n') + 1;
    for (const line of out.slice(this.parsed, end).split('\n')) {
      if (!line.includes(`"${this.name}"`)) continue;
      const e = JSON.parse(line) as { name: string; value: string };
      if (e.name !== this.name) continue;
      this.count++;
      this.values.add(e.value);
    }
    this.parsed = end;
    return this.count;
  }
}

describe('partition leaders moving under clients connected through the gateway', () => {
  let bed: TestBedApi;
  let cluster: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;

  before(async () => {
    bed = await testBed();
    cluster = await bed.cluster({ name: NAME, brokers: 3, nodeIdBase: 301 });
    tools = await bed.tools();
    gw = await startGateway({ domains: [domainFor(cluster)], routes: [{ name: ROUTE, domain: NAME, listener: 'plaintext' }] });
  });

  after(async () => {
    await tools?.stopAll();
    await gw?.stop();
  });

  async function metadata(topic: string): Promise<MetadataResponse> {
    for (const b of cluster.brokers) {
      const md = await sendRequest<MetadataResponse>(b.host, b.plaintextPort, ApiKey.Metadata, 12, {
        ...defaultMetadataRequest(),
        topics: [{ topicId: ZERO_UUID, name: topic }],
        allowAutoTopicCreation: false,
      }).catch(() => undefined);
      if (md !== undefined) return md;
    }
    throw new Error('no broker of the cluster answers Metadata');
  }

  /** The node id leading most partitions of `topic`. */
  async function busiestLeader(topic: string): Promise<{ nodeId: number; leads: number }> {
    const counts = new Map<number, number>();
    for (const p of (await metadata(topic)).topics[0].partitions) counts.set(p.leaderId, (counts.get(p.leaderId) ?? 0) + 1);
    const [nodeId, leads] = [...counts].sort((a, b) => b[1] - a[1])[0];
    return { nodeId, leads };
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('a producer (acks=all) and a consumer group keep working through a controlled shutdown, a restart and a crash; every acknowledged record is consumed', async (t) => {
    const topic = uniqueName('gw-leader-moves');
    const b = cluster.brokers[0];
    const created = await sendRequest<CreateTopicsResponse>(
      b.host,
      b.plaintextPort,
      ApiKey.CreateTopics,
      7,
      {
        topics: [{ name: topic, numPartitions: PARTITIONS, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      15_000,
    );
    assert.equal(created.topics[0].errorCode, 0, created.topics[0].errorMessage ?? '');
    await eventually('every partition to have a leader and 3 in-sync replicas', async () => {
      const partitions = (await metadata(topic)).topics[0]?.partitions ?? [];
      return partitions.length === PARTITIONS && partitions.every((p) => p.leaderId >= 0 && p.isrNodes.length === 3);
    });

    const bootstrap = gw.bootstrap[ROUTE];
    const consumer = new Events(
      tools.spawn(KafkaTool.VerifiableConsumer, [
        ...tools.connectionArgs(KafkaTool.VerifiableConsumer, bootstrap),
        '--topic',
        topic,
        '--group-id',
        uniqueName('gw-leader-moves-group'),
        '--reset-policy',
        'earliest',
        '--verbose',
        '--session-timeout',
        '10000',
      ]),
      'record_data',
    );
    // VerifiableProducer sets retries=0 unless told otherwise, so a leader move would fail sends
    // and the test would not notice; applications keep Java's defaults (retry until
    // delivery.timeout.ms, idempotent), and so does this one: no send may fail.
    const producerConfig = join(mkdtempSync(join(tmpdir(), 'turnout-leader-moves-')), 'producer.properties');
    writeFileSync(producerConfig, 'retries=2147483647\nenable.idempotence=true\n');
    const producer = new Events(
      tools.spawn(KafkaTool.VerifiableProducer, [
        ...tools.connectionArgs(KafkaTool.VerifiableProducer, bootstrap, producerConfig),
        '--topic',
        topic,
        '--acks',
        '-1',
        '--throughput',
        '200',
        '--max-messages',
        '-1',
      ]),
      'producer_send_success',
    );
    const timeline: string[] = [];
    const started = Date.now();
    const mark = (what: string) =>
      timeline.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}: acked ${producer.update()}, consumed ${consumer.update()}`);

    /** Waits until both clients made progress past the counts they had when this was called. */
    async function bothContinue(event: string): Promise<void> {
      const acked = producer.update();
      const consumed = consumer.update();
      await eventually(
        `both clients to make progress after ${event} (acked ${acked}, consumed ${consumed})`,
        () => producer.update() >= acked + 100 && consumer.update() >= consumed + 100,
        20_000,
      );
      mark(`progress after ${event}`);
    }

    await eventually('the consumer to read records through the gateway', () => producer.update() >= 300 && consumer.update() >= 100, 30_000);
    mark('running');

    const first = await busiestLeader(topic);
    await bed.stopBroker(NAME, first.nodeId);
    mark(`broker ${first.nodeId} (leader of ${first.leads}/${PARTITIONS}) shut down`);
    await Promise.all([sleep(2000), bothContinue(`shutting down broker ${first.nodeId}`)]);
    await bed.startBroker(NAME, first.nodeId);
    await eventually(
      'every partition to be fully replicated again',
      async () => (await metadata(topic)).topics[0].partitions.every((p) => p.isrNodes.length === 3),
      20_000,
    );
    mark(`broker ${first.nodeId} back in every ISR`);
    await bothContinue(`restarting broker ${first.nodeId}`);

    const second = await busiestLeader(topic);
    await bed.stopBroker(NAME, second.nodeId, { kill: true });
    mark(`broker ${second.nodeId} (leader of ${second.leads}/${PARTITIONS}) killed`);
    await bothContinue(`killing broker ${second.nodeId}`);

    const produced = await producer.tool.stop();
    producer.update();
    const summary = produced.stdout
      .split('\n')
      .filter((l) => l.includes('"tool_data"'))
      .map((l) => JSON.parse(l) as { sent: number; acked: number });
    const acked = producer.values;
    await eventually(
      `the consumer to read all ${acked.size} acknowledged records`,
      () => {
        consumer.update();
        return [...acked].every((v) => consumer.values.has(v));
      },
      30_000,
    ).catch((err: Error) => {
      const missing = [...acked].filter((v) => !consumer.values.has(v));
      throw new Error(`${err.message}; ${missing.length} acknowledged records never consumed, e.g. ${missing.slice(0, 10).join(', ')}`);
    });
    mark('all acknowledged records consumed');
    await consumer.tool.stop();

    const metrics = await scrapeMetrics(gw.adminUrl);
    const report = [
      ...timeline,
      `producer: ${summary.map((s) => `sent ${s.sent}, acked ${s.acked}`).join('; ')}; distinct acknowledged values ${acked.size}`,
      `consumer: ${consumer.count} records read, ${consumer.values.size} distinct values (${consumer.count - consumer.values.size} redelivered)`,
      `gateway: ${metricValue(metrics, 'turnout_client_connections_total', { route: ROUTE })} client connections, ` +
        `errors ${metrics
          .split('\n')
          .filter((l) => l.startsWith('turnout_connection_errors_total{'))
          .map((l) => l.replace(/^.*reason="([^"]+)".*\} /, '$1='))
          .join(' ')}`,
    ];
    for (const line of report) t.diagnostic(line);
    assert.ok(acked.size >= 1000, `a few thousand records acknowledged (${acked.size})`);
    const sendErrors = produced.stdout.split('\n').filter((l) => l.includes('"producer_send_error"'));
    assert.deepEqual(sendErrors.slice(0, 5), [], `${sendErrors.length} sends failed while leaders moved`);
  });
});
