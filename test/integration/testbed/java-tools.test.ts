// Kafka's perf, verifiable-client, transactions and metadata-quorum tools of each supported version
// start (their main classes differ between 3.9 and 4.x) and do a short run against that version.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { uniqueName } from './helpers.ts';

for (const [kafkaVersion, clusterName] of [
  ['4.3.1', 'k4-single'],
  ['3.9.2', 'k3-single'],
] as const) {
  describe(`Kafka ${kafkaVersion} command line tools`, () => {
    let cluster: ClusterDescriptor;
    let tools: KafkaTools;
    const args = (tool: (typeof KafkaTool)[keyof typeof KafkaTool]) => tools.connectionArgs(tool, cluster.bootstrap());

    before(async () => {
      const bed = await testBed();
      cluster = await bed.cluster({ name: clusterName, brokers: 1, kafkaVersion });
      tools = await bed.tools(kafkaVersion);
    });

    test('producer-perf-test writes transactional records and consumer-perf-test reads them back', async () => {
      const topic = uniqueName('perf');
      const produced = await tools.run(KafkaTool.ProducerPerformance, [
        ...args(KafkaTool.ProducerPerformance),
        '--topic',
        topic,
        '--num-records',
        '2000',
        '--record-size',
        '100',
        '--throughput',
        '-1',
        '--transactional-id',
        `${topic}-txn`,
        '--transaction-duration-ms',
        '200',
      ]);
      assert.equal(produced.exitCode, 0, produced.stderr);
      assert.match(produced.stdout, /2000 records sent/);

      const consumed = await tools.run(KafkaTool.ConsumerPerformance, [...args(KafkaTool.ConsumerPerformance), '--topic', topic, '--messages', '2000']);
      assert.equal(consumed.exitCode, 0, consumed.stderr);
      assert.match(consumed.stdout, /start\.time/);

      const listed = await tools.run(KafkaTool.Transactions, [...args(KafkaTool.Transactions), 'list']);
      assert.equal(listed.exitCode, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`${topic}-txn`));
    });

    test('verifiable-producer acknowledges every record and verifiable-consumer consumes them in a group', async () => {
      const topic = uniqueName('verifiable');
      const produced = await tools.run(KafkaTool.VerifiableProducer, [
        ...args(KafkaTool.VerifiableProducer),
        '--topic',
        topic,
        '--max-messages',
        '200',
        '--acks',
        '-1',
      ]);
      assert.equal(produced.exitCode, 0, produced.stderr);
      const summary = produced.stdout
        .split('\n')
        .filter((l) => l.includes('"tool_data"'))
        .map((l) => JSON.parse(l) as { sent: number; acked: number });
      assert.deepEqual(
        summary.map((s) => [s.sent, s.acked]),
        [[200, 200]],
      );

      const consumer = tools.spawn(KafkaTool.VerifiableConsumer, [
        ...args(KafkaTool.VerifiableConsumer),
        '--topic',
        topic,
        '--group-id',
        uniqueName('verifiable-group'),
        '--reset-policy',
        'earliest',
      ]);
      try {
        await consumer.waitForOutput(/"name":"records_consumed"/, 60_000);
        const consumed = consumer.stdout
          .split('\n')
          .filter((l) => l.includes('"records_consumed"'))
          .map((l) => (JSON.parse(l) as { count: number }).count);
        assert.ok(consumed.reduce((a, b) => a + b, 0) > 0);
      } finally {
        await consumer.stop();
      }
      assert.equal(consumer.isRunning(), false);
    });

    test('metadata-quorum describes the KRaft quorum of the cluster', async () => {
      const r = await tools.run(KafkaTool.MetadataQuorum, [...args(KafkaTool.MetadataQuorum), 'describe', '--status']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`ClusterId:\\s+${cluster.clusterId}`));
    });
  });
}
