// The clusters and MirrorMaker 2 of the lagging-groups and offset-lags switchover tests: blue and
// green (one broker each) and MirrorMaker copying blue -> green the topics matching 'lg-.*'. The
// test bed shares clusters and MirrorMakers by name within a run only when their specs are
// identical, so both files take them from here, and their topics must match LAGGING_TOPICS.
//
// MirrorMaker's source consumer reads read_committed: aborted transactions are not copied. Its own
// group-offset sync (sync.group.offsets.enabled, which the test bed turns on by default) is off: it
// would overwrite the offsets a switch installs on green for idle groups, and these tests are about
// the offsets Turnout installs. Checkpoints and offset syncs are still written.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { defaultCreateTopicsRequestCreatableTopic } from '../../../src/protocol/generated/messages/create-topics-request.ts';
import type { CreateTopicsResponse } from '../../../src/protocol/generated/messages/create-topics-response.ts';
import type { OffsetFetchResponse } from '../../../src/protocol/generated/messages/offset-fetch-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, type MirrorMakerInfo, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';

/** Topics MirrorMaker copies from blue to green: every topic of these tests must match it. */
export const LAGGING_TOPICS = 'lg-.*';

export interface LaggingBed {
  blue: ClusterDescriptor;
  green: ClusterDescriptor;
  mm: MirrorMakerInfo;
}

/** Starts (or, later in the run, joins) blue, green and the blue -> green MirrorMaker. */
export async function laggingBed(): Promise<LaggingBed> {
  const bed = await testBed();
  const [blue, green] = await Promise.all([
    bed.cluster({ name: 'lg-blue', brokers: 1, nodeIdBase: 1 }),
    bed.cluster({ name: 'lg-green', brokers: 1, nodeIdBase: 701 }),
  ]);
  const mm = await bed.mirrorMaker({
    name: 'lg-blue-to-green',
    source: 'lg-blue',
    target: 'lg-green',
    topics: LAGGING_TOPICS,
    config: {
      // The source consumer of the lg-blue -> lg-green flow (MirrorMakerConfig turns
      // "<source alias>.consumer.*" into the source connector's "source.consumer.*", which
      // MirrorSourceConfig.sourceConsumerConfig applies last): copy committed records only.
      'lg-blue.consumer.isolation.level': 'read_committed',
      'sync.group.offsets.enabled': 'false',
    },
  });
  return { blue, green, mm };
}

// ---- helpers both files use: topics, committed offsets and switches, over raw requests ----

const broker = (c: ClusterDescriptor) => ({ host: c.brokers[0].host, port: c.brokers[0].plaintextPort });

/** Creates a topic (with topic configs); one that exists already (MirrorMaker may create it on green first) is fine. */
export async function createTopic(c: ClusterDescriptor, name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const { host, port } = broker(c);
  const res = await sendRequest<CreateTopicsResponse>(
    host,
    port,
    ApiKey.CreateTopics,
    5,
    {
      topics: [
        {
          ...defaultCreateTopicsRequestCreatableTopic(),
          name,
          numPartitions: partitions,
          replicationFactor: 1,
          configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
      timeoutMs: 15_000,
      validateOnly: false,
    },
    20_000,
  );
  // 36 TOPIC_ALREADY_EXISTS
  for (const t of res.topics) assert.ok(t.errorCode === 0 || t.errorCode === 36, `create ${t.name} on ${c.name}: ${t.errorCode} ${t.errorMessage}`);
}

/** A group's committed offsets on partitions 0..partitions-1 of one cluster, read from the broker directly (partition -> offset; none: absent). */
export async function committedOffsets(c: ClusterDescriptor, group: string, topic: string, partitions: number): Promise<Map<number, bigint>> {
  const { host, port } = broker(c);
  const res = await sendRequest<OffsetFetchResponse>(
    host,
    port,
    ApiKey.OffsetFetch,
    7,
    {
      groupId: group,
      topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, i) => i) }],
      groups: [],
      requireStable: true,
    },
    10_000,
  );
  assert.equal(res.errorCode, 0, `OffsetFetch ${group} on ${c.name}: error ${res.errorCode}`);
  const out = new Map<number, bigint>();
  for (const t of res.topics)
    for (const p of t.partitions) {
      assert.equal(p.errorCode, 0, `OffsetFetch ${group} ${topic}-${p.partitionIndex} on ${c.name}: error ${p.errorCode}`);
      if (p.committedOffset >= 0n) out.set(p.partitionIndex, p.committedOffset);
    }
  return out;
}

/** What these tests read of a switch report. */
export interface SwitchReportLike {
  outcome: string;
  mode: string;
  message: string;
  phases: { phase: string; ms: number; detail?: string }[];
  groups?: {
    groupId: string;
    installed: boolean;
    error?: string;
    offsets: { partition: string; source: string; dest: string; method: string; reReadBound?: string | null }[];
  }[];
}

/** A planned switch of route "orders" through the admin API; prints its phases and asserts it switched. */
export async function switchOrders(adminUrl: string, token: string, to: string, by: string, t: TestContext): Promise<SwitchReportLike> {
  const res = await fetch(`${adminUrl}/routes/orders/switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, by }),
  });
  const report = (await res.json()) as SwitchReportLike;
  t.diagnostic(`switch to ${to}: HTTP ${res.status}, ${report.outcome}: ${report.message}`);
  for (const p of report.phases ?? []) t.diagnostic(`  ${p.ms} ms ${p.phase} ${p.detail ?? ''}`);
  assert.equal(res.status, 200, JSON.stringify(report, null, 2));
  assert.equal(report.outcome, 'switched', report.message);
  assert.equal(report.mode, 'planned');
  return report;
}
