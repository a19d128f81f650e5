// The seed 003 scenario, automated: a producer and a consumer keep running through the gateway
// while the route is switched from blue to green and back. Blue has one broker (id 1), green three
// (ids 401-403): the clusters share neither broker count nor ids. MirrorMaker 2 copies blue to
// green; before the switch back it is replaced by a green -> blue instance.
// Kafka's VerifiableProducer (acks=all) and VerifiableConsumer (group, --verbose) are the clients:
// they print every acknowledged and every consumed record, and are never restarted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Secret, virtualClusterId } from '../../../src/config/index.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type ToolProcess, testBed } from '../../../src/testbed/index.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { eventually, jsonEvents } from '../../support/switchover/long-running.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'switch-test-token';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

interface Acked {
  value: string;
  partition: number;
  offset: number;
}

const events = (p: ToolProcess) => jsonEvents(p.stdout);

const acked = (p: ToolProcess): Acked[] =>
  events(p)
    .filter((e) => e.name === 'producer_send_success')
    .map((e) => ({ value: String(e.value), partition: Number(e.partition), offset: Number(e.offset) }));
const sendErrors = (p: ToolProcess) => events(p).filter((e) => e.name === 'producer_send_error');
const assignments = (p: ToolProcess) => events(p).filter((e) => e.name === 'partitions_assigned').length;
const consumedValues = (p: ToolProcess): Set<string> =>
  new Set(
    events(p)
      .filter((e) => e.name === 'record_data')
      .map((e) => String(e.value)),
  );

async function switchTo(gw: TestGateway, to: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, by: 'hot-switch test' }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** Values in `topic` read directly from a cluster (not through the gateway). */
async function valuesOn(tools: KafkaTools, cluster: ClusterDescriptor, topic: string): Promise<Set<string>> {
  const ends = await tools.endOffsets(cluster.bootstrap(), topic);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return new Set();
  const r = await tools.run(
    KafkaTool.ConsoleConsumer,
    [
      ...tools.connectionArgs(KafkaTool.ConsoleConsumer, cluster.bootstrap()),
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      String(total),
      '--timeout-ms',
      '20000',
    ],
    { timeoutMs: 60_000 },
  );
  // A read that failed or stopped short would make "not on this cluster" pass for the wrong reason.
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(r.exitCode, 0, `console consumer on ${cluster.name}: exit ${r.exitCode}\n${r.stderr.slice(-1000)}`);
  assert.equal(lines.length, total, `console consumer on ${cluster.name} read ${lines.length} of the ${total} records of ${topic}`);
  return new Set(lines);
}

describe('hot switch blue -> green -> blue under a running producer and consumer (seed 003)', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const topic = uniqueName('sw-orders');
  const group = uniqueName('sw-orders-app');
  let producer: ToolProcess | undefined;
  let consumer: ToolProcess | undefined;

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'sw-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'sw-green', brokers: 3, nodeIdBase: 401 }),
    ]);
    await bed.mirrorMaker({ name: 'sw-blue-to-green', source: 'sw-blue', target: 'sw-green', topics: 'sw-.*' });
    tools = await bed.tools();
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', brokerPortCount: 16 }],
      stateTopic: uniqueName('_turnout_state'),
      adminToken: TOKEN,
    });
  });

  after(async () => {
    await Promise.all([producer?.stop(), consumer?.stop()]);
    await gw?.stop();
    const bed = await testBed();
    await bed.stopMirrorMaker('sw-green-to-blue').catch(() => {});
  });

  test('producer and consumer keep running; records after each switch land only on the new cluster and are consumed', { timeout: 300_000 }, async (t) => {
    const r = await tools.run(KafkaTool.Topics, [
      ...tools.connectionArgs(KafkaTool.Topics, blue.bootstrap()),
      '--create',
      '--topic',
      topic,
      '--partitions',
      '3',
      '--replication-factor',
      '1',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const bootstrap = gw.bootstrap.orders;
    // VerifiableProducer sets retries=0 unless told otherwise; applications keep Java's defaults
    // (retry until delivery.timeout.ms, idempotent), and so does this test.
    const clientConfig = tools.saslClientConfig('alice', undefined, { retries: '2147483647', 'enable.idempotence': 'true' });
    const consumerConfig = tools.saslClientConfig('alice', undefined, { 'session.timeout.ms': '10000', 'auto.offset.reset': 'earliest' });
    consumer = tools.spawn(KafkaTool.VerifiableConsumer, [
      ...tools.connectionArgs(KafkaTool.VerifiableConsumer, bootstrap, consumerConfig),
      '--topic',
      topic,
      '--group-id',
      group,
      '--verbose',
      '--reset-policy',
      'earliest',
    ]);
    producer = tools.spawn(KafkaTool.VerifiableProducer, [
      ...tools.connectionArgs(KafkaTool.VerifiableProducer, bootstrap, clientConfig),
      '--topic',
      topic,
      '--throughput',
      '100',
      '--max-messages',
      '-1',
      '--acks',
      '-1',
    ]);
    const pids = { producer: producer.pid, consumer: consumer.pid };
    const waitAcked = (n: number) =>
      eventually(async () => assert.ok(acked(producer!).length >= n, `${acked(producer!).length} acked of ${n}\n${producer!.stderr.slice(-1500)}`), 60_000);
    const waitConsumed = (values: string[]) =>
      eventually(async () => {
        const seen = consumedValues(consumer!);
        const missing = values.filter((v) => !seen.has(v));
        assert.equal(
          missing.length,
          0,
          `consumer has not seen ${missing.length} of ${values.length} (e.g. ${missing.slice(0, 5).join(', ')})\n${consumer!.stderr.slice(-1500)}`,
        );
      }, 90_000);

    // Blue: the clients work through the gateway, and see the route's cluster id.
    await waitAcked(200);
    await waitConsumed(
      acked(producer)
        .slice(0, 200)
        .map((a) => a.value),
    );
    const clusterIdBefore = await clusterIdThrough(bootstrap);
    assert.equal(clusterIdBefore, virtualClusterId('orders'));

    // Switch to green.
    const assignedBefore = assignments(consumer);
    const s1 = await switchTo(gw, 'green');
    assert.equal(s1.outcome, 'switched');
    assert.equal(s1.epoch, 1);
    t.diagnostic(`switch blue -> green: ${String(s1.durationMs)} ms from request to every instance applied`);
    const ackedAtSwitch1 = acked(producer).length;
    await waitAcked(ackedAtSwitch1 + 300);
    const afterSwitch1 = acked(producer)
      .slice(ackedAtSwitch1 + 50)
      .map((a) => a.value); // 50 records of margin for sends in flight at the switch
    await waitConsumed(afterSwitch1);
    // The member was unknown to green's coordinator: it joined again and got its partitions anew.
    assert.ok(assignments(consumer) > assignedBefore, 'the consumer rejoined its group on green');
    // A direct read of a busy machine's cluster may stop short: read again until complete.
    await eventually(async () => {
      const onGreen1 = await valuesOn(tools, green, topic);
      assert.deepEqual(
        afterSwitch1.filter((v) => !onGreen1.has(v)),
        [],
        'records produced after the switch must be on green',
      );
    }, 60_000);
    const onBlue1 = await valuesOn(tools, blue, topic);
    assert.deepEqual(
      afterSwitch1.filter((v) => onBlue1.has(v)),
      [],
      'records produced after the switch must not be on blue',
    );
    assert.equal(await clusterIdThrough(bootstrap), clusterIdBefore, 'clients see the same cluster id after the switch');

    // Reverse replication, then switch back to blue with the CLI.
    const bed = await testBed();
    await bed.stopMirrorMaker('sw-blue-to-green');
    await bed.mirrorMaker({ name: 'sw-green-to-blue', source: 'sw-green', target: 'sw-blue', topics: 'sw-.*' });
    // Asynchronously: the gateway under test runs in this process and must keep serving.
    const cli = await promisify(execFile)(process.execPath, [`${ROOT}/bin/turnout.js`, 'switch', 'orders', '--to', 'blue', '--admin', gw.adminUrl], {
      env: { ...process.env, TURNOUT_ADMIN_TOKEN: TOKEN },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.match(cli.stdout, /route orders: SWITCHED\s+green -> blue .*epoch 2/);
    const ackedAtSwitch2 = acked(producer).length;
    await waitAcked(ackedAtSwitch2 + 300);
    const afterSwitch2 = acked(producer)
      .slice(ackedAtSwitch2 + 50)
      .map((a) => a.value);
    await waitConsumed(afterSwitch2);
    const onGreen2 = await valuesOn(tools, green, topic);
    assert.deepEqual(
      afterSwitch2.filter((v) => onGreen2.has(v)),
      [],
      'records produced after the switch back must not be on green',
    );

    // The same two processes throughout, no send failed for good, and every acknowledged
    // record was consumed at least once (green-era records reach blue through MirrorMaker).
    assert.ok(producer.isRunning() && consumer.isRunning());
    assert.deepEqual({ producer: producer.pid, consumer: consumer.pid }, pids);
    assert.deepEqual(sendErrors(producer), []);
    await waitConsumed(acked(producer).map((a) => a.value));
    const status = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { routes: { epoch: number; domain: string; lastSwitch: { by: string } }[] };
    assert.equal(status.routes[0].epoch, 2);
    assert.equal(status.routes[0].domain, 'blue');
    assert.match(status.routes[0].lastSwitch.by, /^cli:/);
  });
});

async function clusterIdThrough(bootstrap: string): Promise<string | null> {
  const [host, port] = bootstrap.split(':');
  const c = await KafkaConnection.open(
    { host, port: Number(port) },
    { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'alice', password: new Secret('alice-secret') } },
  );
  try {
    const md = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
      topics: [],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    return md.clusterId;
  } finally {
    c.close();
  }
}
