// The part of a planned switch done before its fence (pre-read.ts): every tail, the groups and
// MirrorMaker's evidence read while writes still flow, a switch that runs out of its fence budget
// saying so, and the commits of the install bounded in number. Driven by fake clusters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadDeadlineError } from '../../../src/control/partition-reader.ts';
import { comparablePartitions, expectedFencedMs, FENCED_OVERHEAD_MS, mapLimit, outOfBudget, readBeforeFence } from '../../../src/control/pre-read.ts';
import { ReplicationTracker } from '../../../src/control/replication.ts';
import type { DecodedRecord } from '../../../src/protocol/records.ts';
import { FakeCluster } from './fake-cluster.ts';

const run = (from: number, to: number, at: number): DecodedRecord[] =>
  Array.from({ length: to - from }, (_, i) => ({
    offset: BigInt(at + i),
    timestamp: 1_700_000_000_000 + from + i,
    key: Buffer.from(`k${from + i}`),
    value: Buffer.from(`v${from + i}`),
  }));

test('before the fence: every tail on both clusters in one batched read each, the groups with offsets on the partitions, then the check after it reads nothing for unchanged partitions', async () => {
  const source = new FakeCluster('blue');
  const dest = new FakeCluster('green');
  const keys: string[] = [];
  for (let p = 0; p < 600; p++) {
    const k = `t${Math.floor(p / 6)}:${p % 6}`;
    keys.push(k);
    source.set(k, run(p * 100, p * 100 + 8, 0));
    dest.set(k, run(p * 100, p * 100 + 8, 3));
  }
  source.groupOffsets.set(
    'billing',
    new Map([
      ['t0:0', 5n],
      ['elsewhere:0', 1n],
    ]),
  );
  source.groupOffsets.set('idle', new Map([['elsewhere:0', 1n]]));
  const tracker = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  const pre = await readBeforeFence(tracker, source.admin, dest.admin, keys, null, []);
  assert.equal(pre.states.length, 600);
  assert.ok(pre.states.every((s) => s.caughtUp));
  assert.deepEqual([source.rangeCalls, dest.rangeCalls], [[600], [600]]);
  assert.deepEqual(
    pre.groups.map((g) => [g.groupId, [...g.offsets]]),
    [['billing', [['t0:0', 5n]]]],
    'only groups with offsets on these partitions, only those offsets',
  );
  assert.equal(pre.sourceEnds.get('t0:0'), 8n);
  assert.ok(pre.passes.length >= 1 && pre.passes[0].moved === 600);
  assert.equal(expectedFencedMs(pre), Math.round(pre.passes.at(-1)!.ms + FENCED_OVERHEAD_MS));
  // After the fence, nothing moved: no tail is read again.
  const reads = source.reads.length + dest.reads.length;
  await tracker.check(pre.sourceEnds);
  assert.equal(source.reads.length + dest.reads.length, reads);
});

test('only partitions on both clusters are compared', () => {
  const cmp = {
    partitions: ['a:0', 'a:1', 'b:0', 'a.b:0'],
    topics: [
      { topic: 'a', sourcePartitions: 2, destPartitions: 2, problem: null },
      { topic: 'b', sourcePartitions: 1, destPartitions: null, problem: 'missing on the destination' },
      { topic: 'a.b', sourcePartitions: 1, destPartitions: 1, problem: null },
    ],
  };
  assert.deepEqual(comparablePartitions(cmp), ['a:0', 'a:1', 'a.b:0']);
});

test("a switch out of its fence budget says the budget, its setting, the phase and how far it got, not the last request's error", async () => {
  const source = new FakeCluster('blue')
    .set('t:0', run(0, 3, 0))
    .set('t:1', run(10, 13, 0))
    .set('t:2', run(20, 23, 0));
  const dest = new FakeCluster('green')
    .set('t:0', run(0, 3, 0))
    .set('t:1', run(10, 13, 0))
    .set('t:2', run(20, 21, 0));
  const tracker = new ReplicationTracker('mirrormaker2', source.admin, dest.admin);
  await tracker.check(
    new Map([
      ['t:0', 3n],
      ['t:1', 3n],
      ['t:2', 3n],
    ]),
  );
  const text = outOfBudget(10_000, 'catching up', tracker, 5, new ReadDeadlineError('green', 1, 2, '2 partition(s)'));
  assert.match(
    text,
    /^the planned switch did not finish within the fence budget of 10000 ms \(gateway\.switchover\.fenceTimeoutMs\) at phase "catching up": 2 of 5 partition\(s\) checked and caught up; the read in progress had 1 of 2 partition\(s\) done\./,
  );
  assert.doesNotMatch(text, /closed/);
  assert.match(
    outOfBudget(10_000, 'offsets installed', null, 6000, new Error('connection to 127.0.0.1:1 was closed by Turnout')),
    /at phase "offsets installed": 0 of 6000 partition\(s\) checked and caught up \(last error: connection to 127\.0\.0\.1:1 was closed by Turnout\)/,
  );
});

test('mapLimit runs at most `limit` at once and keeps the order of the results', async () => {
  let running = 0;
  let most = 0;
  const out = await mapLimit(
    Array.from({ length: 50 }, (_, i) => i),
    4,
    async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, i % 3));
      running--;
      return i * 2;
    },
  );
  assert.equal(most, 4);
  assert.deepEqual(
    out,
    Array.from({ length: 50 }, (_, i) => i * 2),
  );
});

test('preflight prints what a planned switch reads before its fence and the expected fenced window against the budget', async () => {
  const { formatPreflight } = await import('../../../src/cli/preflight.ts');
  const text = formatPreflight(
    {
      route: 'orders',
      from: 'blue',
      to: 'green',
      replication: 'mirrormaker2',
      at: '2026-01-01T00:00:00.000Z',
      topics: [],
      partitions: [],
      groups: [],
      fence: {
        partitions: 6000,
        groups: 50,
        preReadMs: 12000,
        passes: [
          { ms: 9000, moved: 6000 },
          { ms: 900, moved: 1100 },
        ],
        expectedFencedMs: 1900,
        fenceTimeoutMs: 10000,
      },
      blockers: [],
      warnings: [],
    },
    [],
  );
  assert.match(
    text,
    /planned switch: reads the tails of 6000 partition\(s\) on both clusters and the offsets of 50 group\(s\) before the fence \(12000 ms now, passes 9000 ms, 900 ms\); expected to hold writes about 1900 ms of the 10000 ms fence budget \(gateway\.switchover\.fenceTimeoutMs\)/,
  );
});
