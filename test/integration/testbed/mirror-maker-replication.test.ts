// MirrorMaker 2 between two single-node clusters copies topics under the same name and carries a
// consumer group's committed offsets over to the target (checkpoints + offset sync), which is
// what a client switchover from blue to green relies on.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  type ClusterDescriptor,
  KafkaTool,
  type KafkaTools,
  type MirrorMakerInfo,
  testBed,
  waitForGroupOffsets,
  waitForReplication,
} from '../../../src/testbed/index.ts';
import { consumeLines, produceLines, uniqueName } from './helpers.ts';

describe('MirrorMaker 2 from cluster "mm-blue" to cluster "mm-green"', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let mm2: MirrorMakerInfo;
  let tools: KafkaTools;

  before(async () => {
    const bed = await testBed();
    const started = Date.now();
    [blue, green] = await Promise.all([bed.cluster({ name: 'mm-blue', nodeIdBase: 1 }), bed.cluster({ name: 'mm-green', nodeIdBase: 2 })]);
    mm2 = await bed.mirrorMaker({ name: 'mm-blue-to-green', source: 'mm-blue', target: 'mm-green' });
    // Reported in the test output so start-up regressions are noticed.
    process.stdout.write(`# two single-node clusters plus MirrorMaker 2 ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    tools = await bed.tools();
  });

  test('starts with its source, checkpoint and heartbeat connectors and distinct broker ids', () => {
    assert.ok(mm2.running);
    assert.deepEqual([...mm2.connectors].sort(), ['MirrorCheckpointConnector', 'MirrorHeartbeatConnector', 'MirrorSourceConnector']);
    assert.deepEqual([blue.brokers[0].nodeId, green.brokers[0].nodeId], [1, 2]);
  });

  test('replicates a topic to the target under the same name with the same records', async () => {
    const topic = uniqueName('orders');
    const lines = Array.from({ length: 20 }, (_, i) => `order-${i}`);
    assert.equal((await produceLines(tools, blue, topic, lines)).exitCode, 0);
    const ends = await waitForReplication({ tools, source: blue, target: green, topic });
    assert.deepEqual([...ends], [[0, 20]]);
    assert.deepEqual(await consumeLines(tools, green, topic, lines.length), lines);
  });

  test('carries a committed consumer group offset over to the target', async () => {
    const topic = uniqueName('payments');
    const group = uniqueName('payments-app');
    const lines = Array.from({ length: 10 }, (_, i) => `payment-${i}`);
    assert.equal((await produceLines(tools, blue, topic, lines)).exitCode, 0);
    await waitForReplication({ tools, source: blue, target: green, topic });
    // A caught-up group: MirrorMaker translates offsets through offset syncs, which are exact at
    // the latest replicated record but only approximate (rounded down) in the middle of a batch.
    assert.equal((await consumeLines(tools, blue, topic, 10, { group })).length, 10);
    assert.deepEqual([...(await tools.groupOffsets(blue.bootstrap(), group))], [[`${topic}:0`, 10]]);

    const synced = await waitForGroupOffsets({ tools, source: blue, target: green, group, expected: new Map([[`${topic}:0`, 10]]) });
    assert.equal(synced.get(`${topic}:0`), 10);
  });

  test('emits no heartbeats and copies none of its own topics, so an opposite instance has nothing to bounce back', async () => {
    const r = await tools.run(KafkaTool.Topics, [...tools.connectionArgs(KafkaTool.Topics, green.bootstrap()), '--list']);
    assert.equal(r.exitCode, 0, r.stderr);
    const topics = r.stdout.split('\n').filter(Boolean);
    // The source's offset-syncs topic stays on the source.
    assert.ok(!topics.some((t) => t.startsWith('mm2-offset-syncs')), topics.join(', '));
    // MirrorMaker creates "heartbeats" on the target even with heartbeats off, and replicates any
    // topic of that name regardless of topics.exclude; it must stay empty.
    if (topics.includes('heartbeats')) {
      const ends = await tools.endOffsets(green.bootstrap(), 'heartbeats');
      assert.ok(
        [...ends.values()].every((o) => o === 0),
        JSON.stringify([...ends]),
      );
    }
  });
});
