// Compressed topics through preflight and the planned switch, against real brokers. Kafka's own
// Java console producer writes gzip, snappy, lz4 and zstd batches to blue (Kafka 4.3); the test
// copies every record to green (Kafka 3.9) as MirrorMaker 2 would (same timestamp, key and value,
// other offsets), in batches it compresses with other codecs and framings (raw and xerial snappy,
// LZ4 frames, zstd, gzip), which green's broker validates on append; and each cluster recompresses
// the gateway's own state topic (compression.type lz4 on blue, zstd on green). Preflight finds
// every partition caught up, and the planned switch installs the group's offsets and flips. A
// batch that decompresses past the gateway's limit (limits.maxFrameBytes) is named with its
// topic, partition, offset and codec by preflight (HTTP 200, CLI exit 1) and refuses the switch at
// once, without waiting for the fence budget.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { PreflightReport, SwitchReport } from '../../../src/control/switch-controller.ts';
import { defaultCreateTopicsRequestCreatableTopic } from '../../../src/protocol/generated/messages/create-topics-request.ts';
import type { CreateTopicsResponse } from '../../../src/protocol/generated/messages/create-topics-response.ts';
import {
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultFetchRequestFetchTopic,
} from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import {
  defaultProduceRequest,
  defaultProduceRequestPartitionProduceData,
  defaultProduceRequestTopicProduceData,
} from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { encodeRecordBatch, type RecordToEncode } from '../../../src/protocol/records.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { turnoutCli } from '../../support/cli.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { compressedBatch, TEST_CODECS } from '../../unit/protocol/compressed-batch.ts';

const TOKEN = 'compressed-topics-token';
const JAVA_CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const CODEC_IDS: Record<string, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 };
const PER_TOPIC = 300;
/** gateway.limits.maxFrameBytes, which also bounds what one Fetch's batches may decompress to. */
const LIMIT = 1024 * 1024;
const FENCE_MS = 8000;

const cli = turnoutCli(TOKEN);

const broker = (c: ClusterDescriptor) => ({ host: c.brokers[0].host, port: c.brokers[0].plaintextPort });

async function createTopics(c: ClusterDescriptor, names: string[], partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const { host, port } = broker(c);
  const res = await sendRequest<CreateTopicsResponse>(
    host,
    port,
    ApiKey.CreateTopics,
    5,
    {
      topics: names.map((name) => ({
        ...defaultCreateTopicsRequestCreatableTopic(),
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      })),
      timeoutMs: 15_000,
      validateOnly: false,
    },
    20_000,
  );
  for (const t of res.topics) assert.equal(t.errorCode, 0, `create ${t.name} on ${c.name}: ${t.errorMessage}`);
}

/** The raw batches of a partition as the broker stores them: codec id and record count of each. */
async function storedBatches(c: ClusterDescriptor, topic: string, partition: number): Promise<{ codec: number; count: number }[]> {
  const { host, port } = broker(c);
  const res = await sendRequest<FetchResponse>(
    host,
    port,
    ApiKey.Fetch,
    12,
    {
      ...defaultFetchRequest(),
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 16 << 20,
      topics: [
        {
          ...defaultFetchRequestFetchTopic(),
          topic,
          partitions: [{ ...defaultFetchRequestFetchPartition(), partition, fetchOffset: 0n, partitionMaxBytes: 16 << 20 }],
        },
      ],
    },
    10_000,
  );
  const p = res.responses[0].partitions[0];
  assert.equal(p.errorCode, 0, `Fetch ${topic}-${partition}`);
  const b = Buffer.from(p.records ?? new Uint8Array(0));
  const out: { codec: number; count: number }[] = [];
  for (let pos = 0; pos + 61 <= b.length; ) {
    const end = pos + 12 + b.readInt32BE(pos + 8);
    if (end > b.length) break;
    out.push({ codec: b.readInt16BE(pos + 21) & 7, count: b.readInt32BE(pos + 57) });
    pos = end;
  }
  return out;
}

async function produceBatch(c: ClusterDescriptor, topic: string, partition: number, batch: Buffer): Promise<void> {
  const { host, port } = broker(c);
  const res = await sendRequest<ProduceResponse>(
    host,
    port,
    ApiKey.Produce,
    9,
    {
      ...defaultProduceRequest(),
      acks: -1,
      timeoutMs: 10_000,
      topicData: [
        {
          ...defaultProduceRequestTopicProduceData(),
          name: topic,
          partitionData: [{ ...defaultProduceRequestPartitionProduceData(), index: partition, records: batch }],
        },
      ],
    },
    15_000,
  );
  const p = res.responses[0].partitionResponses[0];
  assert.equal(
    p.errorCode,
    0,
    `Produce to ${topic}-${partition} on ${c.name}: ${p.errorMessage ?? ''} ${p.recordErrors.map((e) => e.batchIndexErrorMessage).join('; ')}`,
  );
}

async function admin<T>(gw: TestGateway, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('preflight and planned switch over gzip, snappy, lz4 and zstd topics', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const suffix = randomBytes(4).toString('hex');
  const topicOf = (codec: string) => `cz-${codec}-${suffix}`;
  const topics = JAVA_CODECS.map(topicOf);
  const huge = `cz-huge-${suffix}`;
  const group = `cz-app-${suffix}`;
  const stateTopic = `_turnout_state_cz_${suffix}`;

  before(async () => {
    const bed = await testBed();
    // Clusters other test files use too: in a full run this file starts none.
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' }),
      bed.cluster({ name: 'k3-single', brokers: 1, kafkaVersion: '3.9.2' }),
    ]);
    tools = await bed.tools();
    await Promise.all([
      createTopics(blue, topics, 2),
      createTopics(green, topics, 2),
      createTopics(blue, [huge], 1),
      createTopics(green, [huge], 1),
      // The brokers recompress the gateway's (uncompressed) state records.
      createTopics(blue, [stateTopic], 1, { 'cleanup.policy': 'compact', 'compression.type': 'lz4' }),
      createTopics(green, [stateTopic], 1, { 'cleanup.policy': 'compact', 'compression.type': 'zstd' }),
    ]);
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'plaintext', replication: { type: 'mirrormaker2', topics: null, groups: null } }],
      stateTopic,
      adminToken: TOKEN,
      switchover: { fenceTimeoutMs: FENCE_MS },
      limits: { maxFrameBytes: LIMIT },
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('a batch that decompresses past the limit is named in preflight (HTTP 200) and refuses the switch at once', { timeout: 120_000 }, async () => {
    const r = await tools.run(
      KafkaTool.ConsoleProducer,
      [
        ...tools.connectionArgs(KafkaTool.ConsoleProducer, blue.bootstrap()),
        '--topic',
        huge,
        '--compression-codec',
        'zstd',
        '--producer-property',
        `max.request.size=${4 * LIMIT}`,
      ],
      { input: `${'x'.repeat(2 * LIMIT)}\n` },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(await storedBatches(blue, huge, 0), [{ codec: CODEC_IDS.zstd, count: 1 }]);

    const pf = await admin<PreflightReport>(gw, 'GET', `/routes/orders/preflight?to=green&topics=${huge}`);
    assert.equal(pf.status, 200, JSON.stringify(pf.body));
    const why = `${huge}:0 on "blue" (the source): the record batch at offset 0 is zstd-compressed and decompresses to more than ${LIMIT} bytes, the limit for reading it`;
    assert.deepEqual(pf.body.blockers, [`cannot tell whether "green" has caught up with ${why}`]);
    assert.deepEqual(
      pf.body.partitions.map((p) => [p.partition, p.caughtUp, p.unreadable?.side, p.unreadable?.domain, p.unreadable?.offset, p.unreadable?.codec]),
      [[`${huge}:0`, false, 'source', 'blue', '0', 'zstd']],
    );

    const table = await cli('preflight', 'orders', '--to', 'green', '--admin', gw.adminUrl, '--topics', huge);
    assert.equal(table.code, 1, table.stdout + table.stderr);
    assert.match(table.stdout, new RegExp(`${huge}:0\\s+1\\s+0\\s+unreadable \\(source offset 0, zstd\\)`));
    assert.ok(table.stdout.includes(`NOT SAFE:\n  - cannot tell whether "green" has caught up with ${why}`), table.stdout);

    const sw = await admin<SwitchReport>(gw, 'POST', '/routes/orders/switch', { to: 'green', topics: [huge], by: 'compressed-topics test' });
    assert.equal(sw.status, 409, JSON.stringify(sw.body, null, 2));
    assert.equal(sw.body.outcome, 'refused');
    assert.ok(sw.body.message.includes(why), sw.body.message);
    assert.ok(sw.body.durationMs < FENCE_MS, `refused after ${sw.body.durationMs} ms, not at the end of the ${FENCE_MS} ms fence budget`);
    const phases = sw.body.phases.map((p) => p.phase);
    assert.ok(phases.includes('fenced') && phases.includes('released'), phases.join(', '));
    assert.equal(sw.body.partitions?.[0].unreadable?.codec, 'zstd');
  });

  test('records of every codec match their copies: preflight finds all caught up, the planned switch moves the group and flips', {
    timeout: 180_000,
  }, async (t) => {
    // 1. Kafka's Java producer writes each topic with one codec, several records per batch.
    await Promise.all(
      JAVA_CODECS.map(async (codec) => {
        const input = Array.from({ length: PER_TOPIC }, (_, i) => `k${i}|${codec}-${i}-${'payload '.repeat(6)}\n`).join('');
        const r = await tools.run(
          KafkaTool.ConsoleProducer,
          [
            ...tools.connectionArgs(KafkaTool.ConsoleProducer, blue.bootstrap()),
            '--topic',
            topicOf(codec),
            // The console producer sets compression.type and batch.size from these (over --producer-property).
            '--compression-codec',
            codec,
            '--batch-size',
            '2048',
            '--reader-property',
            'parse.key=true',
            '--reader-property',
            'key.separator=|',
          ],
          { input },
        );
        assert.equal(r.exitCode, 0, r.stderr);
      }),
    );
    for (const codec of JAVA_CODECS) {
      for (const p of [0, 1]) {
        const batches = await storedBatches(blue, topicOf(codec), p);
        assert.ok(batches.length > 0 && batches.every((b) => b.codec === CODEC_IDS[codec]), `${topicOf(codec)}-${p}: ${JSON.stringify(batches)}`);
        assert.ok(
          batches.some((b) => b.count > 1),
          `${topicOf(codec)}-${p} has batches of several records`,
        );
      }
    }

    // 2. A group reads everything on blue (Java's decoder) and commits at the end.
    const read = await tools.run(KafkaTool.ConsoleConsumer, [
      ...tools.connectionArgs(KafkaTool.ConsoleConsumer, blue.bootstrap()),
      '--include',
      `cz-(${JAVA_CODECS.join('|')})-${suffix}`,
      '--group',
      group,
      '--from-beginning',
      '--max-messages',
      String(PER_TOPIC * JAVA_CODECS.length),
      '--timeout-ms',
      '30000',
      '--formatter-property',
      'print.timestamp=true',
      '--formatter-property',
      'print.partition=true',
      '--formatter-property',
      'print.offset=true',
      '--formatter-property',
      'print.key=true',
    ]);
    assert.equal(read.exitCode, 0, read.stderr);
    const copies = new Map<string, { offset: number; record: RecordToEncode }[]>();
    for (const line of read.stdout.split('\n').filter((l) => l.startsWith('CreateTime:'))) {
      const [ts, part, off, key, value] = line.split('\t');
      const where = `${topicOf(value.slice(0, value.indexOf('-')))}:${part.replace('Partition:', '')}`;
      const list = copies.get(where) ?? [];
      list.push({
        offset: Number(off.replace('Offset:', '')),
        record: { key: Buffer.from(key), value: Buffer.from(value), timestamp: Number(ts.replace('CreateTime:', '')) },
      });
      copies.set(where, list);
    }
    assert.equal(
      [...copies.values()].reduce((n, l) => n + l.length, 0),
      PER_TOPIC * JAVA_CODECS.length,
      read.stdout.slice(0, 2000),
    );

    // 3. "Replication" to green: records of its own first, then the copies in batches of other codecs.
    let rotate = 0;
    for (const [where, list] of copies) {
      const [topic, p] = where.split(':');
      list.sort((a, b) => a.offset - b.offset);
      await produceBatch(
        green,
        topic,
        Number(p),
        encodeRecordBatch([
          { key: null, value: Buffer.from(`green-only ${where}`) },
          { key: null, value: Buffer.from('another') },
        ]),
      );
      for (let i = 0; i < list.length; i += 40) {
        const codec = TEST_CODECS[rotate++ % TEST_CODECS.length];
        await produceBatch(
          green,
          topic,
          Number(p),
          compressedBatch(
            list.slice(i, i + 40).map((c) => c.record),
            codec,
          ),
        );
      }
    }

    // 4. Preflight: every partition compared and caught up; the group moves to the end of the copies.
    const q = `/routes/orders/preflight?to=green&topics=${topics.join(',')}`;
    const pf = await admin<PreflightReport>(gw, 'GET', q);
    assert.equal(pf.status, 200, JSON.stringify(pf.body));
    assert.deepEqual(pf.body.blockers, []);
    assert.equal(pf.body.partitions.length, 8);
    for (const p of pf.body.partitions) {
      assert.ok(p.caughtUp && p.lag === 0 && p.unreadable === undefined, JSON.stringify(p));
      assert.equal(Number(p.destEnd), (copies.get(p.partition)?.length ?? 0) + 2, `${p.partition}: the copies end where green ends`);
    }
    const g = pf.body.groups.find((x) => x.groupId === group);
    assert.ok(g !== undefined && g.offsets.length === 8, JSON.stringify(pf.body.groups));
    for (const o of g.offsets) assert.deepEqual([o.behindEnd, o.method, o.dest], [0, 'exact', String((copies.get(o.partition)?.length ?? 0) + 2)], o.partition);
    const ok = await cli('preflight', 'orders', '--to', 'green', '--admin', gw.adminUrl, '--topics', topics.join(','), '--max-lag', '0');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    // 5. The planned switch.
    const sw = await admin<SwitchReport>(gw, 'POST', '/routes/orders/switch', { to: 'green', topics, by: 'compressed-topics test' });
    t.diagnostic(sw.body.phases.map((p) => `${p.ms} ms ${p.phase} ${p.detail ?? ''}`).join('\n'));
    assert.equal(sw.status, 200, JSON.stringify(sw.body, null, 2));
    assert.equal(sw.body.outcome, 'switched');
    assert.ok(sw.body.partitions?.length === 8 && sw.body.partitions.every((p) => p.caughtUp), JSON.stringify(sw.body.partitions));
    assert.ok(sw.body.groups?.find((x) => x.groupId === group)?.installed, JSON.stringify(sw.body.groups));
    const committed = await tools.groupOffsets(green.bootstrap(), group);
    assert.deepEqual(new Map([...committed].sort()), new Map([...copies].map(([k, l]) => [k, l.length + 2] as [string, number]).sort()));
    const routes = (await (await fetch(`${gw.adminUrl}/routes`)).json()) as { routes: { name: string; domain: string }[] };
    assert.equal(routes.routes.find((r) => r.name === 'orders')?.domain, 'green');

    // The switch went through state topics their brokers store compressed.
    assert.ok((await storedBatches(blue, stateTopic, 0)).every((b) => b.codec === CODEC_IDS.lz4));
    assert.ok((await storedBatches(green, stateTopic, 0)).every((b) => b.codec === CODEC_IDS.zstd));
  });
});
