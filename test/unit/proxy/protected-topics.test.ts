// Topics clients on a route may not touch: the gateway's state topic (hidden: never listed, every
// request naming it refused) and MirrorMaker 2's offset syncs and checkpoints (read-only). The
// pure request and response rewriting (proxy/protected-topics.ts), then the filter around it
// driven through a fake connection: which frames it decodes, the answers it merges, the Fetch it
// answers itself, and Produce requests cut through as their bytes arrive.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from '../../../src/protocol/generated/schema.ts';
import {
  ApiKey,
  apiCodec,
  CodecError,
  type DecodedResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  peekResponseCorrelationId,
  ZERO_UUID,
} from '../../../src/protocol/index.ts';
import { KafkaErrorCode } from '../../../src/protocol/kafka-errors.ts';
import { scanProduceRequest } from '../../../src/protocol/produce-scan.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { ProtectedTopicFilter } from '../../../src/proxy/filters/protected-topics.ts';
import {
  hideTopics,
  isTopicNameField,
  LISTING_RESPONSES,
  REQUEST_RULES,
  type Refusal,
  refusedResponse,
  refuseTopics,
  topicGuard,
} from '../../../src/proxy/protected-topics.ts';

const { TOPIC_AUTHORIZATION_FAILED } = KafkaErrorCode;

import type { AddPartitionsToTxnResponse } from '../../../src/protocol/generated/messages/add-partitions-to-txn-response.ts';
import type { ConsumerGroupHeartbeatResponse } from '../../../src/protocol/generated/messages/consumer-group-heartbeat-response.ts';
import type { CreateAclsRequest } from '../../../src/protocol/generated/messages/create-acls-request.ts';
import { type CreateAclsResponse, defaultCreateAclsResponseAclCreationResult } from '../../../src/protocol/generated/messages/create-acls-response.ts';
import { type CreateTopicsRequest, defaultCreateTopicsRequestCreatableTopic } from '../../../src/protocol/generated/messages/create-topics-request.ts';
import type { CreateTopicsResponse } from '../../../src/protocol/generated/messages/create-topics-response.ts';
import type { DeleteRecordsResponse } from '../../../src/protocol/generated/messages/delete-records-response.ts';
import type { DeleteTopicsResponse } from '../../../src/protocol/generated/messages/delete-topics-response.ts';
import { defaultDescribeAclsRequest } from '../../../src/protocol/generated/messages/describe-acls-request.ts';
import type { DescribeAclsResponse } from '../../../src/protocol/generated/messages/describe-acls-response.ts';
import type { DescribeConfigsResponse } from '../../../src/protocol/generated/messages/describe-configs-response.ts';
import type { DescribeTopicPartitionsResponse } from '../../../src/protocol/generated/messages/describe-topic-partitions-response.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition, type FetchRequest } from '../../../src/protocol/generated/messages/fetch-request.ts';
import { defaultFetchResponse, defaultFetchResponsePartitionData, type FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import type { IncrementalAlterConfigsResponse } from '../../../src/protocol/generated/messages/incremental-alter-configs-response.ts';
import type { ListOffsetsResponse } from '../../../src/protocol/generated/messages/list-offsets-response.ts';
import { defaultMetadataRequest, type MetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import { defaultMetadataResponse, defaultMetadataResponseTopic, type MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import type { OffsetCommitRequest } from '../../../src/protocol/generated/messages/offset-commit-request.ts';
import type { OffsetCommitResponse } from '../../../src/protocol/generated/messages/offset-commit-response.ts';
import type { OffsetFetchResponse } from '../../../src/protocol/generated/messages/offset-fetch-response.ts';
import type { ProduceRequest } from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import type { FilterContext, RequestAction } from '../../../src/proxy/filter.ts';
import { builtInFilterChain } from '../../../src/proxy/filters/index.ts';
import { isInternalTopic, isOffsetTranslationEvidence } from '../../../src/routing/internal-topics.ts';
import type { Route } from '../../../src/routing/route.ts';
import { RouteTopicIds, routeTopicId } from '../../../src/routing/topic-ids.ts';

const STATE = '_turnout_state';
const SYNCS = 'mm2-offset-syncs.green.internal';
const CHECKPOINTS = 'blue.checkpoints.internal';
const guard = topicGuard(new Set([STATE]), (id) => (id === routeTopicId('main', STATE) ? STATE : undefined));

const records = (...values: string[]): Buffer => encodeRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v) })));

/** Encodes and decodes a response body at `version`: the refusals must be valid in that version. */
function roundTrip<T extends object>(apiKey: number, version: number, body: object): T {
  return decodeResponse<T>(encodeResponse(apiKey, version, { correlationId: 5, _unknownTaggedFields: undefined }, body), apiKey, version).body;
}

function refuse(apiKey: number, version: number, body: object): Refusal {
  const r = refuseTopics(apiKey, version, body, guard);
  assert.ok(r !== null, `api ${apiKey} v${version}: something is refused`);
  return r;
}

/** The response the gateway answers alone with, after encoding at `version`. */
function localAnswer<T extends object>(apiKey: number, version: number, refusal: Refusal): T {
  assert.equal(refusal.forward, null, 'nothing is forwarded');
  return roundTrip<T>(apiKey, version, refusedResponse(apiKey, refusal));
}

test("the gateway's topics are hidden; MirrorMaker 2's offset syncs and checkpoints are read-only; other topics are free", () => {
  assert.ok(isOffsetTranslationEvidence(SYNCS));
  assert.ok(isOffsetTranslationEvidence(CHECKPOINTS));
  for (const n of [
    'orders',
    'mm2-offset-syncs..internal',
    '.checkpoints.internal',
    'mm2-configs.blue.internal',
    'blue.heartbeats',
    'orders.internal',
    'green.orders',
  ]) {
    assert.equal(isOffsetTranslationEvidence(n), false, n);
  }
  assert.ok(guard.isHidden(STATE) && guard.isReadOnly(STATE));
  assert.ok(!guard.isHidden(SYNCS) && guard.isReadOnly(SYNCS) && guard.isReadOnly(CHECKPOINTS));
  assert.ok(!guard.isReadOnly('orders') && !guard.isHidden('orders'));
  // ACL prefixes that cover a protected topic.
  assert.ok(guard.prefixCoversHidden('_turnout') && guard.prefixCoversHidden(STATE) && !guard.prefixCoversHidden('_turnout_state_x'));
  assert.ok(guard.prefixCoversReadOnly('mm2-') && guard.prefixCoversReadOnly('mm2-offset-syncs.green') && !guard.prefixCoversReadOnly('orders'));
  // Still internal topics for switchover (never counted as in use).
  assert.ok(isInternalTopic(SYNCS) && isInternalTopic(CHECKPOINTS) && isInternalTopic(STATE, new Set([STATE])));
});

test('Produce: refused topics are taken out and answered TOPIC_AUTHORIZATION_FAILED per partition; the rest is forwarded', () => {
  const body: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      { name: 'orders', topicId: ZERO_UUID, partitionData: [{ index: 0, records: records('a') }] },
      { name: STATE, topicId: ZERO_UUID, partitionData: [{ index: 0, records: records('forged') }] },
      {
        name: SYNCS,
        topicId: ZERO_UUID,
        partitionData: [
          { index: 1, records: records('x') },
          { index: 2, records: records('y') },
        ],
      },
    ],
  };
  for (const v of [3, 7, 9, 12]) {
    const r = refuse(ApiKey.Produce, v, body);
    assert.deepEqual(r.topics, [STATE, SYNCS]);
    assert.deepEqual(
      (r.forward as ProduceRequest).topicData.map((t) => t.name),
      ['orders'],
    );
    assert.equal(body.topicData.length, 3, 'the decoded request is left as it was');
    const broker: ProduceResponse = { ...(apiCodec(ApiKey.Produce)!.defaultResponse() as ProduceResponse) };
    broker.responses.push({
      name: 'orders',
      topicId: ZERO_UUID,
      partitionResponses: [
        {
          index: 0,
          errorCode: 0,
          baseOffset: 41n,
          logAppendTimeMs: -1n,
          logStartOffset: 0n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        },
      ],
    });
    r.fill(broker);
    const merged = roundTrip<ProduceResponse>(ApiKey.Produce, v, broker);
    assert.deepEqual(
      merged.responses.map((t) => [t.name, t.partitionResponses.map((p) => [p.index, p.errorCode, p.baseOffset])]),
      [
        ['orders', [[0, 0, 41n]]],
        [STATE, [[0, TOPIC_AUTHORIZATION_FAILED, -1n]]],
        [
          SYNCS,
          [
            [1, TOPIC_AUTHORIZATION_FAILED, -1n],
            [2, TOPIC_AUTHORIZATION_FAILED, -1n],
          ],
        ],
      ],
    );
  }
  // Nothing left: answered by the gateway alone.
  const only = refuse(ApiKey.Produce, 9, { ...body, topicData: [body.topicData[1]] });
  assert.deepEqual(
    localAnswer<ProduceResponse>(ApiKey.Produce, 9, only).responses.map((t) => [t.name, t.partitionResponses[0].errorCode]),
    [[STATE, TOPIC_AUTHORIZATION_FAILED]],
  );
  // acks=0 gets no answer: an empty request goes instead (the broker writes nothing and says nothing).
  const silent = refuse(ApiKey.Produce, 9, { ...body, acks: 0, topicData: [body.topicData[1]] });
  assert.deepEqual((silent.forward as ProduceRequest).topicData, []);
  assert.equal(refuseTopics(ApiKey.Produce, 9, { ...body, topicData: [body.topicData[0]] }, guard), null, 'nothing to refuse');
});

test("Fetch: a hidden topic is refused, MirrorMaker 2's topics are readable, and a fetch session keeps going even with nothing left", () => {
  const fetch = (topics: string[], sessionId = 0): FetchRequest => ({
    ...defaultFetchRequest(),
    sessionId,
    sessionEpoch: sessionId === 0 ? -1 : 3,
    topics: topics.map((topic) => ({
      topic,
      topicId: ZERO_UUID,
      partitions: [
        { ...defaultFetchRequestFetchPartition(), partition: 0 },
        { ...defaultFetchRequestFetchPartition(), partition: 1 },
      ],
    })),
    forgottenTopicsData: [{ topic: STATE, topicId: ZERO_UUID, partitions: [3] }],
  });
  assert.equal(refuseTopics(ApiKey.Fetch, 12, { ...fetch(['orders', SYNCS, CHECKPOINTS]), forgottenTopicsData: [] }, guard), null);
  const r = refuse(ApiKey.Fetch, 12, fetch(['orders', STATE]));
  assert.deepEqual(
    (r.forward as FetchRequest).topics.map((t) => t.topic),
    ['orders'],
  );
  assert.deepEqual((r.forward as FetchRequest).forgottenTopicsData, []);
  const answer = {
    ...defaultFetchResponse(),
    responses: [
      { topic: 'orders', topicId: ZERO_UUID, partitions: [{ ...defaultFetchResponsePartitionData(), records: records('r') }], _unknownTaggedFields: undefined },
    ],
  };
  r.fill(answer);
  for (const v of [4, 7, 11, 12]) {
    const merged = roundTrip<FetchResponse>(ApiKey.Fetch, v, answer);
    assert.deepEqual(
      merged.responses.map((t) => [t.topic, t.partitions.map((p) => [p.partitionIndex, p.errorCode, p.highWatermark])]),
      [
        ['orders', [[0, 0, 0n]]],
        [
          STATE,
          [
            [0, TOPIC_AUTHORIZATION_FAILED, -1n],
            [1, TOPIC_AUTHORIZATION_FAILED, -1n],
          ],
        ],
      ],
    );
  }
  assert.equal(refuse(ApiKey.Fetch, 12, fetch([STATE])).forward, null, 'no session: answered alone');
  assert.deepEqual((refuse(ApiKey.Fetch, 12, fetch([STATE], 77)).forward as FetchRequest).topics, [], "a session's epoch still reaches the broker");
});

test('Metadata: named hidden topics are answered as unauthorized, by name or by id; listings leave them out', () => {
  const named = (...names: string[]): MetadataRequest => ({ ...defaultMetadataRequest(), topics: names.map((name) => ({ name, topicId: ZERO_UUID })) });
  assert.equal(refuseTopics(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null }, guard), null, 'all topics: the answer is filtered instead');
  assert.equal(refuseTopics(ApiKey.Metadata, 12, named(SYNCS, 'orders'), guard), null, "MirrorMaker 2's topics are visible");
  const r = refuse(ApiKey.Metadata, 12, named('orders', STATE));
  assert.deepEqual((r.forward as MetadataRequest).topics, [{ name: 'orders', topicId: ZERO_UUID }]);
  const broker = { ...defaultMetadataResponse(), topics: [{ ...defaultMetadataResponseTopic(), name: 'orders', topicId: 'b3JkZXJzb3JkZXJzb3JkZQ' }] };
  r.fill(broker);
  const merged = roundTrip<MetadataResponse>(ApiKey.Metadata, 12, broker);
  assert.deepEqual(
    merged.topics.map((t) => [t.name, t.errorCode, t.topicId, t.partitions.length]),
    [
      ['orders', 0, 'b3JkZXJzb3JkZXJzb3JkZQ', 0],
      [STATE, TOPIC_AUTHORIZATION_FAILED, ZERO_UUID, 0],
    ],
  );
  // Only hidden topics named: still sent (the answer carries the brokers), with no topic.
  const alone = refuse(ApiKey.Metadata, 9, named(STATE));
  assert.deepEqual((alone.forward as MetadataRequest).topics, []);
  // v0: an empty list asks for every topic, so the broker's topics are dropped from the answer.
  const v0 = refuse(ApiKey.Metadata, 0, named(STATE));
  const all = { ...defaultMetadataResponse(), topics: [{ ...defaultMetadataResponseTopic(), name: 'orders' }] };
  v0.fill(all);
  assert.deepEqual(
    roundTrip<MetadataResponse>(ApiKey.Metadata, 0, all).topics.map((t) => [t.name, t.errorCode]),
    [[STATE, TOPIC_AUTHORIZATION_FAILED]],
  );
  // By the route's topic id (v10+): answered with that id and no name.
  const id = routeTopicId('main', STATE);
  const byId = refuse(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [{ name: null, topicId: id }] });
  const answer = defaultMetadataResponse();
  byId.fill(answer);
  assert.deepEqual(
    roundTrip<MetadataResponse>(ApiKey.Metadata, 12, answer).topics.map((t) => [t.name, t.topicId, t.errorCode]),
    [[null, id, TOPIC_AUTHORIZATION_FAILED]],
  );
  // Listing every topic: the hidden one is left out, by name or (named only by id) by the cluster's id.
  for (const v of [0, 1, 9, 12, 13]) {
    const listing = { ...defaultMetadataResponse(), topics: ['a', STATE, SYNCS, 'z'].map((name) => ({ ...defaultMetadataResponseTopic(), name })) };
    assert.equal(
      hideTopics(ApiKey.Metadata, v, listing, guard.isHidden, () => undefined),
      true,
    );
    assert.deepEqual(
      roundTrip<MetadataResponse>(ApiKey.Metadata, v, listing).topics.map((t) => t.name),
      ['a', SYNCS, 'z'],
    );
  }
  const nameless = { ...defaultMetadataResponse(), topics: [{ ...defaultMetadataResponseTopic(), name: null, topicId: 'c3RhdGVzdGF0ZXN0YXRlcw' }] };
  assert.equal(
    hideTopics(ApiKey.Metadata, 12, nameless, guard.isHidden, (cid) => (cid === 'c3RhdGVzdGF0ZXN0YXRlcw' ? STATE : undefined)),
    true,
  );
  assert.deepEqual(nameless.topics, []);
});

test('writes to protected topics: CreateTopics, DeleteTopics (by name and by id), CreatePartitions, DeleteRecords, configs', () => {
  const create: CreateTopicsRequest = {
    timeoutMs: 1000,
    validateOnly: false,
    topics: ['new', STATE, CHECKPOINTS].map((name) => ({ ...defaultCreateTopicsRequestCreatableTopic(), name, numPartitions: 1, replicationFactor: 1 })),
  };
  const c = refuse(ApiKey.CreateTopics, 7, create);
  assert.deepEqual(
    (c.forward as CreateTopicsRequest).topics.map((t) => t.name),
    ['new'],
  );
  const created = { throttleTimeMs: 0, topics: [] };
  c.fill(created);
  for (const v of [2, 5, 7]) {
    assert.deepEqual(
      roundTrip<CreateTopicsResponse>(ApiKey.CreateTopics, v, created).topics.map((t) => [t.name, t.errorCode]),
      [
        [STATE, TOPIC_AUTHORIZATION_FAILED],
        [CHECKPOINTS, TOPIC_AUTHORIZATION_FAILED],
      ],
    );
  }

  const byName = refuse(ApiKey.DeleteTopics, 5, { topics: [], topicNames: ['old', SYNCS], timeoutMs: 1000 });
  assert.deepEqual((byName.forward as { topicNames: string[] }).topicNames, ['old']);
  const stateId = routeTopicId('main', STATE);
  const byId = refuse(ApiKey.DeleteTopics, 6, { topics: [{ name: null, topicId: stateId }], topicNames: [], timeoutMs: 1000 });
  assert.deepEqual(
    localAnswer<DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, byId).responses.map((t) => [t.name, t.topicId, t.errorCode]),
    [[null, stateId, TOPIC_AUTHORIZATION_FAILED]],
  );

  const partitions = refuse(ApiKey.CreatePartitions, 3, { topics: [{ name: STATE, count: 4, assignments: null }], timeoutMs: 1000, validateOnly: false });
  assert.deepEqual(
    localAnswer<{ results: { name: string; errorCode: number }[] }>(ApiKey.CreatePartitions, 3, partitions).results.map((t) => [t.name, t.errorCode]),
    [[STATE, TOPIC_AUTHORIZATION_FAILED]],
  );

  const deleteRecords = refuse(ApiKey.DeleteRecords, 2, { topics: [{ name: SYNCS, partitions: [{ partitionIndex: 0, offset: 10n }] }], timeoutMs: 1000 });
  assert.deepEqual(
    localAnswer<DeleteRecordsResponse>(ApiKey.DeleteRecords, 2, deleteRecords).topics.map((t) => [
      t.name,
      t.partitions[0].errorCode,
      t.partitions[0].lowWatermark,
    ]),
    [[SYNCS, TOPIC_AUTHORIZATION_FAILED, -1n]],
  );

  // Configs: topic resources only (type 2); broker resources pass. Describing MirrorMaker's is a read.
  const resources = [
    { resourceType: 2, resourceName: STATE, configs: [] },
    { resourceType: 2, resourceName: SYNCS, configs: [] },
    { resourceType: 4, resourceName: STATE, configs: [] },
    { resourceType: 2, resourceName: 'orders', configs: [] },
  ];
  const alter = refuse(ApiKey.IncrementalAlterConfigs, 1, { resources, validateOnly: false });
  assert.deepEqual(
    (alter.forward as { resources: { resourceType: number; resourceName: string }[] }).resources.map((x) => [x.resourceType, x.resourceName]),
    [
      [4, STATE],
      [2, 'orders'],
    ],
  );
  const altered = { throttleTimeMs: 0, responses: [] };
  alter.fill(altered);
  assert.deepEqual(
    roundTrip<IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1, altered).responses.map((x) => [x.resourceName, x.errorCode]),
    [
      [STATE, TOPIC_AUTHORIZATION_FAILED],
      [SYNCS, TOPIC_AUTHORIZATION_FAILED],
    ],
  );
  assert.ok(refuseTopics(ApiKey.AlterConfigs, 2, { resources, validateOnly: false }, guard) !== null);
  const describe = refuse(ApiKey.DescribeConfigs, 4, {
    resources: resources.map((x) => ({ resourceType: x.resourceType, resourceName: x.resourceName, configurationKeys: null })),
    includeSynonyms: false,
    includeDocumentation: false,
  });
  assert.deepEqual(describe.topics, [STATE]);
  const described = { throttleTimeMs: 0, results: [] };
  describe.fill(described);
  assert.deepEqual(
    roundTrip<DescribeConfigsResponse>(ApiKey.DescribeConfigs, 1, described).results.map((x) => [x.resourceType, x.resourceName, x.errorCode]),
    [[2, STATE, TOPIC_AUTHORIZATION_FAILED]],
  );
});

test('ACLs naming a protected topic (literally, or by a prefix that covers it) are refused in place; listings leave the hidden topic out', () => {
  const acl = (resourceName: string, resourcePatternType = 3, resourceType = 2) => ({
    resourceType,
    resourceName,
    resourcePatternType,
    principal: 'User:x',
    host: '*',
    operation: 4,
    permissionType: 3,
  });
  const body: CreateAclsRequest = { creations: [acl('orders'), acl(STATE), acl('_turn', 4), acl(SYNCS), acl('orders', 4), acl(STATE, 3, 3)] };
  const r = refuse(ApiKey.CreateAcls, 3, body);
  // The group ACL (resource type 3) of the same name is not about the topic.
  assert.deepEqual(
    (r.forward as CreateAclsRequest).creations.map((c) => [c.resourceType, c.resourceName]),
    [
      [2, 'orders'],
      [2, 'orders'],
      [3, STATE],
    ],
  );
  const broker: CreateAclsResponse = { throttleTimeMs: 0, results: [1, 2, 3].map((n) => ({ ...defaultCreateAclsResponseAclCreationResult(), errorCode: n })) };
  r.fill(broker);
  assert.deepEqual(
    roundTrip<CreateAclsResponse>(ApiKey.CreateAcls, 3, broker).results.map((x) => x.errorCode),
    [1, 29, 29, 29, 2, 3],
    'results stay in the order of the creations',
  );

  const del = refuse(ApiKey.DeleteAcls, 3, {
    filters: [
      {
        resourceTypeFilter: 1,
        resourceNameFilter: CHECKPOINTS,
        patternTypeFilter: 2,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      },
    ],
  });
  assert.equal(localAnswer<{ filterResults: { errorCode: number }[] }>(ApiKey.DeleteAcls, 3, del).filterResults[0].errorCode, TOPIC_AUTHORIZATION_FAILED);
  assert.equal(
    refuseTopics(
      ApiKey.DeleteAcls,
      3,
      {
        filters: [
          { resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 },
        ],
      },
      guard,
    ),
    null,
    'a filter naming no topic passes',
  );

  const describe = refuse(ApiKey.DescribeAcls, 3, { ...defaultDescribeAclsRequest(), resourceTypeFilter: 2, resourceNameFilter: STATE, patternTypeFilter: 2 });
  assert.equal(localAnswer<DescribeAclsResponse>(ApiKey.DescribeAcls, 3, describe).errorCode, TOPIC_AUTHORIZATION_FAILED);
  assert.equal(
    refuseTopics(ApiKey.DescribeAcls, 3, { ...defaultDescribeAclsRequest(), resourceTypeFilter: 2, resourceNameFilter: SYNCS, patternTypeFilter: 3 }, guard),
    null,
    'describing is reading',
  );
  const listing: DescribeAclsResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    resources: [STATE, 'orders'].map((resourceName) => ({ resourceType: 2, resourceName, patternType: 3, acls: [] })),
  };
  assert.equal(
    hideTopics(ApiKey.DescribeAcls, 3, listing, guard.isHidden, () => undefined),
    true,
  );
  assert.deepEqual(
    listing.resources.map((x) => x.resourceName),
    ['orders'],
  );
});

test("offsets: commits on a hidden topic are refused per partition; MirrorMaker 2's topics may be committed; a group's listing leaves the hidden topic out", () => {
  const commit = (names: string[]): OffsetCommitRequest => ({
    groupId: 'g',
    generationIdOrMemberEpoch: 1,
    memberId: 'm',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: names.map((name) => ({
      name,
      topicId: ZERO_UUID,
      partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: null }],
    })),
  });
  assert.equal(refuseTopics(ApiKey.OffsetCommit, 9, commit(['orders', SYNCS]), guard), null);
  const r = refuse(ApiKey.OffsetCommit, 9, commit(['orders', STATE]));
  assert.deepEqual(
    (r.forward as OffsetCommitRequest).topics.map((t) => t.name),
    ['orders'],
  );
  const answer: OffsetCommitResponse = {
    throttleTimeMs: 0,
    topics: [{ name: 'orders', topicId: ZERO_UUID, partitions: [{ partitionIndex: 0, errorCode: 0 }] }],
  };
  r.fill(answer);
  for (const v of [2, 8, 9])
    assert.deepEqual(
      roundTrip<OffsetCommitResponse>(ApiKey.OffsetCommit, v, answer).topics.map((t) => [t.name, t.partitions[0].errorCode]),
      [
        ['orders', 0],
        [STATE, TOPIC_AUTHORIZATION_FAILED],
      ],
    );
  // v10 names topics by the route's id.
  const id = routeTopicId('main', STATE);
  const v10 = refuse(ApiKey.OffsetCommit, 10, {
    ...commit([]),
    topics: [{ name: '', topicId: id, partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.deepEqual(
    localAnswer<OffsetCommitResponse>(ApiKey.OffsetCommit, 10, v10).topics.map((t) => [t.topicId, t.partitions[0].errorCode]),
    [[id, TOPIC_AUTHORIZATION_FAILED]],
  );

  const txn = refuse(ApiKey.TxnOffsetCommit, 5, {
    transactionalId: 't',
    groupId: 'g',
    producerId: 1n,
    producerEpoch: 0,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: STATE, partitions: [{ partitionIndex: 2, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.deepEqual(
    localAnswer<{ topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] }>(ApiKey.TxnOffsetCommit, 5, txn).topics[0]
      .partitions,
    [{ partitionIndex: 2, errorCode: TOPIC_AUTHORIZATION_FAILED, _unknownTaggedFields: undefined }],
  );

  // OffsetFetch naming the hidden topic, before and after groups (v8).
  const old = refuse(ApiKey.OffsetFetch, 7, {
    groupId: 'g',
    topics: [
      { name: STATE, partitionIndexes: [0] },
      { name: 'orders', partitionIndexes: [0] },
    ],
    groups: [],
    requireStable: false,
  });
  const oldAnswer = { throttleTimeMs: 0, errorCode: 0, groups: [], topics: [] };
  old.fill(oldAnswer);
  assert.deepEqual(
    roundTrip<OffsetFetchResponse>(ApiKey.OffsetFetch, 7, oldAnswer).topics.map((t) => [t.name, t.partitions[0].committedOffset, t.partitions[0].errorCode]),
    [[STATE, -1n, TOPIC_AUTHORIZATION_FAILED]],
  );
  const groups = refuse(ApiKey.OffsetFetch, 9, {
    groupId: '',
    topics: [],
    requireStable: false,
    groups: [
      { groupId: 'a', memberId: null, memberEpoch: -1, topics: [{ name: STATE, topicId: ZERO_UUID, partitionIndexes: [0, 1] }] },
      { groupId: 'b', memberId: null, memberEpoch: -1, topics: null },
    ],
  });
  const fromBroker = {
    throttleTimeMs: 0,
    errorCode: 0,
    topics: [],
    groups: [
      { groupId: 'a', topics: [], errorCode: 0 },
      {
        groupId: 'b',
        topics: [
          { name: 'orders', topicId: ZERO_UUID, partitions: [] },
          { name: STATE, topicId: ZERO_UUID, partitions: [] },
        ],
        errorCode: 0,
      },
    ],
  };
  // Group b asked for all its topics: the hidden one is left out of the answer; group a gets the refusal.
  assert.equal(
    hideTopics(ApiKey.OffsetFetch, 9, fromBroker, guard.isHidden, () => undefined),
    true,
  );
  groups.fill(fromBroker);
  const merged = roundTrip<OffsetFetchResponse>(ApiKey.OffsetFetch, 9, fromBroker);
  assert.deepEqual(
    merged.groups.map((g) => [g.groupId, g.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)])]),
    [
      ['a', [[STATE, [29, 29]]]],
      ['b', [['orders', []]]],
    ],
  );
});

test('requests refused whole: AddPartitionsToTxn (as the broker does), heartbeats subscribing to the hidden topic, DescribeTopicPartitions naming only it', () => {
  const txn = refuse(ApiKey.AddPartitionsToTxn, 3, {
    transactions: [],
    v3AndBelowTransactionalId: 't',
    v3AndBelowProducerId: 1n,
    v3AndBelowProducerEpoch: 0,
    v3AndBelowTopics: [
      { name: 'orders', partitions: [0] },
      { name: CHECKPOINTS, partitions: [1] },
    ],
  });
  assert.deepEqual(
    localAnswer<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, 3, txn).resultsByTopicV3AndBelow.map((t) => [
      t.name,
      t.resultsByPartition[0].partitionErrorCode,
    ]),
    [
      ['orders', 55],
      [CHECKPOINTS, 29],
    ],
  );

  const v = apiCodec(ApiKey.ConsumerGroupHeartbeat)!.maxVersion;
  const hb = refuse(ApiKey.ConsumerGroupHeartbeat, v, {
    ...apiCodec(ApiKey.ConsumerGroupHeartbeat)!.defaultRequest(),
    groupId: 'g',
    subscribedTopicNames: ['orders', STATE],
  });
  assert.equal(localAnswer<ConsumerGroupHeartbeatResponse>(ApiKey.ConsumerGroupHeartbeat, v, hb).errorCode, TOPIC_AUTHORIZATION_FAILED);
  assert.equal(
    refuseTopics(ApiKey.ConsumerGroupHeartbeat, v, { ...apiCodec(ApiKey.ConsumerGroupHeartbeat)!.defaultRequest(), subscribedTopicNames: [SYNCS] }, guard),
    null,
  );

  // An empty topic list asks for every topic: the gateway answers alone instead of sending one.
  const dtp = refuse(ApiKey.DescribeTopicPartitions, 0, { topics: [{ name: STATE }], responsePartitionLimit: 2000, cursor: null });
  assert.deepEqual(
    localAnswer<DescribeTopicPartitionsResponse>(ApiKey.DescribeTopicPartitions, 0, dtp).topics.map((t) => [t.name, t.errorCode, t.topicId]),
    [[STATE, 29, ZERO_UUID]],
  );
});

test('listings of other APIs leave the hidden topic out wherever a topic name (or, named by id only, its id) is', () => {
  const lag = { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [STATE, 'orders'].map((name) => ({ name, partitions: [] })) };
  assert.equal(
    hideTopics(ApiKey.ListPartitionReassignments, 0, lag, guard.isHidden, () => undefined),
    true,
  );
  assert.deepEqual(
    lag.topics.map((t) => t.name),
    ['orders'],
  );
  const dirs = {
    throttleTimeMs: 0,
    errorCode: 0,
    results: [{ errorCode: 0, logDir: '/d', topics: [STATE, 'orders'].map((name) => ({ name, partitions: [] })), totalBytes: -1n, usableBytes: -1n }],
  };
  assert.equal(
    hideTopics(ApiKey.DescribeLogDirs, 4, dirs, guard.isHidden, () => undefined),
    true,
  );
  assert.deepEqual(
    dirs.results[0].topics.map((t) => t.name),
    ['orders'],
  );
  // OffsetFetch v10 names topics by id only: the cluster's id is looked up.
  const byId = {
    throttleTimeMs: 0,
    errorCode: 0,
    topics: [],
    groups: [
      {
        groupId: 'g',
        errorCode: 0,
        topics: [
          { name: '', topicId: 'Y2x1c3Rlci1zdGF0ZS1pZA', partitions: [] },
          { name: '', topicId: 'b3JkZXJzLWNsdXN0ZXItaWQ', partitions: [] },
        ],
      },
    ],
  };
  assert.equal(
    hideTopics(ApiKey.OffsetFetch, 10, byId, guard.isHidden, (id) => (id === 'Y2x1c3Rlci1zdGF0ZS1pZA' ? STATE : 'orders')),
    true,
  );
  assert.deepEqual(
    byId.groups[0].topics.map((t) => t.topicId),
    ['b3JkZXJzLWNsdXN0ZXItaWQ'],
  );
  const nothing = { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [{ name: 'orders', partitions: [] }] };
  assert.equal(
    hideTopics(ApiKey.ListPartitionReassignments, 0, nothing, guard.isHidden, () => undefined),
    false,
  );
});

// ---- coverage against the message definitions ----------------------------------------------

const elementType = (type: string): string => (type.startsWith('[]') ? type.slice(2) : type);
function namesTopics(schema: MessageSchema, fields: FieldSchema[], seen = new Set<string>()): boolean {
  for (const f of fields) {
    if (isTopicNameField(f) || (f.type === 'uuid' && f.name === 'TopicId') || f.name === 'ResourceName' || f.name === 'ResourceNameFilter') return true;
    const t = elementType(f.type);
    const struct = schema.structs[t];
    if (struct !== undefined && !seen.has(t)) {
      seen.add(t);
      if (namesTopics(schema, struct, seen)) return true;
    }
  }
  return false;
}

/** Requests that name topics and are left alone, with why. */
const REQUESTS_LEFT_ALONE: ReadonlyMap<number, string> = new Map([
  [ApiKey.DescribeQuorum, 'names only the metadata log, __cluster_metadata'],
  [ApiKey.ShareFetch, 'by topic id only, for partitions a share group assigned (heartbeats subscribing to the hidden topic are refused)'],
  [ApiKey.ShareAcknowledge, 'by topic id only, for records a ShareFetch handed out'],
  [ApiKey.InitializeShareGroupState, 'share coordinator state, between brokers (cluster action)'],
  [ApiKey.ReadShareGroupState, 'share coordinator state, between brokers (cluster action)'],
  [ApiKey.WriteShareGroupState, 'share coordinator state, between brokers (cluster action)'],
  [ApiKey.DeleteShareGroupState, 'share coordinator state, between brokers (cluster action)'],
  [ApiKey.ReadShareGroupStateSummary, 'share coordinator state, between brokers (cluster action)'],
]);

/** Responses that name topics and are left alone, with why. */
const RESPONSES_LEFT_ALONE: ReadonlyMap<number, string> = new Map([
  ...REQUESTS_LEFT_ALONE,
  [ApiKey.ConsumerGroupHeartbeat, "an assignment is the coordinator's: a member must see all of it (subscribing to the hidden topic is refused)"],
  [ApiKey.ShareGroupHeartbeat, 'as ConsumerGroupHeartbeat'],
  [ApiKey.StreamsGroupHeartbeat, 'as ConsumerGroupHeartbeat'],
  [ApiKey.DeleteAcls, 'the ACLs a delete matched were deleted; not hiding that'],
]);

test('every request that can name a topic has a rule, and every answer that can list one is filtered or merged into, or is left alone for a stated reason', () => {
  for (const m of Object.values(MESSAGE_SCHEMAS)) {
    if (m.apiKey === null || (m.type !== 'request' && m.type !== 'response')) continue;
    if (!apiCodec(m.apiKey)?.listeners.includes('broker') || !namesTopics(m, m.fields)) continue;
    if (m.type === 'request') {
      assert.ok(REQUEST_RULES.has(m.apiKey) || REQUESTS_LEFT_ALONE.has(m.apiKey), `${m.name} can name a topic: add a rule to REQUEST_RULES or a reason here`);
    } else {
      assert.ok(
        REQUEST_RULES.has(m.apiKey) || LISTING_RESPONSES.has(m.apiKey) || RESPONSES_LEFT_ALONE.has(m.apiKey),
        `${m.name} can name a topic: merge, filter, or say why not`,
      );
    }
  }
});

// ---- the filter ---------------------------------------------------------------------------

interface Logged {
  level: string;
  obj: object;
  msg: string;
}

function fakeContext(internal?: (apiKey: number, version: number, body: object) => object, clientHost = '10.0.0.1') {
  const logged: Logged[] = [];
  const refused: number[] = [];
  const noted: string[] = [];
  const log = (level: string) => (obj: object, msg: string) => logged.push({ level, obj, msg });
  const route = {
    name: 'main',
    gatewayTopics: new Set([STATE]),
    topicIds: new RouteTopicIds('main'),
    metrics: { refusedTopicRequest: (apiKey: number) => refused.push(apiKey) },
    noteTopic: (name: string) => noted.push(name),
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  } as unknown as Route;
  const internalSent: { apiKey: number; body: object }[] = [];
  const ctx: FilterContext = {
    id: 1,
    route,
    log: route.log,
    state: new Map(),
    clientHost,
    epoch: 0,
    domain: 'blue',
    expectRawSaslTokens() {},
    internalRequest: async <T extends object>(apiKey: number, version: number, body: object) => {
      internalSent.push({ apiKey, body });
      if (internal === undefined) throw new Error('no internal requests expected');
      return internal(apiKey, version, body) as T;
    },
  };
  return { ctx, logged, refused, internalSent, noted };
}

const header = (apiKey: number, version: number, correlationId = 7) => ({
  requestApiKey: apiKey,
  requestApiVersion: version,
  correlationId,
  clientId: 'c',
  _unknownTaggedFields: undefined,
});

function produceFrame(version: number, topics: { name: string; records: Buffer }[], correlationId = 7, acks = -1): Buffer {
  return encodeRequest(header(ApiKey.Produce, version, correlationId), {
    transactionalId: null,
    acks,
    timeoutMs: 30000,
    topicData: topics.map((t) => ({ name: t.name, topicId: ZERO_UUID, partitionData: [{ index: 0, records: t.records }] })),
  });
}

function decodedAnswer(apiKey: number, version: number, body: object, correlationId = 7): DecodedResponse {
  const frame = encodeResponse(apiKey, version, { correlationId, _unknownTaggedFields: undefined }, body);
  return decodeResponse(frame, apiKey, version);
}

test('filter: frames that do not name a protected topic pass untouched, a refused part is taken out and merged back into the answer', () => {
  const f = new ProtectedTopicFilter();
  const { ctx, refused, logged } = fakeContext();
  const plain = produceFrame(9, [
    { name: 'orders', records: records('a') },
    { name: 'mm2-configs.x.internal', records: records('b') },
  ]);
  assert.equal(f.onRequest(ctx, plain, ApiKey.Produce, 9), undefined);
  // Reads that do not contain a hidden topic's bytes are not decoded (a frame that would not even decode passes).
  const fetchBytes = encodeRequest(header(ApiKey.Fetch, 12), {
    ...defaultFetchRequest(),
    topics: [{ topic: SYNCS, topicId: ZERO_UUID, partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0 }] }],
  });
  assert.equal(f.onRequest(ctx, fetchBytes, ApiKey.Fetch, 12), undefined);
  assert.equal(f.onRequest(ctx, Buffer.concat([fetchBytes, Buffer.from('junk')]), ApiKey.Fetch, 12), undefined);

  const mixed = produceFrame(9, [
    { name: 'orders', records: records('a') },
    { name: STATE, records: records('forged') },
  ]);
  const action = f.onRequest(ctx, mixed, ApiKey.Produce, 9) as { replace: Buffer };
  const sent = decodeRequest<ProduceRequest>(action.replace);
  assert.equal(sent.header.correlationId, 7);
  assert.deepEqual(
    sent.body.topicData.map((t) => t.name),
    ['orders'],
  );
  assert.deepEqual(refused, [ApiKey.Produce]);
  const answer = decodedAnswer(ApiKey.Produce, 9, {
    ...apiCodec(ApiKey.Produce)!.defaultResponse(),
    responses: [
      {
        name: 'orders',
        topicId: ZERO_UUID,
        partitionResponses: [
          {
            index: 0,
            errorCode: 0,
            baseOffset: 3n,
            logAppendTimeMs: -1n,
            logStartOffset: 0n,
            recordErrors: [],
            errorMessage: null,
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
          },
        ],
      },
    ],
  });
  assert.equal(f.onResponse(ctx, ApiKey.Produce, 9, answer), true);
  assert.deepEqual(
    (answer.body as ProduceResponse).responses.map((t) => [t.name, t.partitionResponses[0].errorCode]),
    [
      ['orders', 0],
      [STATE, TOPIC_AUTHORIZATION_FAILED],
    ],
  );
  // Answers to requests with nothing refused are left alone.
  assert.equal(f.onResponse(ctx, ApiKey.Produce, 9, decodedAnswer(ApiKey.Produce, 9, apiCodec(ApiKey.Produce)!.defaultResponse(), 8)), false);

  // Everything refused: answered by the gateway, nothing forwarded.
  const only = f.onRequest(ctx, produceFrame(9, [{ name: SYNCS, records: records('x') }], 9), ApiKey.Produce, 9) as { respond: Buffer };
  assert.equal(peekResponseCorrelationId(only.respond), 9);
  assert.equal(decodeResponse<ProduceResponse>(only.respond, ApiKey.Produce, 9).body.responses[0].partitionResponses[0].errorCode, TOPIC_AUTHORIZATION_FAILED);
  // acks=0: the rest goes on, nothing is answered.
  const silent = f.onRequest(ctx, produceFrame(9, [{ name: STATE, records: records('x') }], 10, 0), ApiKey.Produce, 9) as { replace: Buffer };
  assert.deepEqual(decodeRequest<ProduceRequest>(silent.replace).body.topicData, []);

  // The first refusal is logged at once; the next ones are summed up later, not one line each.
  assert.equal(logged.filter((l) => l.level === 'warn').length, 1);
  assert.deepEqual(refused, [ApiKey.Produce, ApiKey.Produce, ApiKey.Produce]);
});

test('filter: requests the gateway cannot read that may name a protected topic close the connection', () => {
  const f = new ProtectedTopicFilter();
  const { ctx } = fakeContext();
  // Produce v2 (no longer in Kafka 4, not modelled by the codec) naming the state topic.
  const v2 = produceFrame(3, [{ name: STATE, records: records('x') }]);
  v2.writeInt16BE(2, 6);
  assert.throws(() => f.onRequest(ctx, v2, ApiKey.Produce, 2), CodecError);
  // A Metadata request with a byte too many: the codec refuses it, the broker might not.
  const metadata = encodeRequest(header(ApiKey.Metadata, 12), { ...defaultMetadataRequest(), topics: [{ name: STATE, topicId: ZERO_UUID }] });
  const trailing = Buffer.concat([metadata, Buffer.from([0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.throws(() => f.onRequest(ctx, trailing, ApiKey.Metadata, 12), CodecError);
  // The same without a protected name passes (the broker answers it).
  const other = encodeRequest(header(ApiKey.Metadata, 12), { ...defaultMetadataRequest(), topics: [{ name: 'orders', topicId: ZERO_UUID }] });
  const otherTrailing = Buffer.concat([other, Buffer.from([0])]);
  otherTrailing.writeInt32BE(otherTrailing.length - 4, 0);
  assert.equal(f.onRequest(ctx, otherTrailing, ApiKey.Metadata, 12), undefined);
});

test("filter: a Fetch with the hidden topic is sent without it as the gateway's own request and answered with the refusals added", async () => {
  const f = new ProtectedTopicFilter();
  const { ctx, internalSent, noted } = fakeContext((apiKey, _v, body) => {
    assert.equal(apiKey, ApiKey.Fetch);
    return {
      ...defaultFetchResponse(),
      responses: (body as FetchRequest).topics.map((t) => ({
        topic: t.topic,
        topicId: ZERO_UUID,
        partitions: [{ ...defaultFetchResponsePartitionData(), records: records('r') }],
        _unknownTaggedFields: undefined,
      })),
    };
  });
  const frame = encodeRequest(header(ApiKey.Fetch, 12, 21), {
    ...defaultFetchRequest(),
    topics: ['orders', STATE].map((topic) => ({ topic, topicId: ZERO_UUID, partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0 }] })),
  });
  const first = f.onRequest(ctx, frame, ApiKey.Fetch, 12) as { defer: Promise<unknown> };
  assert.ok('defer' in first);
  await first.defer;
  assert.deepEqual(
    (internalSent[0].body as FetchRequest).topics.map((t) => t.topic),
    ['orders'],
  );
  // The request comes through again (connection.ts) and is answered.
  const again = f.onRequest(ctx, frame, ApiKey.Fetch, 12) as RequestAction & { respond: Buffer };
  assert.equal(peekResponseCorrelationId(again.respond), 21);
  const body = decodeResponse<FetchResponse>(again.respond, ApiKey.Fetch, 12).body;
  assert.deepEqual(
    body.responses.map((t) => [t.topic, t.partitions[0].errorCode]),
    [
      ['orders', 0],
      [STATE, TOPIC_AUTHORIZATION_FAILED],
    ],
  );
  assert.equal(f.wantsResponse(ApiKey.Fetch, 12), false, 'Fetch answers are never decoded');
  assert.deepEqual(noted, ['orders'], 'the topic still fetched is in use (topic-usage does not see this request)');
});

test('filter: a DescribeTopicPartitions page that ends at the hidden topic goes on at the topic after it', async () => {
  const f = new ProtectedTopicFilter();
  const { ctx, internalSent } = fakeContext((_k, _v, body) => {
    const after = (body as { cursor: { topicName: string } }).cursor.topicName;
    assert.equal(after, `${STATE}\u0000`);
    return { throttleTimeMs: 0, topics: [{ ...defaultDescribeTopicPartitionsResponseTopicLike(), name: 'zeta' }], nextCursor: null };
  });
  const page = decodedAnswer(
    ApiKey.DescribeTopicPartitions,
    0,
    {
      throttleTimeMs: 0,
      topics: [{ ...defaultDescribeTopicPartitionsResponseTopicLike(), name: '_alpha' }],
      nextCursor: { topicName: STATE, partitionIndex: 0 },
    },
    31,
  );
  const lookup = f.prepareResponse(ctx, ApiKey.DescribeTopicPartitions, 0, page);
  assert.ok(lookup !== undefined);
  await lookup;
  assert.equal(internalSent.length, 1);
  assert.equal(f.onResponse(ctx, ApiKey.DescribeTopicPartitions, 0, page), true);
  const body = page.body as DescribeTopicPartitionsResponse;
  assert.deepEqual([body.topics.map((t) => t.name), body.nextCursor?.topicName, body.nextCursor?.partitionIndex], [['_alpha'], 'zeta', 0]);
});

function defaultDescribeTopicPartitionsResponseTopicLike() {
  return { errorCode: 0, name: '' as string | null, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 };
}

test('filter: a cut-through Produce naming a protected topic at its start is assembled; found further on, it is stopped before that piece goes upstream', () => {
  const f = new ProtectedTopicFilter();
  const { ctx, refused } = fakeContext();
  const big = (name: string) => ({ name, records: records('v'.repeat(20_000)) });
  // Named in the first kilobyte: not cut through.
  const early = produceFrame(9, [{ name: STATE, records: records('x') }, big('orders')]);
  assert.equal(f.cutThrough(ctx, ApiKey.Produce, early.subarray(0, 1024)), false);
  // Clean start: watched as it passes.
  const late = produceFrame(9, [big('orders'), { name: SYNCS, records: records('x') }]);
  const observe = f.cutThrough(ctx, ApiKey.Produce, late.subarray(0, 1024));
  assert.equal(typeof observe, 'function');
  const pieces: boolean[] = [];
  for (let i = 0; i < late.length; i += 4096) pieces.push((observe as (p: Uint8Array) => boolean)(late.subarray(i, i + 4096)));
  const stop = pieces.indexOf(false);
  assert.ok(stop > 0, 'the first pieces pass');
  const nameAt = late.indexOf(Buffer.from(SYNCS));
  assert.equal(stop, Math.floor((nameAt + SYNCS.length - 1) / 4096), 'the piece that completes the name is the one stopped');
  assert.deepEqual(refused, [ApiKey.Produce]);
  // That client's next large Produce requests are assembled (so a retry is refused properly); others' are not.
  assert.equal(f.cutThrough(ctx, ApiKey.Produce, produceFrame(9, [big('orders')]).subarray(0, 1024)), false);
  const other = fakeContext(undefined, '10.0.0.2');
  assert.equal(typeof f.cutThrough(other.ctx, ApiKey.Produce, produceFrame(9, [big('orders')]).subarray(0, 1024)), 'function');
  scanProduceRequest(late, {}); // the frame is intact
});

test('filter: in the built-in chain it comes first, and decodes no answer it cannot change', () => {
  const chain = builtInFilterChain();
  assert.equal(chain.filters[0].name, 'protected-topics');
  const f = new ProtectedTopicFilter();
  assert.equal(f.wantsResponse(ApiKey.Produce, 2), false, 'not readable by the codec: crosses opaque');
  assert.equal(f.wantsResponse(ApiKey.Heartbeat, 4), false);
  assert.equal(f.wantsResponse(ApiKey.ConsumerGroupHeartbeat, 1), false, 'refused whole, never merged');
  assert.equal(f.wantsResponse(ApiKey.AddPartitionsToTxn, 3), false);
  assert.equal(f.wantsResponse(ApiKey.AddPartitionsToTxn, 4), true);
  assert.equal(f.wantsResponse(ApiKey.ListOffsets, 7), true);
  assert.equal(f.wantsResponse(ApiKey.Metadata, 12), true);
  // ListOffsets from a route with nothing hidden: reads are never refused there.
  const { ctx } = fakeContext();
  (ctx.route.gatewayTopics as Set<string>).clear();
  const lo = encodeRequest(header(ApiKey.ListOffsets, 7), {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 0,
    topics: [{ name: STATE, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }],
  });
  assert.equal(f.onRequest(ctx, lo, ApiKey.ListOffsets, 7), undefined);
  (ctx.route.gatewayTopics as Set<string>).add(STATE);
  const refusedLo = f.onRequest(ctx, lo, ApiKey.ListOffsets, 7) as { respond: Buffer };
  assert.equal(
    decodeResponse<ListOffsetsResponse>(refusedLo.respond, ApiKey.ListOffsets, 7).body.topics[0].partitions[0].errorCode,
    TOPIC_AUTHORIZATION_FAILED,
  );
});

// ---- every rule at every version ----------------------------------------------------------

const kebab = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/**
 * A request body of `schema` at `version` that names the state topic wherever a topic can be
 * named: one entry in every list, the name (or, where a struct has no name in that version, the
 * route's id) in every topic field, and topic resources in configs and ACLs.
 */
function namingState(schema: MessageSchema, mod: Record<string, () => object>, version: number): object {
  const build = (fields: FieldSchema[], obj: Record<string, unknown>): Record<string, unknown> => {
    const hasName = fields.some((f) => inVersionOf(f, version) && isTopicNameField(f) && f.type === 'string');
    for (const f of fields) {
      if (!inVersionOf(f, version)) continue;
      if (isTopicNameField(f)) obj[f.prop] = f.type === 'string' ? STATE : [STATE];
      else if (f.type === 'uuid' && f.name === 'TopicId' && !hasName) obj[f.prop] = routeTopicId('main', STATE);
      else if (f.name === 'ResourceName' || f.name === 'ResourceNameFilter') obj[f.prop] = STATE;
      else if (f.name === 'ResourceType' || f.name === 'ResourceTypeFilter') obj[f.prop] = 2;
      else if (f.name === 'ResourcePatternType' || f.name === 'PatternTypeFilter') obj[f.prop] = 3;
      else if (f.type === '[]int32')
        obj[f.prop] = [0]; // partition lists (and a replica list or two)
      else {
        const t = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
        const struct = schema.structs[t];
        if (struct === undefined) continue;
        const make = mod[`default${t.startsWith(schema.name) ? t : schema.name + t}`]; // as tools/codegen names them
        const item = build(struct, make() as Record<string, unknown>);
        obj[f.prop] = f.type.startsWith('[]') ? [item] : item;
      }
    }
    return obj;
  };
  return build(schema.fields, apiCodec(schema.apiKey!)!.defaultRequest() as Record<string, unknown>);
}

const inVersionOf = (f: FieldSchema, v: number): boolean => f.versions !== null && v >= f.versions[0] && v <= f.versions[1];

test('every rule, at every version the gateway reads, refuses a request naming the state topic with answers that encode in that version', async () => {
  const { VERSION_CAPS } = await import('../../../src/proxy/filters/index.ts');
  for (const [apiKey] of REQUEST_RULES) {
    const codec = apiCodec(apiKey)!;
    const schema = Object.values(MESSAGE_SCHEMAS).find((m) => m.apiKey === apiKey && m.type === 'request')!;
    const mod = (await import(`../../../src/protocol/generated/messages/${kebab(schema.name)}.ts`)) as Record<string, () => object>;
    for (let v = codec.minVersion; v <= Math.min(codec.maxVersion, VERSION_CAPS.get(apiKey) ?? codec.maxVersion); v++) {
      const what = `${codec.name} v${v}`;
      // Through the codec, so that only the version's own fields are set.
      const frame = encodeRequest(header(apiKey, v), namingState(schema, mod, v));
      const body = decodeRequest(frame).body;
      const refusal = refuseTopics(apiKey, v, body, guard);
      assert.ok(refusal !== null, `${what}: refused`);
      assert.deepEqual(refusal.topics, [STATE], what);
      if (refusal.forward !== null) decodeRequest(encodeRequest(header(apiKey, v), refusal.forward));
      const answer = roundTrip<object>(apiKey, v, refusedResponse(apiKey, refusal));
      const errors = JSON.stringify(answer, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
      // DescribeLogDirs and ListPartitionReassignments have no per-topic errors: the topic is left out.
      if (apiKey !== ApiKey.DescribeLogDirs && apiKey !== ApiKey.ListPartitionReassignments) assert.match(errors, /"(errorCode|partitionErrorCode)":29/, what);
    }
  }
});
