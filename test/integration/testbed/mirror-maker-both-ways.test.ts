// Two MirrorMaker 2 instances running at once in opposite directions (bw-blue -> bw-green and
// bw-green -> bw-blue) with identical topic names: with `bothWays` each copy carries a header and is
// never copied again, so every record a client writes on either side lands on the other side
// exactly once instead of bouncing between the clusters forever.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type MirrorMakerInfo, testBed, waitForGroupOffsets } from '../../../src/testbed/index.ts';
import { REPLICATED_HEADER } from '../../../src/testbed/mirror-maker.ts';
import { pollUntil } from '../../../src/testbed/wait.ts';
import { consumeLines, produceLines, uniqueName } from './helpers.ts';

const N = 30; // records written on blue
const M = 20; // records written on green

describe('MirrorMaker 2 both ways at once between "bw-blue" and "bw-green"', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let mm2: MirrorMakerInfo[];
  let tools: KafkaTools;
  const topic = uniqueName('bw-x');

  const endOffset = async (cluster: ClusterDescriptor) => (await tools.endOffsets(cluster.bootstrap(), topic)).get(0) ?? -1;

  /** Every record of `topic` on `cluster` as [value, headers as printed by the console consumer]. */
  async function recordsOn(cluster: ClusterDescriptor, count: number): Promise<[string, string][]> {
    const r = await tools.run(KafkaTool.ConsoleConsumer, [
      ...tools.connectionArgs(KafkaTool.ConsoleConsumer, cluster.bootstrap()),
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      String(count),
      '--timeout-ms',
      '30000',
      '--formatter-property',
      'print.headers=true',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [headers, value] = line.split('\t');
        return [value, headers];
      });
  }

  before(async () => {
    const bed = await testBed();
    const started = Date.now();
    [blue, green] = await Promise.all([bed.cluster({ name: 'bw-blue', nodeIdBase: 1 }), bed.cluster({ name: 'bw-green', nodeIdBase: 2 })]);
    tools = await bed.tools();
    mm2 = await Promise.all([
      bed.mirrorMaker({ name: 'bw-blue-to-green', source: 'bw-blue', target: 'bw-green', topics: 'bw-.*', bothWays: true }),
      bed.mirrorMaker({ name: 'bw-green-to-blue', source: 'bw-green', target: 'bw-blue', topics: 'bw-.*', bothWays: true }),
    ]);
    process.stdout.write(`# two single-node clusters plus two opposite MirrorMakers ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  test('copies records written on either side to the other exactly once, marked with a header', async () => {
    assert.ok(mm2.every((m) => m.running && m.connectors.length === 3));
    const blueLines = Array.from({ length: N }, (_, i) => `blue-${i}`);
    const greenLines = Array.from({ length: M }, (_, i) => `green-${i}`);
    const produced = await Promise.all([produceLines(tools, blue, topic, blueLines), produceLines(tools, green, topic, greenLines)]);
    assert.deepEqual(
      produced.map((r) => r.exitCode),
      [0, 0],
      produced.map((r) => r.stderr).join('\n'),
    );

    let last: number[] = [];
    await pollUntil(
      async () => {
        last = await Promise.all([endOffset(blue), endOffset(green)]);
        return last.every((end) => end >= N + M) ? true : undefined;
      },
      60_000,
      () => new Error(`both sides did not reach ${N + M} records (end offsets blue, green: ${last})`),
      500,
    );
    // A copy of a copy would show up within a second or two (offsets are flushed every second).
    await sleep(4_000);
    assert.deepEqual(await Promise.all([endOffset(blue), endOffset(green)]), [N + M, N + M], 'records were copied back');

    for (const [cluster, own, copied] of [
      [blue, blueLines, greenLines],
      [green, greenLines, blueLines],
    ] as const) {
      const records = await recordsOn(cluster, N + M);
      const values = records.map(([value]) => value);
      assert.deepEqual(
        values.filter((v) => own.includes(v)),
        own,
        `${cluster.name}'s own records, in order`,
      );
      assert.deepEqual(
        values.filter((v) => copied.includes(v)),
        copied,
        `copies on ${cluster.name}, once each and in order`,
      );
      for (const [value, headers] of records) {
        // Copies carry the marker with a null value (printed as "null"); originals carry nothing.
        if (own.includes(value)) assert.equal(headers, 'NO_HEADERS', `${value} on ${cluster.name}`);
        else assert.equal(headers, `${REPLICATED_HEADER}:null`, `${value} on ${cluster.name}`);
      }
    }
  });

  test('still carries consumer group offsets over (checkpoints pass the transforms unharmed)', async () => {
    const group = uniqueName('bw-app');
    // The topic holds N + M records on both sides once the test above has run.
    assert.equal((await consumeLines(tools, blue, topic, N + M, { group })).length, N + M);
    // Only blue's own records have offset syncs (copies are filtered), so the group's position after
    // the last record translates to just past the copy of blue's last own record on green: at least N.
    const synced = await waitForGroupOffsets({ tools, source: blue, target: green, group, expected: new Map([[`${topic}:0`, N]]) });
    const offset = synced.get(`${topic}:0`) ?? -1;
    assert.ok(offset >= N && offset <= N + M, `synced offset ${offset}`);
  });
});
