// Clients on a route never see or touch the gateway's own switch state topic, and never write
// MirrorMaker 2's offset syncs (the evidence a planned switch translates offsets with), against a
// real broker through a real gateway with a state topic: a raw-protocol client and real clients
// (kafkajs, librdkafka through confluent-kafka-python, the Java client) list topics without it,
// every write to it and every commit on it is refused with TOPIC_AUTHORIZATION_FAILED while the
// normal topic in the same request is served, its records are read directly from the broker to
// show nothing landed, and the gateway itself still switches the route through it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultCreateTopicsRequestCreatableTopic } from '../../../src/protocol/generated/messages/create-topics-request.ts';
import type { CreateTopicsResponse } from '../../../src/protocol/generated/messages/create-topics-response.ts';
import type { DeleteRecordsResponse } from '../../../src/protocol/generated/messages/delete-records-response.ts';
import type { DeleteTopicsResponse } from '../../../src/protocol/generated/messages/delete-topics-response.ts';
import type { DescribeConfigsResponse } from '../../../src/protocol/generated/messages/describe-configs-response.ts';
import type { DescribeTopicPartitionsResponse } from '../../../src/protocol/generated/messages/describe-topic-partitions-response.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition } from '../../../src/protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import type { FindCoordinatorResponse } from '../../../src/protocol/generated/messages/find-coordinator-response.ts';
import type { IncrementalAlterConfigsResponse } from '../../../src/protocol/generated/messages/incremental-alter-configs-response.ts';
import type { ListOffsetsResponse } from '../../../src/protocol/generated/messages/list-offsets-response.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import type { OffsetCommitResponse } from '../../../src/protocol/generated/messages/offset-commit-response.ts';
import type { OffsetFetchResponse } from '../../../src/protocol/generated/messages/offset-fetch-response.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import { ApiKey, decodeResponse, encodeRequest, ZERO_UUID } from '../../../src/protocol/index.ts';
import { decodeRecordBatches } from '../../../src/protocol/records.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { type ClientTarget, stopAllClients } from '../../support/clients/index.ts';
import * as java from '../../support/clients/java.ts';
import * as kafkajs from '../../support/clients/kafkajs.ts';
import * as rdkafka from '../../support/clients/librdkafka.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { createTopic, eventually, metricValue, RawKafkaClient, scrapeMetrics } from '../../support/raw-kafka.ts';
import { recordBatch } from '../../support/record-batch.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'protected-topics-token';
const AUTHZ = 29; // TOPIC_AUTHORIZATION_FAILED
const TOPIC_TYPE = 2; // config resource type (kafkajs ConfigResourceTypes.TOPIC)

let cluster: ClusterDescriptor;
let gw: TestGateway;
let target: ClientTarget;
const stateTopic = uniqueName('_turnout_state_protected');
const normal = uniqueName('protected-normal');
const syncs = `mm2-offset-syncs.${uniqueName('alias')}.internal`;
const FORGED = 'forged-by-a-client';

/** One request straight to the broker, not through the gateway. */
function direct<T extends object>(apiKey: number, version: number, body: object): Promise<T> {
  const b = cluster.brokers[0];
  return sendRequest<T>(b.host, b.plaintextPort, apiKey, version, body, 10_000);
}

/** Every record value of partition 0 of `topic`, read directly from the broker. */
async function valuesOn(topic: string): Promise<string[]> {
  const r = await direct<FetchResponse>(ApiKey.Fetch, 12, fetchBody([topic], 0n, 16 * 1024 * 1024));
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, 0, `fetching ${topic} directly`);
  return p.records === null ? [] : decodeRecordBatches(p.records).map((rec) => rec.value?.toString('utf8') ?? '');
}

async function endOffset(topic: string): Promise<bigint> {
  const r = await direct<ListOffsetsResponse>(ApiKey.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }],
  });
  return r.topics[0].partitions[0].offset;
}

async function topicConfig(topic: string, key: string): Promise<string | null> {
  const r = await direct<DescribeConfigsResponse>(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType: TOPIC_TYPE, resourceName: topic, configurationKeys: [key] }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  return r.results[0].configs.find((c) => c.name === key)?.value ?? null;
}

function fetchBody(topics: string[], offset: bigint, maxBytes = 1024 * 1024) {
  return {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    topics: topics.map((topic) => ({
      topic,
      topicId: ZERO_UUID,
      partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset: offset, partitionMaxBytes: maxBytes }],
    })),
  };
}

function produceBody(topics: { name: string; values: string[] }[], acks = -1) {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 10_000,
    topicData: topics.map((t) => ({ name: t.name, topicId: ZERO_UUID, partitionData: [{ index: 0, records: recordBatch(t.values) }] })),
  };
}

/** Errors by topic in a response's per-topic, per-partition lists. */
const errorsOf = <T extends { partitions?: { errorCode: number }[]; partitionResponses?: { errorCode: number }[] }>(
  topics: T[],
  name: (t: T) => string | null,
) => Object.fromEntries(topics.map((t) => [name(t), (t.partitions ?? t.partitionResponses ?? []).map((p) => p.errorCode)]));

/** Whether an error (kafkajs', or a client driver's) says the topic is not authorized. */
function isAuthorizationError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (e === null || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const o = e as { type?: unknown; message?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof o.type === 'string' && o.type === 'TOPIC_AUTHORIZATION_FAILED') return true;
    if (typeof o.message === 'string' && /authoriz/i.test(o.message)) return true;
    return (Array.isArray(o.errors) && o.errors.some(visit)) || visit(o.cause) || visit(o.originalError);
  };
  return visit(err);
}

async function rejectsWithAuthorization(what: string, work: () => Promise<unknown>): Promise<void> {
  let outcome: unknown;
  try {
    outcome = await work();
  } catch (err) {
    assert.ok(isAuthorizationError(err), `${what}: failed, but not with an authorization error: ${(err as Error).stack ?? String(err)}`);
    return;
  }
  assert.fail(`${what}: succeeded (${JSON.stringify(outcome, (_k, v) => (typeof v === 'bigint' ? String(v) : v))})`);
}

before(async () => {
  const bed = await testBed();
  cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
  // Two streaming domains on the one cluster: enough for the gateway to switch the route through its state topic.
  gw = await startGateway({
    domains: [domainFor(cluster, 'blue'), domainFor(cluster, 'green')],
    routes: [{ name: 'r', domain: 'blue', listener: 'plaintext' }],
    stateTopic,
    adminToken: TOKEN,
  });
  target = { bootstrap: gw.bootstrap.r };
  await createTopic(cluster.bootstrap(), normal);
  await createTopic(cluster.bootstrap(), syncs);
  const seeded = await direct<ProduceResponse>(ApiKey.Produce, 9, produceBody([{ name: syncs, values: ['sync-record'] }]));
  assert.equal(seeded.responses[0].partitionResponses[0].errorCode, 0);
  // The gateway writes its heartbeats to the state topic (creating it) from the start.
  await eventually('the gateway to create and write its state topic', async () => (await endOffset(stateTopic).catch(() => -1n)) > 0n, 30_000);
});

after(async () => {
  await stopAllClients();
  await gw?.stop();
});

describe("through the gateway, clients never see or touch the gateway's state topic", () => {
  test('listings leave it out: raw Metadata and DescribeTopicPartitions, kafkajs, librdkafka and the Java client', async () => {
    const raw = await RawKafkaClient.connect(target.bootstrap);
    try {
      const all = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null, allowAutoTopicCreation: false });
      const names = all.topics.map((t) => t.name);
      assert.ok(names.includes(normal) && names.includes(syncs), `the normal and MirrorMaker topics are listed: ${names.join(', ')}`);
      assert.ok(!names.includes(stateTopic), 'Metadata (all topics) does not list the state topic');
      const v1 = await raw.request<MetadataResponse>(ApiKey.Metadata, 1, { ...defaultMetadataRequest(), topics: null });
      assert.ok(!v1.topics.some((t) => t.name === stateTopic), 'nor does Metadata v1');
      // Named: answered as a broker answers a topic the client may not describe.
      const named = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, {
        ...defaultMetadataRequest(),
        topics: [stateTopic, normal].map((name) => ({ name, topicId: ZERO_UUID })),
        allowAutoTopicCreation: true,
      });
      assert.deepEqual(
        named.topics.map((t) => [t.name, t.errorCode, t.topicId === ZERO_UUID, t.partitions.length > 0]).sort(),
        [
          [normal, 0, false, true],
          [stateTopic, AUTHZ, true, false],
        ].sort(),
      );
      const dtp = await raw.request<DescribeTopicPartitionsResponse>(ApiKey.DescribeTopicPartitions, 0, {
        topics: [],
        responsePartitionLimit: 2000,
        cursor: null,
      });
      assert.ok(
        dtp.topics.some((t) => t.name === normal) && !dtp.topics.some((t) => t.name === stateTopic),
        'DescribeTopicPartitions (all topics) leaves it out',
      );
      // Paged one partition at a time, the listing skips it and goes on past it.
      const paged: string[] = [];
      let cursor: { topicName: string; partitionIndex: number } | null = null;
      for (let i = 0; i < 10_000; i++) {
        const page: DescribeTopicPartitionsResponse = await raw.request<DescribeTopicPartitionsResponse>(ApiKey.DescribeTopicPartitions, 0, {
          topics: [],
          responsePartitionLimit: 1,
          cursor,
        });
        paged.push(...page.topics.map((t) => t.name!));
        if (page.nextCursor === null) break;
        cursor = { topicName: page.nextCursor.topicName, partitionIndex: page.nextCursor.partitionIndex };
        assert.notEqual(cursor.topicName, stateTopic, 'no cursor names it');
      }
      assert.ok(!paged.includes(stateTopic) && paged.includes(normal) && paged.includes(syncs), `paged listing: ${paged.join(', ')}`);
      // The broker itself lists it (the gateway hides it, it did not vanish).
      const directly = await direct<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null });
      assert.ok(directly.topics.some((t) => t.name === stateTopic));
    } finally {
      raw.destroy();
    }
    for (const [client, list] of [
      ['kafkajs', kafkajs.listMetadata],
      ['librdkafka', rdkafka.listMetadata],
      ['java', java.listMetadata],
    ] as const) {
      const md = await list(target);
      assert.ok(md.topics.includes(normal), `${client} lists the normal topic`);
      assert.ok(!md.topics.includes(stateTopic), `${client} does not see the state topic: ${md.topics.join(', ')}`);
    }
  });

  test('real clients producing to it, and kafkajs admin creating, deleting, reconfiguring it or committing offsets on it, get an authorization error', async () => {
    await rejectsWithAuthorization('kafkajs producer', () => kafkajs.produce(target, stateTopic, [{ value: FORGED }], { timeoutMs: 20_000 }));
    await rejectsWithAuthorization('librdkafka producer', () => rdkafka.produce(target, stateTopic, [{ value: FORGED }], { timeoutMs: 20_000 }));
    await rejectsWithAuthorization('java producer', () => java.produce(target, stateTopic, [{ value: FORGED }], { timeoutMs: 20_000 }));
    await kafkajs.withAdmin(target, 'admin on the state topic', 60_000, async (admin) => {
      await rejectsWithAuthorization('kafkajs deleteTopics', () => admin.deleteTopics({ topics: [stateTopic], timeout: 5000 }));
      await rejectsWithAuthorization('kafkajs createTopics', () =>
        admin.createTopics({ topics: [{ topic: stateTopic, numPartitions: 3 }], waitForLeaders: false }),
      );
      await rejectsWithAuthorization('kafkajs alterConfigs', () =>
        admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC_TYPE, name: stateTopic, configEntries: [{ name: 'retention.ms', value: '1' }] }] }),
      );
      await rejectsWithAuthorization('kafkajs setOffsets', () =>
        admin.setOffsets({ groupId: uniqueName('g'), topic: stateTopic, partitions: [{ partition: 0, offset: '0' }] }),
      );
      // The same admin still works for a normal topic.
      assert.ok((await admin.listTopics()).includes(normal));
    });
    // Nothing of it landed: the topic is there, one partition, compacted, and no forged record in it.
    assert.ok(!(await valuesOn(stateTopic)).some((v) => v.includes(FORGED)), 'no client record in the state topic');
    const md = await direct<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [{ name: stateTopic, topicId: ZERO_UUID }] });
    assert.deepEqual([md.topics[0].errorCode, md.topics[0].partitions.length], [0, 1]);
    assert.equal((await topicConfig(stateTopic, 'retention.ms')) === '1', false);
    assert.equal(await topicConfig(stateTopic, 'cleanup.policy'), 'compact');
  });

  test('raw requests mixing it with a normal topic: the normal topic is served, the state topic refused per topic or partition', async () => {
    const raw = await RawKafkaClient.connect(target.bootstrap);
    try {
      const before = await endOffset(normal);
      const produced = await raw.request<ProduceResponse>(
        ApiKey.Produce,
        9,
        produceBody([
          { name: normal, values: ['kept-1', 'kept-2'] },
          { name: stateTopic, values: [FORGED] },
        ]),
      );
      assert.deepEqual(
        errorsOf(produced.responses, (t) => t.name),
        { [normal]: [0], [stateTopic]: [AUTHZ] },
      );
      assert.equal(await endOffset(normal), before + 2n, "the normal topic's records landed");
      // Produce v3 and v12 too (the oldest the codec reads and the newest the gateway offers).
      for (const v of [3, 12]) {
        const r = await raw.request<ProduceResponse>(
          ApiKey.Produce,
          v,
          produceBody([
            { name: stateTopic, values: [FORGED] },
            { name: normal, values: [`kept-v${v}`] },
          ]),
        );
        assert.deepEqual(
          errorsOf(r.responses, (t) => t.name),
          { [normal]: [0], [stateTopic]: [AUTHZ] },
          `Produce v${v}`,
        );
      }

      const fetched = await raw.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody([normal, stateTopic], before));
      assert.deepEqual(
        errorsOf(fetched.responses, (t) => t.topic),
        { [normal]: [0], [stateTopic]: [AUTHZ] },
      );
      const normalRecords = decodeRecordBatches(fetched.responses.find((t) => t.topic === normal)!.partitions[0].records!);
      assert.deepEqual(
        normalRecords.slice(0, 2).map((r) => r.value?.toString()),
        ['kept-1', 'kept-2'],
      );
      assert.equal(fetched.responses.find((t) => t.topic === stateTopic)!.partitions[0].records, null, 'no records of the state topic');

      const listed = await raw.request<ListOffsetsResponse>(ApiKey.ListOffsets, 7, {
        replicaId: -1,
        isolationLevel: 0,
        timeoutMs: 0,
        topics: [normal, stateTopic].map((name) => ({ name, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] })),
      });
      assert.deepEqual(
        errorsOf(listed.topics, (t) => t.name),
        { [normal]: [0], [stateTopic]: [AUTHZ] },
      );

      // Offsets: committed on the normal topic, refused on the state topic.
      const group = uniqueName('protected-group');
      await eventually(
        'the group coordinator',
        async () =>
          (await raw.request<FindCoordinatorResponse>(ApiKey.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [group] })).coordinators[0]
            .errorCode === 0,
        30_000,
      );
      const commit = (version: number) =>
        raw.request<OffsetCommitResponse>(ApiKey.OffsetCommit, version, {
          groupId: group,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1n,
          topics: [normal, stateTopic].map((name) => ({
            name,
            topicId: ZERO_UUID,
            partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }],
          })),
        });
      const committed = await eventually(
        'the group coordinator to accept the commit',
        async () => {
          const r = await commit(8);
          return r.topics.find((t) => t.name === normal)?.partitions[0].errorCode === 0 ? r : undefined;
        },
        30_000,
      );
      assert.deepEqual(
        errorsOf(committed.topics, (t) => t.name),
        { [normal]: [0], [stateTopic]: [AUTHZ] },
      );
      const offsets = await direct<OffsetFetchResponse>(ApiKey.OffsetFetch, 9, {
        groupId: '',
        topics: [],
        requireStable: false,
        groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: null }],
      });
      assert.deepEqual(
        offsets.groups[0].topics.map((t) => t.name),
        [normal],
        "only the normal topic's offset was committed",
      );

      // Admin requests: created / deleted / reconfigured for the normal topic, refused for the state topic.
      const extra = uniqueName('protected-extra');
      const created = await raw.request<CreateTopicsResponse>(ApiKey.CreateTopics, 7, {
        timeoutMs: 10_000,
        validateOnly: false,
        topics: [extra, stateTopic].map((name) => ({ ...defaultCreateTopicsRequestCreatableTopic(), name, numPartitions: 1, replicationFactor: 1 })),
      });
      assert.deepEqual(Object.fromEntries(created.topics.map((t) => [t.name, t.errorCode])), { [extra]: 0, [stateTopic]: AUTHZ });
      const altered = await raw.request<IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1, {
        validateOnly: false,
        resources: [normal, stateTopic].map((resourceName) => ({
          resourceType: TOPIC_TYPE,
          resourceName,
          configs: [{ name: 'retention.ms', configOperation: 0, value: '3600000' }],
        })),
      });
      assert.deepEqual(Object.fromEntries(altered.responses.map((r) => [r.resourceName, r.errorCode])), { [normal]: 0, [stateTopic]: AUTHZ });
      assert.equal(await topicConfig(normal, 'retention.ms'), '3600000');
      assert.notEqual(await topicConfig(stateTopic, 'retention.ms'), '3600000');
      const deleted = await raw.request<DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, {
        topicNames: [],
        timeoutMs: 10_000,
        topics: [extra, stateTopic].map((name) => ({ name, topicId: ZERO_UUID })),
      });
      assert.deepEqual(Object.fromEntries(deleted.responses.map((r) => [r.name, r.errorCode])), { [extra]: 0, [stateTopic]: AUTHZ });
      const trimmed = await raw.request<DeleteRecordsResponse>(ApiKey.DeleteRecords, 2, {
        timeoutMs: 10_000,
        topics: [stateTopic].map((name) => ({ name, partitions: [{ partitionIndex: 0, offset: -1n }] })),
      });
      assert.deepEqual(
        errorsOf(trimmed.topics, (t) => t.name),
        { [stateTopic]: [AUTHZ] },
      );
      assert.equal(raw.isClosed, false, 'none of this closed the connection');
    } finally {
      raw.destroy();
    }
    assert.ok(!(await valuesOn(stateTopic)).some((v) => v.includes(FORGED)), 'no client record in the state topic');
    const md = await direct<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [{ name: stateTopic, topicId: ZERO_UUID }] });
    assert.deepEqual([md.topics[0].errorCode, md.topics[0].partitions.length], [0, 1], 'the state topic is still there, with one partition');
  });

  test('a large Produce cut through as it arrives is stopped before the piece naming the state topic goes upstream; the retry is refused properly', async () => {
    const before = await endOffset(normal);
    const big = 'x'.repeat(64 * 1024);
    const frame = encodeRequest(
      { requestApiKey: ApiKey.Produce, requestApiVersion: 9, correlationId: 2, clientId: 'cut-through', _unknownTaggedFields: undefined },
      produceBody([
        { name: normal, values: [big] },
        { name: stateTopic, values: [FORGED] },
      ]),
    );
    const raw = await RawKafkaClient.connect(target.bootstrap);
    try {
      // A first small request lets this connection's Produce requests cut through (producer ids known).
      const warm = await raw.request<ProduceResponse>(ApiKey.Produce, 9, produceBody([{ name: normal, values: ['warm-up'] }]));
      assert.equal(warm.responses[0].partitionResponses[0].errorCode, 0);
      // The start arrives alone, so the gateway forwards it before the rest is here.
      raw.sendBytes(frame.subarray(0, 16 * 1024));
      await new Promise((r) => setTimeout(r, 200));
      raw.sendBytes(frame.subarray(16 * 1024));
      assert.ok(await raw.closedWithin(10_000), 'the gateway closes the connection');
      assert.equal(raw.pendingFrames, 0, 'with no answer to the stopped request');
    } finally {
      raw.destroy();
    }
    assert.equal(await endOffset(normal), before + 1n, 'only the warm-up landed: the broker never had the whole request');
    // The client sends it again: now assembled, and answered like any mixed request.
    const retry = await RawKafkaClient.connect(target.bootstrap);
    try {
      retry.sendBytes(frame.subarray(0, 16 * 1024));
      await new Promise((r) => setTimeout(r, 200));
      retry.sendBytes(frame.subarray(16 * 1024));
      const answer = decodeResponse<ProduceResponse>(await retry.frame(), ApiKey.Produce, 9).body;
      assert.deepEqual(
        errorsOf(answer.responses, (t) => t.name),
        { [normal]: [0], [stateTopic]: [AUTHZ] },
      );
    } finally {
      retry.destroy();
    }
    assert.equal(await endOffset(normal), before + 2n);
    assert.ok(!(await valuesOn(stateTopic)).some((v) => v.includes(FORGED)));
    const metrics = await scrapeMetrics(gw.adminUrl);
    assert.ok(metricValue(metrics, 'turnout_connection_errors_total', { route: 'r', reason: 'refused_mid_request' }) >= 1);
  });
});

describe("MirrorMaker 2's offset syncs: readable through the gateway, never written", () => {
  test('writes are refused, reads work', async () => {
    const before = await endOffset(syncs);
    const raw = await RawKafkaClient.connect(target.bootstrap);
    try {
      const md = await raw.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null });
      assert.ok(
        md.topics.some((t) => t.name === syncs && t.errorCode === 0),
        'listed',
      );
      const fetched = await raw.request<FetchResponse>(ApiKey.Fetch, 12, fetchBody([syncs], 0n));
      assert.equal(fetched.responses[0].partitions[0].errorCode, 0);
      assert.deepEqual(
        decodeRecordBatches(fetched.responses[0].partitions[0].records!).map((r) => r.value?.toString()),
        ['sync-record'],
      );
      const produced = await raw.request<ProduceResponse>(
        ApiKey.Produce,
        9,
        produceBody([
          { name: syncs, values: [FORGED] },
          { name: normal, values: ['beside-syncs'] },
        ]),
      );
      assert.deepEqual(
        errorsOf(produced.responses, (t) => t.name),
        { [syncs]: [AUTHZ], [normal]: [0] },
      );
      const trimmed = await raw.request<DeleteRecordsResponse>(ApiKey.DeleteRecords, 2, {
        timeoutMs: 10_000,
        topics: [{ name: syncs, partitions: [{ partitionIndex: 0, offset: -1n }] }],
      });
      assert.deepEqual(
        errorsOf(trimmed.topics, (t) => t.name),
        { [syncs]: [AUTHZ] },
      );
      const deleted = await raw.request<DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, {
        topicNames: [],
        timeoutMs: 10_000,
        topics: [{ name: syncs, topicId: ZERO_UUID }],
      });
      assert.equal(deleted.responses[0].errorCode, AUTHZ);
    } finally {
      raw.destroy();
    }
    await rejectsWithAuthorization('kafkajs producer', () => kafkajs.produce(target, syncs, [{ value: FORGED }], { timeoutMs: 20_000 }));
    // A real client reads it: kafkajs admin's offsets, and its records as a consumer group.
    await kafkajs.withAdmin(target, 'offsets of the offset syncs', 30_000, async (admin) => {
      const offsets = await admin.fetchTopicOffsets(syncs);
      assert.equal(offsets[0].high, String(before));
    });
    const consumed = await kafkajs.consumeGroup(target, syncs, uniqueName('syncs-reader'), 1, 30_000);
    assert.deepEqual(
      consumed.map((r) => r.value),
      ['sync-record'],
    );
    assert.equal(await endOffset(syncs), before, 'nothing was written');
    assert.deepEqual(await valuesOn(syncs), ['sync-record']);
    const metrics = await scrapeMetrics(gw.adminUrl);
    assert.ok(metricValue(metrics, 'turnout_refused_topic_requests_total', { route: 'r', api: 'Produce' }) >= 1);
    assert.ok(metricValue(metrics, 'turnout_refused_topic_requests_total', { route: 'r', api: 'DeleteTopics' }) >= 1);
  });
});

describe('the gateway itself still uses its state topic', () => {
  test('a switch of the route is written to the state topic and applied; clients still cannot see it afterwards', async () => {
    const res = await fetch(`${gw.adminUrl}/routes/r/switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green', by: 'protected-topics test' }),
    });
    const report = (await res.json()) as { outcome: string; switchId: string; epoch: number; stateWritten: string[] };
    assert.equal(res.status, 200, JSON.stringify(report));
    assert.equal(report.outcome, 'switched', JSON.stringify(report));
    assert.ok(report.stateWritten.length > 0, 'written to the state topic');
    assert.equal(gw.gateway.routes[0].domainName, 'green');
    await eventually('the switch records in the state topic', async () => (await valuesOn(stateTopic)).some((v) => v.includes(report.switchId)), 15_000);
    const md = await kafkajs.listMetadata(target);
    assert.ok(md.topics.includes(normal) && !md.topics.includes(stateTopic), 'after the switch too');
    await rejectsWithAuthorization('kafkajs producer after the switch', () => kafkajs.produce(target, stateTopic, [{ value: FORGED }], { timeoutMs: 20_000 }));
    assert.ok(!(await valuesOn(stateTopic)).some((v) => v.includes(FORGED)));
  });
});
