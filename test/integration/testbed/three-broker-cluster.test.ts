// A 3-broker cluster with caller-chosen node ids keeps serving when one broker is stopped (cleanly
// or by a crash) and takes the broker back after a restart: the basis of later leader-move tests.
// A cluster of its own: stopping brokers of the shared k4-three would change what the files that
// use it see (their broker-list checks are strict).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type TestBedApi, testBed } from '../../../src/testbed/index.ts';
import { consumeLines, produceLines, uniqueName } from './helpers.ts';

const NAME = 'tb-restarts';

describe('a 3-broker Kafka 4.3.1 cluster', () => {
  let bed: TestBedApi;
  let cluster: ClusterDescriptor;
  let tools: KafkaTools;

  before(async () => {
    bed = await testBed();
    cluster = await bed.cluster({ name: NAME, brokers: 3, nodeIdBase: 121, kafkaVersion: '4.3.1' });
    tools = await bed.tools('4.3.1');
  });

  async function replicasOf(topic: string): Promise<string> {
    const r = await tools.run(KafkaTool.Topics, [...tools.connectionArgs(KafkaTool.Topics, cluster.bootstrap()), '--describe', '--topic', topic]);
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout;
  }

  test('has three running brokers with node ids 121, 122, 123 that replicate a topic', async () => {
    assert.deepEqual(
      cluster.brokers.map((b) => b.nodeId),
      [121, 122, 123],
    );
    assert.ok(cluster.brokers.every((b) => b.running));
    const topic = uniqueName('three');
    const created = await tools.run(KafkaTool.Topics, [
      ...tools.connectionArgs(KafkaTool.Topics, cluster.bootstrap()),
      '--create',
      '--topic',
      topic,
      '--partitions',
      '3',
      '--replication-factor',
      '3',
    ]);
    assert.equal(created.exitCode, 0, created.stderr);
    const described = await replicasOf(topic);
    for (const line of described.split('\n').filter((l) => /Partition: \d/.test(l))) {
      const replicas = /Replicas: ([\d,]+)/.exec(line)?.[1].split(',').map(Number).sort();
      assert.deepEqual(replicas, [121, 122, 123], line);
    }
  });

  test('keeps serving produce and consume while one broker is killed, and takes it back after a restart', async () => {
    const topic = uniqueName('survive');
    const created = await tools.run(KafkaTool.Topics, [
      ...tools.connectionArgs(KafkaTool.Topics, cluster.bootstrap()),
      '--create',
      '--topic',
      topic,
      '--partitions',
      '3',
      '--replication-factor',
      '3',
    ]);
    assert.equal(created.exitCode, 0, created.stderr);
    const before = ['a1', 'a2', 'a3'];
    assert.equal((await produceLines(tools, cluster, topic, before)).exitCode, 0);

    const down = await bed.stopBroker(NAME, 122, { kill: true });
    assert.deepEqual(
      down.brokers.map((b) => [b.nodeId, b.running]),
      [
        [121, true],
        [122, false],
        [123, true],
      ],
    );
    const during = ['b1', 'b2', 'b3'];
    const produced = await produceLines(tools, down, topic, during);
    assert.equal(produced.exitCode, 0, produced.stderr);
    assert.deepEqual((await consumeLines(tools, down, topic, 6)).sort(), [...before, ...during].sort());
    assert.doesNotMatch(await replicasOf(topic), /Leader: 122/);

    const up = await bed.startBroker(NAME, 122);
    assert.ok(up.brokers.every((b) => b.running));
    assert.deepEqual((await consumeLines(tools, up, topic, 6)).sort(), [...before, ...during].sort());
  });

  test('stops a broker cleanly (controlled shutdown) and restarts it', async () => {
    const down = await bed.stopBroker(NAME, 123);
    assert.equal(down.brokers.find((b) => b.nodeId === 123)?.running, false);
    const up = await bed.startBroker(NAME, 123);
    assert.ok(up.brokers.every((b) => b.running));
  });
});
