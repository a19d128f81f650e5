// Every real client works through the gateway exactly as it does against the brokers directly
// (test/integration/clients/drivers-work-directly.test.ts): on Kafka 4.3.1 and 3.9.2, through a
// route with SASL/PLAIN passthrough and the seed user, each client family produces, reads its
// records back in a consumer group and lists exactly the cluster's brokers, all at gateway
// addresses; and topics are created, described, given more partitions and deleted through the
// gateway with kafka-topics and with the kafkajs admin client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KafkaTool } from '../../../src/testbed/index.ts';
import { CLIENT_DRIVERS, type ClientDriver, javaDriver, kafkajsDriver, stopAllClients } from '../../support/clients/index.ts';
import { deleteTopic, withAdmin } from '../../support/clients/kafkajs.ts';
import { eventually } from '../../support/raw-kafka.ts';
import { type ClusterBehindGateway, clustersBehindGateway, THREE_BROKER_CLUSTERS, versionOf } from '../../support/through-gateway.ts';
import { uniqueName } from '../testbed/helpers.ts';

after(stopAllClients);

const CONSUME_TIMEOUT_MS = 30_000;
const keyAndValue = (r: { key?: string; value: string }) => `${r.key ?? '<null>'}=${r.value}`;

/** What `kafka-topics --describe` says about each partition. */
interface PartitionLine {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

function parseDescribe(stdout: string): PartitionLine[] {
  const ids = (s: string) => (s ? s.split(',').map(Number) : []);
  return [...stdout.matchAll(/Partition: (\d+)\s+Leader: (-?\d+|none)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)/g)]
    .map((m) => ({ partition: Number(m[1]), leader: m[2] === 'none' ? -1 : Number(m[2]), replicas: ids(m[3]), isr: ids(m[4]) }))
    .sort((a, b) => a.partition - b.partition);
}

// Start both clusters at once; each describe waits for its own (shared by name with other tests).
const setups = clustersBehindGateway(THREE_BROKER_CLUSTERS);

for (const spec of THREE_BROKER_CLUSTERS) {
  const version = versionOf(spec);
  // The Java client of the cluster's own version; the other families are version-independent.
  const drivers: ClientDriver[] = CLIENT_DRIVERS.map((d) => (d.name.startsWith('java') ? javaDriver(version) : d));

  // The steps are independent (own topics and groups), so they run at once to save wall time.
  describe(`real clients through the gateway to ${spec.name} (Kafka ${version}, SASL/PLAIN passthrough)`, { concurrency: true }, () => {
    let c: ClusterBehindGateway;
    before(async () => {
      c = await setups.get(spec.name)!;
    });

    for (const driver of drivers) {
      test(`${driver.name} produces, reads every record back in a consumer group, and lists exactly the cluster's brokers at gateway addresses`, async () => {
        const topic = uniqueName(`gw-clients-${driver.name}`);
        await c.createTopic(topic, 3);
        const messages = Array.from({ length: 20 }, (_, i) => (i % 2 ? { key: `key-${i}`, value: `value-${i}` } : { value: `value-${i}` }));

        await driver.produce(c.target, topic, messages);
        const consumed = await driver.consumeGroup(c.target, topic, `${topic}-group`, messages.length, CONSUME_TIMEOUT_MS);
        assert.deepEqual(
          consumed.map(keyAndValue).sort(),
          messages.map(keyAndValue).sort(),
          `consumed ${consumed.map((r) => `${r.partition}@${r.offset}`).join(' ')}`,
        );

        const metadata = await c.assertListsGatewayBrokers(driver.name, () => driver.listMetadata(c.target));
        assert.ok(metadata.topics.includes(topic), `${topic} missing from ${metadata.topics.join(', ')}`);
      });
    }

    test('kafka-topics creates a topic (3 partitions, RF 3), describes it with node ids and no upstream address, adds partitions and deletes it', async () => {
      const { tools } = c;
      const topic = uniqueName('gw-kafka-topics');
      const topics = async (...args: string[]) => {
        const r = await tools.run(KafkaTool.Topics, [...tools.connectionArgs(KafkaTool.Topics, c.bootstrap, c.clientConfig), ...args], { timeoutMs: 45_000 });
        assert.equal(r.exitCode, 0, `kafka-topics ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
        c.assertNoUpstreamAddress(`kafka-topics ${args[0]}`, r.stdout + r.stderr);
        return r.stdout;
      };
      const describeTopic = async (partitions: number) => {
        const lines = parseDescribe(await topics('--describe', '--topic', topic));
        assert.deepEqual(
          lines.map((l) => l.partition),
          Array.from({ length: partitions }, (_, i) => i),
        );
        for (const l of lines) {
          assert.deepEqual([...l.replicas].sort(), c.nodeIds(), `replicas of partition ${l.partition}`);
          assert.ok(l.replicas.includes(l.leader), `leader ${l.leader} of partition ${l.partition} is not a replica`);
          assert.ok(l.isr.includes(l.leader) && l.isr.every((id) => l.replicas.includes(id)), `ISR ${l.isr.join(',')} of partition ${l.partition}`);
        }
      };

      await topics('--create', '--topic', topic, '--partitions', '3', '--replication-factor', '3');
      await c.waitUntilEveryBrokerKnows(topic, 3);
      await describeTopic(3);
      await topics('--alter', '--topic', topic, '--partitions', '5');
      await c.waitUntilEveryBrokerKnows(topic, 5);
      await describeTopic(5);
      await topics('--delete', '--topic', topic);
      await eventually(`${topic} to be gone`, async () => !(await kafkajsDriver.listMetadata(c.target)).topics.includes(topic), 15_000);
    });

    test('the kafkajs admin client creates a topic (3 partitions, RF 3), sees node ids as leaders, replicas and ISR, adds partitions and deletes it', async () => {
      const topic = uniqueName('gw-kafkajs-admin');
      await c.createTopic(topic, 3);
      const partitionsOf = () =>
        withAdmin(c.target, 'fetchTopicMetadata', undefined, async (admin) => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions);

      const created = await partitionsOf();
      assert.deepEqual(created.map((p) => p.partitionId).sort(), [0, 1, 2]);
      for (const p of created) {
        assert.deepEqual([...p.replicas].sort(), c.nodeIds(), `replicas of partition ${p.partitionId}`);
        assert.ok(p.replicas.includes(p.leader) && p.isr.includes(p.leader), `leader ${p.leader} of partition ${p.partitionId}`);
      }

      await withAdmin(c.target, 'createPartitions', undefined, (admin) => admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] }));
      await eventually(
        '5 partitions, each with a leader',
        async () => {
          const partitions = await partitionsOf();
          return partitions.length === 5 && partitions.every((p) => c.nodeIds().includes(p.leader));
        },
        15_000,
      );

      await deleteTopic(c.target, topic);
      await eventually(`${topic} to be gone`, async () => !(await kafkajsDriver.listMetadata(c.target)).topics.includes(topic), 15_000);
    });
  });
}
