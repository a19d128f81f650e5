// Consumer-offset translation of the planned switch at lags of 0, 1,000 and 100,000 records, on a
// plain, a transactional and a compacted topic, across planned switches both ways, against real
// brokers, MirrorMaker 2 and real clients (Java and librdkafka, read_committed).
//
// The data is written straight to blue, not through the gateway (for speed): a plain topic whose
// partition 0 holds 101,500 records (the others 3,000 and 2,500), a transactional one (librdkafka,
// 181 transactions of 30 records over 3 partitions, every third one aborted, the last one too), and
// a compacted one (cleanup.policy=compact on both clusters, settings that let the log cleaner
// compact within seconds, 50 keys repeating, every value unique). Its batches of 500 records carry
// timestamps 2 s apart; segments roll by record time (segment.ms), 1 s on blue and 3 s on green, so
// blue rolls a segment every 500 records and green about every 1,000: the cleaner leaves other
// records on each side, and the two logs end up with different gaps. MirrorMaker 2 (read_committed,
// lagging-bed.ts, shared with lagging-groups.test.ts) copies all three topics to green.
//
// A. Groups are positioned on blue by committing offsets there directly (an OffsetCommit of a
//    group without members, as Kafka's consumer-groups --reset-offsets does), at lag 0, 1,000 and
//    100,000 from each partition's end (a lag past the partition's start commits 0). Such a group
//    has "read" every record below its committed offset, so its true position is well defined.
//    The planned switch moves them to green; each then reads, through the gateway, what remains
//    from the offsets now committed on green. Every committed record it had not read on blue and
//    that green holds must be delivered (0 lost), no aborted one, and the records it reads again
//    (those below its blue offset) must not exceed the switch report's reReadBound for the
//    partition.
// B. New groups are positioned on green the same way, from green's ends, and the planned switch
//    goes back to blue (which holds everything: no green -> blue MirrorMaker is needed). Every
//    blue record whose green copy the group had not read must be delivered; records are matched
//    across the clusters by their (unique) values. A record compacted away on green has no green
//    offset any more; its copy lies between those of its neighbours, and when that does not tell
//    whether the group had read it, it counts as neither lost nor re-read (and is reported).
//
// Every group and partition prints its translation (method, reReadBound) and the re-reads and
// losses measured. The whole file, the 100,000-record groups included (each switch moves one group
// 100,000 records behind), takes about 45 s on 2 cores, the clusters' start included: it runs in CI.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, type TestContext, test } from 'node:test';
import {
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultFetchRequestFetchTopic,
} from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { defaultFindCoordinatorRequest } from '../../../src/protocol/generated/messages/find-coordinator-request.ts';
import type { FindCoordinatorResponse } from '../../../src/protocol/generated/messages/find-coordinator-response.ts';
import {
  defaultListOffsetsRequest,
  defaultListOffsetsRequestListOffsetsPartition,
  defaultListOffsetsRequestListOffsetsTopic,
} from '../../../src/protocol/generated/messages/list-offsets-request.ts';
import type { ListOffsetsResponse } from '../../../src/protocol/generated/messages/list-offsets-response.ts';
import {
  defaultOffsetCommitRequest,
  defaultOffsetCommitRequestPartition,
  defaultOffsetCommitRequestTopic,
} from '../../../src/protocol/generated/messages/offset-commit-request.ts';
import type { OffsetCommitResponse } from '../../../src/protocol/generated/messages/offset-commit-response.ts';
import {
  defaultProduceRequest,
  defaultProduceRequestPartitionProduceData,
  defaultProduceRequestTopicProduceData,
} from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { decodeRecordBatches, encodeRecordBatch } from '../../../src/protocol/records.ts';
import { type ClusterDescriptor, SASL_USERS } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { DEFAULT_KAFKA_VERSION } from '../../../src/testbed/versions.ts';
import { type ClientTarget, type ConsumedRecord, stopAllClients } from '../../support/clients/common.ts';
import { consumeGroup as javaConsumeGroup, readCommitted } from '../../support/clients/java.ts';
import { produceTransactions, consumeGroup as rdkafkaConsumeGroup } from '../../support/clients/librdkafka.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { committedOffsets, createTopic, laggingBed, type SwitchReportLike, switchOrders } from '../../support/switchover/lagging-bed.ts';
import { eventually } from '../../support/switchover/long-running.ts';

const TOKEN = 'offset-lags-token';
const RUN = randomBytes(3).toString('hex');
const LAGS = [0, 1_000, 100_000] as const;
/** Records per partition of the plain topic: partition 0 holds more than the largest lag. */
const PLAIN_SIZES = [101_500, 3_000, 2_500];
/** Records per partition of the compacted topic, written in batches of COMPACT_BATCH. */
const COMPACT_SIZE = 3_000;
const COMPACT_BATCH = 500;
const COMPACT_KEYS = 50;
/** Transactions of the transactional topic: 3k+1, so that the last one is aborted too. */
const TXN_COUNT = 181;
const TXN_SIZE = 30;
const TXN_ABORT_EVERY = 3;
const PARTITIONS = 3;
const PRODUCE_BATCH = 5_000;
const CONSUME_TIMEOUT_MS = 150_000;
const READ_TIMEOUT_MS = 120_000;
/** Consumers run at once (each is a JVM or a Python process; the machine may have 2 cores). */
const CONSUMERS_AT_ONCE = 3;

/** Topic configs that make the log cleaner compact within seconds of a segment rolling (it backs
 *  off 15 s when it finds nothing to clean). */
const COMPACT_CONFIG: Record<string, string> = {
  'cleanup.policy': 'compact',
  'min.cleanable.dirty.ratio': '0.01',
  'min.compaction.lag.ms': '0',
  'delete.retention.ms': '100',
  'file.delete.delay.ms': '1000',
};
/** Record time per segment: blue rolls at every batch of the compacted topic (2 s apart), green at
 *  every other one. (MirrorMaker's topic-config sync, every 10 minutes, may give green blue's value:
 *  the gaps would then differ less, which the test only reports.) */
const SEGMENT_MS = { blue: '1000', green: '3000' } as const;

type Kind = 'plain' | 'txn' | 'compact';

interface PreflightLike {
  partitions: { partition: string; sourceEnd: string; destEnd: string | null; caughtUp: boolean; lag: number | null }[];
}

/** One record written to blue. */
interface Written {
  value: string;
  partition: number;
  offset: bigint;
  committed: boolean;
}

interface TopicData {
  kind: Kind;
  topic: string;
  /** Every record written to blue, per partition in offset order. */
  byPartition: Written[][];
  byValue: Map<string, Written>;
  /** Green offsets of the values seen on green so far (compaction only removes records, so every read adds to what is known). */
  greenOffset: Map<string, bigint>;
}

interface LagGroup {
  data: TopicData;
  lag: number;
  group: string;
  client: 'java' | 'librdkafka';
  /** Committed offsets on the switch's source, per partition. */
  committed: Map<number, bigint>;
}

const broker = (c: ClusterDescriptor) => ({ host: c.brokers[0].host, port: c.brokers[0].plaintextPort });
const switchTo = (gw: TestGateway, to: string, t: TestContext) => switchOrders(gw.adminUrl, TOKEN, to, 'offset-lags test', t);
const partitionOfKey = (key: string) => Number(key.slice(key.lastIndexOf(':') + 1));
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Appends one batch (acks=all) and returns the offset of its first record. */
async function produceBatch(
  c: ClusterDescriptor,
  topic: string,
  partition: number,
  records: { key: string | null; value: string; timestamp: number }[],
): Promise<bigint> {
  const { host, port } = broker(c);
  const batch = encodeRecordBatch(
    records.map((r) => ({ key: r.key === null ? null : Buffer.from(r.key), value: Buffer.from(r.value), timestamp: r.timestamp })),
  );
  const res = await sendRequest<ProduceResponse>(
    host,
    port,
    ApiKey.Produce,
    9,
    {
      ...defaultProduceRequest(),
      acks: -1,
      timeoutMs: 15_000,
      topicData: [
        {
          ...defaultProduceRequestTopicProduceData(),
          name: topic,
          partitionData: [{ ...defaultProduceRequestPartitionProduceData(), index: partition, records: batch }],
        },
      ],
    },
    20_000,
  );
  const p = res.responses[0].partitionResponses[0];
  assert.equal(p.errorCode, 0, `Produce to ${topic}-${partition} on ${c.name}: ${p.errorCode} ${p.errorMessage ?? ''}`);
  return p.baseOffset;
}

/** Log end offsets (ListOffsets latest) of partitions 0..n-1. */
async function endOffsets(c: ClusterDescriptor, topic: string, n = PARTITIONS): Promise<bigint[]> {
  const { host, port } = broker(c);
  const res = await sendRequest<ListOffsetsResponse>(
    host,
    port,
    ApiKey.ListOffsets,
    7,
    {
      ...defaultListOffsetsRequest(),
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          ...defaultListOffsetsRequestListOffsetsTopic(),
          name: topic,
          partitions: Array.from({ length: n }, (_, i) => ({
            ...defaultListOffsetsRequestListOffsetsPartition(),
            partitionIndex: i,
            currentLeaderEpoch: -1,
            timestamp: -1n,
          })),
        },
      ],
    },
    10_000,
  );
  const out: bigint[] = [];
  for (const p of res.topics[0].partitions) {
    assert.equal(p.errorCode, 0, `ListOffsets ${topic}-${p.partitionIndex} on ${c.name}: ${p.errorCode}`);
    out[p.partitionIndex] = p.offset;
  }
  return out;
}

/** Commits offsets for a group without members (generation -1), as an admin tool does; retried while the coordinator loads. */
async function commitOffsets(c: ClusterDescriptor, group: string, topic: string, offsets: Map<number, bigint>): Promise<void> {
  const { host, port } = broker(c);
  await eventually(
    async () => {
      // FindCoordinator first, as clients do: it creates __consumer_offsets on a cluster that has no group yet.
      const fc = await sendRequest<FindCoordinatorResponse>(
        host,
        port,
        ApiKey.FindCoordinator,
        4,
        { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: [group] },
        10_000,
      );
      assert.equal(fc.coordinators[0]?.errorCode, 0, `FindCoordinator ${group} on ${c.name}: error ${fc.coordinators[0]?.errorCode}`);
      const res = await sendRequest<OffsetCommitResponse>(
        host,
        port,
        ApiKey.OffsetCommit,
        8,
        {
          ...defaultOffsetCommitRequest(),
          groupId: group,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          topics: [
            {
              ...defaultOffsetCommitRequestTopic(),
              name: topic,
              partitions: [...offsets].map(([partitionIndex, committedOffset]) => ({
                ...defaultOffsetCommitRequestPartition(),
                partitionIndex,
                committedOffset,
              })),
            },
          ],
        },
        10_000,
      );
      for (const t of res.topics)
        for (const p of t.partitions) assert.equal(p.errorCode, 0, `OffsetCommit ${group} ${topic}-${p.partitionIndex} on ${c.name}: error ${p.errorCode}`);
    },
    30_000,
    500,
  );
}

/** Offsets of the records a partition holds now (a diagnostic of compaction, read with a raw Fetch). */
async function presentOffsets(c: ClusterDescriptor, topic: string, partition: number): Promise<bigint[]> {
  const { host, port } = broker(c);
  const out: bigint[] = [];
  for (let from = 0n, round = 0; round < 100; round++) {
    const res = await sendRequest<FetchResponse>(
      host,
      port,
      ApiKey.Fetch,
      12,
      {
        ...defaultFetchRequest(),
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 16 << 20,
        topics: [
          {
            ...defaultFetchRequestFetchTopic(),
            topic,
            partitions: [{ ...defaultFetchRequestFetchPartition(), partition, fetchOffset: from, partitionMaxBytes: 16 << 20 }],
          },
        ],
      },
      10_000,
    );
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, 0, `Fetch ${topic}-${partition} on ${c.name}: ${p.errorCode}`);
    const records = decodeRecordBatches(p.records ?? new Uint8Array(0));
    for (const r of records) if (r.offset >= from) out.push(r.offset);
    const last = records.at(-1);
    if (last === undefined || last.offset + 1n >= p.highWatermark) break;
    from = last.offset + 1n;
  }
  return out;
}

/** Every committed record of `topic` on `c` (Java consumer, read_committed, no group), per partition. */
async function readSide(c: ClusterDescriptor, topic: string): Promise<ConsumedRecord[][]> {
  const all = await readCommitted({ bootstrap: c.bootstrap() }, DEFAULT_KAFKA_VERSION, topic, { timeoutMs: READ_TIMEOUT_MS });
  const out: ConsumedRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const r of all) out[r.partition].push(r);
  return out;
}

/** Runs `f` over `items`, at most `n` at once; results in order. */
async function limited<T, R>(items: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]);
      }
    }),
  );
  return out;
}

function consume(target: ClientTarget, g: LagGroup, count: number): Promise<ConsumedRecord[]> {
  const config = { 'isolation.level': 'read_committed' };
  return g.client === 'java'
    ? javaConsumeGroup(target, g.data.topic, g.group, count, CONSUME_TIMEOUT_MS, { config })
    : rdkafkaConsumeGroup(target, g.data.topic, g.group, count, CONSUME_TIMEOUT_MS, { config });
}

/**
 * Where each written value sits on the switch's source: [lo, hi], its offset when known (lo ===
 * hi), else the range its copy must lie in (copies keep the order of the originals).
 * `known` gives the offsets known on the source; values without one are bracketed by their
 * neighbours' (committed records only: aborted ones have no copy), `end` bounding from above.
 */
function sourcePositions(data: TopicData, known: (v: string) => bigint | undefined, ends: readonly bigint[]): Map<string, [bigint, bigint]> {
  const out = new Map<string, [bigint, bigint]>();
  for (const [p, recs] of data.byPartition.entries()) {
    const committed = recs.filter((r) => r.committed);
    const at = committed.map((r) => known(r.value));
    const prev: (bigint | undefined)[] = [];
    let last: bigint | undefined;
    for (let i = 0; i < committed.length; i++) {
      prev.push(last);
      if (at[i] !== undefined) last = at[i];
    }
    let nextKnown: bigint | undefined;
    for (let i = committed.length - 1; i >= 0; i--) {
      const o = at[i];
      if (o !== undefined) out.set(committed[i].value, [o, o]);
      else out.set(committed[i].value, [prev[i] === undefined ? 0n : prev[i]! + 1n, nextKnown === undefined ? ends[p] - 1n : nextKnown - 1n]);
      if (o !== undefined) nextKnown = o;
    }
  }
  return out;
}

interface PartitionVerdict {
  partition: number;
  /** The switch report has an entry for this partition. */
  reported: boolean;
  source: bigint | undefined;
  dest: string;
  method: string;
  bound: string | null | undefined;
  delivered: number;
  mustDeliver: number;
  lost: string[];
  reReads: number;
  ambiguous: number;
}

interface GroupVerdict {
  label: string;
  installed: boolean;
  error?: string;
  partitions: PartitionVerdict[];
  abortedDelivered: string[];
  foreign: string[];
  duplicates: number;
}

/**
 * What one group got after a switch. `positions`: where each committed value sits on the switch's
 * source; `onDest`: the values the destination holds (read after the group read its records).
 */
function judge(
  g: LagGroup,
  label: string,
  positions: Map<string, [bigint, bigint]>,
  onDest: Set<string>,
  delivered: readonly ConsumedRecord[],
  report: SwitchReportLike,
  destOffsets: Map<number, bigint>,
): GroupVerdict {
  const entry = report.groups?.find((x) => x.groupId === g.group);
  const got = new Set(delivered.map((r) => r.value));
  const abortedDelivered = [...got].filter((v) => g.data.byValue.get(v)?.committed === false);
  const foreign = [...got].filter((v) => !g.data.byValue.has(v));
  const partitions: PartitionVerdict[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const q = g.committed.get(p);
    const o = entry?.offsets.find((x) => partitionOfKey(x.partition) === p);
    let mustDeliver = 0;
    let reReads = 0;
    let ambiguous = 0;
    const lost: string[] = [];
    for (const r of g.data.byPartition[p]) {
      if (!r.committed) continue;
      const [lo, hi] = positions.get(r.value)!;
      const notRead = q === undefined || lo >= q;
      const read = q !== undefined && hi < q;
      if (notRead && onDest.has(r.value)) {
        mustDeliver++;
        if (!got.has(r.value)) lost.push(`${r.value} (blue offset ${r.offset}, source offset ${lo === hi ? lo : `${lo}..${hi}`})`);
      }
      if (got.has(r.value)) {
        if (read) reReads++;
        else if (!notRead) ambiguous++;
      }
    }
    partitions.push({
      partition: p,
      reported: o !== undefined,
      source: q,
      dest: o?.dest ?? `none (committed now ${destOffsets.get(p) ?? 'none'})`,
      method: o?.method ?? '-',
      bound: o?.reReadBound,
      delivered: delivered.filter((r) => r.partition === p).length,
      mustDeliver,
      lost,
      reReads,
      ambiguous,
    });
  }
  return {
    label,
    installed: entry?.installed === true,
    ...(entry?.error !== undefined ? { error: entry.error } : {}),
    partitions,
    abortedDelivered,
    foreign,
    duplicates: delivered.length - got.size,
  };
}

/** Prints a verdict: "owed" are the committed records the group had not read that the destination
 *  holds (each must be delivered), "lost" those of them never delivered, "re-reads" records
 *  delivered that it had read, "undecidable" delivered records of which that cannot be told. */
function print(t: TestContext, v: GroupVerdict): void {
  t.diagnostic(
    `${v.label}: installed ${v.installed}${v.error ? ` (${v.error})` : ''}, aborted delivered ${v.abortedDelivered.length}, unknown values ${v.foreign.length}, duplicates ${v.duplicates}`,
  );
  for (const p of v.partitions) {
    t.diagnostic(
      `  ${v.label} p${p.partition}: source ${p.source ?? 'none'} -> dest ${p.dest} (${p.method}) reReadBound ${p.bound === undefined ? 'absent' : p.bound}; ` +
        `delivered ${p.delivered}, owed ${p.mustDeliver}, lost ${p.lost.length}, re-reads ${p.reReads}${p.ambiguous > 0 ? `, undecidable ${p.ambiguous}` : ''}` +
        (p.lost.length > 0 ? `; LOST e.g. ${p.lost.slice(0, 8).join(', ')}` : ''),
    );
  }
}

function check(v: GroupVerdict): void {
  assert.ok(v.installed, `${v.label}: offsets not installed${v.error ? `: ${v.error}` : ''}`);
  for (const p of v.partitions) {
    if (p.source !== undefined)
      assert.ok(p.reported, `${v.label} partition ${p.partition}: committed at ${p.source} on the source, but not in the switch report`);
    assert.equal(
      p.lost.length,
      0,
      `${v.label} partition ${p.partition} (source offset ${p.source}, dest ${p.dest}, ${p.method}): ${p.lost.length} committed record(s) it had not read were never delivered, e.g. ${p.lost.slice(0, 10).join(', ')}`,
    );
    if (typeof p.bound === 'string' && /^\d+$/.test(p.bound)) {
      assert.ok(
        p.reReads <= Number(p.bound),
        `${v.label} partition ${p.partition} (source offset ${p.source}, dest ${p.dest}, ${p.method}): ${p.reReads} re-reads, more than the reported bound ${p.bound}`,
      );
    }
  }
  assert.deepEqual(v.abortedDelivered.slice(0, 10), [], `${v.label}: aborted records delivered`);
  assert.deepEqual(v.foreign.slice(0, 10), [], `${v.label}: records that were never written delivered`);
}

describe('planned switch of groups at lags 0, 1,000 and 100,000 on plain, transactional and compacted topics, both ways (MirrorMaker 2)', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let gw: TestGateway;
  let through: ClientTarget;
  const topics: Record<Kind, string> = { plain: `lg-lag-plain-${RUN}`, txn: `lg-lag-txn-${RUN}`, compact: `lg-lag-compact-${RUN}` };
  const data = new Map<Kind, TopicData>();
  const started = Date.now();
  let onGreen = false;

  const newData = (kind: Kind): TopicData => ({
    kind,
    topic: topics[kind],
    byPartition: Array.from({ length: PARTITIONS }, () => []),
    byValue: new Map(),
    greenOffset: new Map(),
  });
  const add = (d: TopicData, w: Written) => {
    d.byPartition[w.partition].push(w);
    d.byValue.set(w.value, w);
  };
  /** Reads green and adds what it holds to each value's known green offset; returns the values present. */
  const readGreen = async (d: TopicData): Promise<{ values: Set<string>; records: ConsumedRecord[][] }> => {
    const records = await readSide(green, d.topic);
    const values = new Set<string>();
    for (const rs of records)
      for (const r of rs) {
        values.add(r.value);
        const before = d.greenOffset.get(r.value);
        assert.ok(before === undefined || before === r.offset, `${r.value} moved on green from ${before} to ${r.offset}`);
        d.greenOffset.set(r.value, r.offset);
      }
    return { values, records };
  };
  /** The groups of one direction: each topic at each lag, positioned from the ends of `c`. */
  const position = async (c: ClusterDescriptor, side: string): Promise<LagGroup[]> => {
    const groups: LagGroup[] = [];
    for (const kind of ['plain', 'txn', 'compact'] as const) {
      const d = data.get(kind)!;
      const ends = await endOffsets(c, d.topic);
      LAGS.forEach((lag, i) => {
        const committed = new Map(ends.map((e, p) => [p, max(0n, e - BigInt(lag))] as [number, bigint]));
        // The 100,000 group of the plain topic reads 100,000+ records: the Java client (fast); the others alternate.
        const client = kind === 'plain' || (i + (kind === 'txn' ? 0 : 1)) % 2 === 0 ? 'java' : 'librdkafka';
        groups.push({ data: d, lag, group: `lg-lag-${side}-${kind}-${lag}-${RUN}`, client, committed });
      });
    }
    await Promise.all(groups.map((g) => commitOffsets(c, g.group, g.data.topic, g.committed)));
    return groups;
  };

  before(async () => {
    ({ blue, green } = await laggingBed());
    for (const kind of ['plain', 'txn', 'compact'] as const) {
      const configs = (side: keyof typeof SEGMENT_MS) => (kind === 'compact' ? { ...COMPACT_CONFIG, 'segment.ms': SEGMENT_MS[side] } : {});
      // Green first, with its own settings (MirrorMaker would create it with blue's).
      await createTopic(green, topics[kind], PARTITIONS, configs('green'));
      await createTopic(blue, topics[kind], PARTITIONS, configs('blue'));
    }
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [
        {
          name: 'orders',
          domain: 'blue',
          listener: 'sasl',
          brokerPortCount: 16,
          // The switch covers this file's topics (its groups are the ones with offsets on them).
          replication: { type: 'mirrormaker2', topics: `lg-lag-(plain|txn|compact)-${RUN}`, groups: null },
        },
      ],
      stateTopic: `_turnout_state_lag_${RUN}`,
      adminToken: TOKEN,
      switchover: { fenceTimeoutMs: 30_000 },
    });
    through = { bootstrap: gw.bootstrap.orders, sasl: { username: 'alice', password: SASL_USERS.alice } };
  });

  after(async () => {
    await stopAllClients();
    await gw?.stop();
  });

  test('blue holds plain, transactional and compacted records; MirrorMaker copies them; the log cleaner compacts', { timeout: 400_000 }, async (t) => {
    const plain = newData('plain');
    const txn = newData('txn');
    const compact = newData('compact');
    const writePlain = async () => {
      const now = Date.now();
      for (const [p, size] of PLAIN_SIZES.entries()) {
        for (let i = 0; i < size; i += PRODUCE_BATCH) {
          const values = Array.from({ length: Math.min(PRODUCE_BATCH, size - i) }, (_, j) => `plain-${RUN}-p${p}-${i + j}`);
          const base = await produceBatch(
            blue,
            plain.topic,
            p,
            values.map((value) => ({ key: null, value, timestamp: now })),
          );
          values.forEach((value, j) => {
            add(plain, { value, partition: p, offset: base + BigInt(j), committed: true });
          });
        }
      }
    };
    const writeCompact = async () => {
      // Timestamps 2 s apart per batch: blue (segment.ms 1 s) rolls a segment at every batch, green (3 s) at every other one.
      const start = Date.now() - 10 * 60_000;
      for (let b = 0; b * COMPACT_BATCH < COMPACT_SIZE; b++) {
        await Promise.all(
          Array.from({ length: PARTITIONS }, async (_, p) => {
            const records = Array.from({ length: COMPACT_BATCH }, (_, j) => {
              const i = b * COMPACT_BATCH + j;
              return { key: `k${(i * 7 + p) % COMPACT_KEYS}`, value: `compact-${RUN}-p${p}-${i}`, timestamp: start + b * 2_000 };
            });
            const base = await produceBatch(blue, compact.topic, p, records);
            records.forEach((r, j) => {
              add(compact, { value: r.value, partition: p, offset: base + BigInt(j), committed: true });
            });
          }),
        );
      }
      for (const recs of compact.byPartition) recs.sort((a, b) => (a.offset < b.offset ? -1 : 1));
    };
    const writeTxn = async () => {
      const r = await produceTransactions({ bootstrap: blue.bootstrap() }, txn.topic, TXN_COUNT, TXN_SIZE, TXN_ABORT_EVERY, {
        partitions: PARTITIONS,
        timeoutMs: 180_000,
      });
      for (const x of [...r.records].sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : 1))) {
        add(txn, { value: x.value, partition: x.partition, offset: x.offset, committed: x.outcome === 'committed' });
      }
      assert.equal(r.aborted.length, Math.ceil(TXN_COUNT / TXN_ABORT_EVERY) * TXN_SIZE);
    };
    let w = Date.now();
    await Promise.all([writePlain(), writeCompact(), writeTxn()]);
    for (const d of [plain, txn, compact]) data.set(d.kind, d);
    t.diagnostic(
      `written to blue in ${Date.now() - w} ms: ${[plain, txn, compact].map((d) => `${d.topic} ${d.byPartition.map((r) => `${r.length}${d.kind === 'txn' ? ` (${r.filter((x) => !x.committed).length} aborted)` : ''}`).join('/')}`).join('; ')}`,
    );

    // Blue holds what was written, where it was written (compaction may have removed some already).
    w = Date.now();
    const blueNow = await Promise.all([plain, txn, compact].map((d) => readSide(blue, d.topic)));
    for (const [i, d] of [plain, txn, compact].entries()) {
      let n = 0;
      for (const rs of blueNow[i])
        for (const r of rs) {
          const x = d.byValue.get(r.value);
          assert.ok(x?.committed, `${d.topic}: unexpected record ${r.value} on blue`);
          assert.equal(r.offset, x.offset, `${r.value} at ${r.offset} on blue, written at ${x.offset}`);
          n++;
        }
      if (d.kind !== 'compact') assert.equal(n, [...d.byValue.values()].filter((x) => x.committed).length, `${d.topic}: committed records on blue`);
    }
    t.diagnostic(
      `blue read back (read_committed) in ${Date.now() - w} ms; log end offsets: ${(await Promise.all([plain, txn, compact].map(async (d) => `${d.kind} ${(await endOffsets(blue, d.topic)).join('/')}`))).join('; ')}`,
    );

    // MirrorMaker has copied everything: preflight finds every partition caught up.
    w = Date.now();
    let pf: PreflightLike | undefined;
    await eventually(
      async () => {
        const res = await fetch(`${gw.adminUrl}/routes/orders/preflight?to=green`, { headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(res.status, 200);
        pf = (await res.json()) as PreflightLike;
        const mine = pf.partitions.filter((p) => Object.values(topics).some((x) => p.partition.startsWith(`${x}:`)));
        assert.equal(mine.length, 3 * PARTITIONS, JSON.stringify(pf.partitions));
        assert.ok(
          mine.every((p) => p.caughtUp),
          `not caught up: ${JSON.stringify(mine)}`,
        );
      },
      180_000,
      1000,
    );
    t.diagnostic(`caught up after ${Date.now() - w} ms: ${pf!.partitions.map((p) => `${p.partition} ${p.sourceEnd}/${p.destEnd}`).join(', ')}`);

    // The log cleaner compacts both copies of the compacted topic (it backs off 15 s when idle).
    w = Date.now();
    const compaction = async () =>
      Promise.all(
        [blue, green].map(async (c) => {
          const [ends, present] = await Promise.all([
            endOffsets(c, compact.topic),
            Promise.all(Array.from({ length: PARTITIONS }, (_, p) => presentOffsets(c, compact.topic, p))),
          ]);
          return { c, ends, present };
        }),
      );
    let sides = await compaction();
    const compacted = (s: (typeof sides)[number]) => s.present.every((offs, p) => BigInt(offs.length) < s.ends[p]);
    const shape = (ss: typeof sides) => ss.map((x) => x.present.map((offs) => offs.join(',')).join(';')).join('|');
    try {
      // Compacted on both sides, and settled: the same records as 2 s before (the cleaner goes on
      // at once while it finds dirty segments), so that no record vanishes while the groups read.
      await eventually(
        async () => {
          const before = shape(sides);
          await new Promise((r) => setTimeout(r, 2000));
          sides = await compaction();
          assert.ok(sides.every(compacted) && shape(sides) === before);
        },
        90_000,
        0,
      );
    } catch {
      // Diagnosed below: one side compacted is enough.
    }
    for (const s of sides) {
      t.diagnostic(
        `compacted topic on ${s.c.name} after ${Date.now() - w} ms: ${s.present.map((offs, p) => `p${p} ${offs.length} records of ${s.ends[p]} offsets (first ${offs[0]})`).join(', ')}`,
      );
    }
    assert.ok(
      sides.some((s) => s.present.some((offs, p) => BigInt(offs.length) < s.ends[p])),
      'the log cleaner compacted neither copy of the compacted topic within 90 s',
    );

    // What green holds: the committed records (every one, for the plain and transactional topics), at their green offsets.
    const greens = await Promise.all([plain, txn, compact].map((d) => readGreen(d)));
    for (const [i, d] of [plain, txn, compact].entries()) {
      const gotAborted = [...greens[i].values].filter((v) => d.byValue.get(v)?.committed !== true);
      assert.deepEqual(gotAborted.slice(0, 10), [], `${d.topic}: records on green that are not committed on blue`);
      const committed = [...d.byValue.values()].filter((x) => x.committed);
      const missing = committed.filter((x) => !greens[i].values.has(x.value));
      if (d.kind !== 'compact')
        assert.equal(
          missing.length,
          0,
          `${d.topic}: ${missing.length} committed record(s) not on green, e.g. ${missing
            .slice(0, 5)
            .map((x) => x.value)
            .join(', ')}`,
        );
      const shifted = committed.filter((x) => d.greenOffset.has(x.value) && d.greenOffset.get(x.value) !== x.offset).length;
      t.diagnostic(
        `${d.topic} on green: ${greens[i].values.size} records (${greens[i].records.map((r) => r.length).join('/')}), ${missing.length} committed not there, ${shifted} at another offset than on blue`,
      );
    }
    // Different gaps: records one copy of the compacted topic holds and the other does not.
    const blueCompact = new Set((await readSide(blue, compact.topic)).flat().map((r) => r.value));
    const greenCompact = greens[2].values;
    t.diagnostic(
      `compacted topic: ${blueCompact.size} records on blue, ${greenCompact.size} on green; ${[...blueCompact].filter((v) => !greenCompact.has(v)).length} only on blue, ${[...greenCompact].filter((v) => !blueCompact.has(v)).length} only on green`,
    );
    t.diagnostic(`setup took ${Date.now() - started} ms since the file started`);
  });

  test('A: groups at lags 0, 1,000 and 100,000 on blue move to green: nothing lost, re-reads within the reported bound', { timeout: 400_000 }, async (t) => {
    assert.equal(data.size, 3, 'the first test wrote the topics');
    const t0 = Date.now();
    const groups = await position(blue, 'a');
    const report = await switchTo(gw, 'green', t);
    onGreen = true;

    // Where each value sat on blue (all known: blue offsets are those written).
    const positions = new Map([...data.values()].map((d) => [d.kind, sourcePositions(d, (v) => d.byValue.get(v)!.offset, [])]));
    // What remains for each group on green, counted from what green holds now.
    const greenBefore = new Map(await Promise.all([...data.values()].map(async (d) => [d.kind, await readGreen(d)] as const)));
    const destOffsets = await Promise.all(groups.map((g) => committedOffsets(green, g.group, g.data.topic, PARTITIONS)));
    const t1 = Date.now();
    const delivered = await limited(
      groups.map((g, i) => ({ g, i })),
      CONSUMERS_AT_ONCE,
      async ({ g, i }) => {
        const count = greenBefore
          .get(g.data.kind)!
          .records.flat()
          .filter((r) => r.offset >= (destOffsets[i].get(r.partition) ?? 0n)).length;
        return consume(through, g, count);
      },
    );
    t.diagnostic(`${groups.length} groups read ${delivered.reduce((n, d) => n + d.length, 0)} records through the gateway in ${Date.now() - t1} ms`);
    // The records green holds once the groups have read (compaction only removes: each was there all along).
    const greenAfter = new Map(
      await Promise.all(
        [...data.values()].map(async (d) => [d.kind, d.kind === 'compact' ? (await readGreen(d)).values : greenBefore.get(d.kind)!.values] as const),
      ),
    );
    const verdicts = groups.map((g, i) =>
      judge(g, `A ${g.data.kind} lag ${g.lag} (${g.client})`, positions.get(g.data.kind)!, greenAfter.get(g.data.kind)!, delivered[i], report, destOffsets[i]),
    );
    for (const v of verdicts) print(t, v);
    t.diagnostic(`A took ${Date.now() - t0} ms`);
    for (const v of verdicts) check(v);
  });

  test('B: groups at lags 0, 1,000 and 100,000 on green move back to blue: nothing lost, re-reads within the reported bound', {
    timeout: 400_000,
  }, async (t) => {
    assert.ok(onGreen, 'A switched the route to green');
    const t0 = Date.now();
    const groups = await position(green, 'b');
    const greenEnds = new Map(await Promise.all([...data.values()].map(async (d) => [d.kind, await endOffsets(green, d.topic)] as const)));
    const report = await switchTo(gw, 'blue', t);

    // Where each value sat on green: its offset when green still holds it (or held it when read), else between its neighbours'.
    const positions = new Map([...data.values()].map((d) => [d.kind, sourcePositions(d, (v) => d.greenOffset.get(v), greenEnds.get(d.kind)!)]));
    const blueBefore = new Map(await Promise.all([...data.values()].map(async (d) => [d.kind, await readSide(blue, d.topic)] as const)));
    const destOffsets = await Promise.all(groups.map((g) => committedOffsets(blue, g.group, g.data.topic, PARTITIONS)));
    const t1 = Date.now();
    const delivered = await limited(
      groups.map((g, i) => ({ g, i })),
      CONSUMERS_AT_ONCE,
      async ({ g, i }) => {
        const count = blueBefore
          .get(g.data.kind)!
          .flat()
          .filter((r) => r.offset >= (destOffsets[i].get(r.partition) ?? 0n)).length;
        return consume(through, g, count);
      },
    );
    t.diagnostic(`${groups.length} groups read ${delivered.reduce((n, d) => n + d.length, 0)} records through the gateway in ${Date.now() - t1} ms`);
    const blueAfter = new Map(
      await Promise.all(
        [...data.values()].map(
          async (d) => [d.kind, new Set((d.kind === 'compact' ? await readSide(blue, d.topic) : blueBefore.get(d.kind)!).flat().map((r) => r.value))] as const,
        ),
      ),
    );
    const verdicts = groups.map((g, i) =>
      judge(g, `B ${g.data.kind} lag ${g.lag} (${g.client})`, positions.get(g.data.kind)!, blueAfter.get(g.data.kind)!, delivered[i], report, destOffsets[i]),
    );
    for (const v of verdicts) print(t, v);
    t.diagnostic(`B took ${Date.now() - t0} ms; the file ${Date.now() - started} ms`);
    for (const v of verdicts) check(v);
  });
});
