// Topics clients on a route may not touch, and how requests naming them are refused: the pure
// rewriting behind filters/protected-topics.ts. Two kinds of topic are protected:
//
// - hidden: the gateway's own (its switch state topic). Whoever could write it could switch the
//   fleet without the admin token, so through a route it does not exist: listings leave it out,
//   and every request that names it is refused for it.
// - read-only: MirrorMaker 2's offset syncs and checkpoints, the evidence a planned switch
//   translates consumer offsets with (control/replication.ts). Clients may list and read them;
//   every write (records, deletion, creation, partitions, configs, ACLs) is refused.
//
// A refused topic is answered as a broker answers a topic the client is not authorized for:
// TOPIC_AUTHORIZATION_FAILED (29) for that topic, or for each of its partitions, in the API's own
// error fields. The rest of the request still goes to the broker, with the refused topics
// removed, and the refusals are merged into its answer; when nothing is left, the gateway answers
// alone. Everything here is a pure function of decoded requests and responses.

import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnRequestAddPartitionsToTxnTopic,
} from '../protocol/generated/messages/add-partitions-to-txn-request.ts';
import type {
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../protocol/generated/messages/add-partitions-to-txn-response.ts';
import type { AlterConfigsRequest } from '../protocol/generated/messages/alter-configs-request.ts';
import { type AlterConfigsResponse, defaultAlterConfigsResponseAlterConfigsResourceResponse } from '../protocol/generated/messages/alter-configs-response.ts';
import type { AlterPartitionReassignmentsRequest } from '../protocol/generated/messages/alter-partition-reassignments-request.ts';
import {
  type AlterPartitionReassignmentsResponse,
  defaultAlterPartitionReassignmentsResponseReassignablePartitionResponse,
} from '../protocol/generated/messages/alter-partition-reassignments-response.ts';
import type {
  AlterReplicaLogDirsRequest,
  AlterReplicaLogDirsRequestAlterReplicaLogDirTopic,
} from '../protocol/generated/messages/alter-replica-log-dirs-request.ts';
import type { AlterReplicaLogDirsResponse } from '../protocol/generated/messages/alter-replica-log-dirs-response.ts';
import type { AlterShareGroupOffsetsRequest } from '../protocol/generated/messages/alter-share-group-offsets-request.ts';
import {
  type AlterShareGroupOffsetsResponse,
  defaultAlterShareGroupOffsetsResponsePartition,
  defaultAlterShareGroupOffsetsResponseTopic,
} from '../protocol/generated/messages/alter-share-group-offsets-response.ts';
import type { ConsumerGroupHeartbeatRequest } from '../protocol/generated/messages/consumer-group-heartbeat-request.ts';
import type { CreateAclsRequest } from '../protocol/generated/messages/create-acls-request.ts';
import {
  type CreateAclsResponse,
  type CreateAclsResponseAclCreationResult,
  defaultCreateAclsResponseAclCreationResult,
} from '../protocol/generated/messages/create-acls-response.ts';
import type { CreatePartitionsRequest } from '../protocol/generated/messages/create-partitions-request.ts';
import {
  type CreatePartitionsResponse,
  defaultCreatePartitionsResponseCreatePartitionsTopicResult,
} from '../protocol/generated/messages/create-partitions-response.ts';
import type { CreateTopicsRequest } from '../protocol/generated/messages/create-topics-request.ts';
import { type CreateTopicsResponse, defaultCreateTopicsResponseCreatableTopicResult } from '../protocol/generated/messages/create-topics-response.ts';
import type { DeleteAclsRequest } from '../protocol/generated/messages/delete-acls-request.ts';
import {
  type DeleteAclsResponse,
  type DeleteAclsResponseDeleteAclsFilterResult,
  defaultDeleteAclsResponseDeleteAclsFilterResult,
} from '../protocol/generated/messages/delete-acls-response.ts';
import type { DeleteRecordsRequest } from '../protocol/generated/messages/delete-records-request.ts';
import type { DeleteRecordsResponse } from '../protocol/generated/messages/delete-records-response.ts';
import type { DeleteShareGroupOffsetsRequest } from '../protocol/generated/messages/delete-share-group-offsets-request.ts';
import {
  type DeleteShareGroupOffsetsResponse,
  defaultDeleteShareGroupOffsetsResponseTopic,
} from '../protocol/generated/messages/delete-share-group-offsets-response.ts';
import type { DeleteTopicsRequest, DeleteTopicsRequestDeleteTopicState } from '../protocol/generated/messages/delete-topics-request.ts';
import { type DeleteTopicsResponse, defaultDeleteTopicsResponseDeletableTopicResult } from '../protocol/generated/messages/delete-topics-response.ts';
import type { DescribeAclsRequest } from '../protocol/generated/messages/describe-acls-request.ts';
import type { DescribeAclsResponse } from '../protocol/generated/messages/describe-acls-response.ts';
import type { DescribeConfigsRequest } from '../protocol/generated/messages/describe-configs-request.ts';
import { type DescribeConfigsResponse, defaultDescribeConfigsResponseDescribeConfigsResult } from '../protocol/generated/messages/describe-configs-response.ts';
import type { DescribeLogDirsRequest } from '../protocol/generated/messages/describe-log-dirs-request.ts';
import type { DescribeProducersRequest } from '../protocol/generated/messages/describe-producers-request.ts';
import {
  type DescribeProducersResponse,
  defaultDescribeProducersResponsePartitionResponse,
} from '../protocol/generated/messages/describe-producers-response.ts';
import type { DescribeShareGroupOffsetsRequest } from '../protocol/generated/messages/describe-share-group-offsets-request.ts';
import {
  type DescribeShareGroupOffsetsResponse,
  defaultDescribeShareGroupOffsetsResponseGroup,
  defaultDescribeShareGroupOffsetsResponsePartition,
  defaultDescribeShareGroupOffsetsResponseTopic,
} from '../protocol/generated/messages/describe-share-group-offsets-response.ts';
import type { DescribeTopicPartitionsRequest } from '../protocol/generated/messages/describe-topic-partitions-request.ts';
import {
  type DescribeTopicPartitionsResponse,
  defaultDescribeTopicPartitionsResponseTopic,
} from '../protocol/generated/messages/describe-topic-partitions-response.ts';
import type { ElectLeadersRequest } from '../protocol/generated/messages/elect-leaders-request.ts';
import { defaultElectLeadersResponsePartitionResult, type ElectLeadersResponse } from '../protocol/generated/messages/elect-leaders-response.ts';
import type { FetchRequest } from '../protocol/generated/messages/fetch-request.ts';
import {
  defaultFetchResponseFetchableTopicResponse,
  defaultFetchResponsePartitionData,
  type FetchResponse,
} from '../protocol/generated/messages/fetch-response.ts';
import type { IncrementalAlterConfigsRequest } from '../protocol/generated/messages/incremental-alter-configs-request.ts';
import {
  defaultIncrementalAlterConfigsResponseAlterConfigsResourceResponse,
  type IncrementalAlterConfigsResponse,
} from '../protocol/generated/messages/incremental-alter-configs-response.ts';
import type { ListConfigResourcesResponse } from '../protocol/generated/messages/list-config-resources-response.ts';
import type { ListOffsetsRequest } from '../protocol/generated/messages/list-offsets-request.ts';
import { defaultListOffsetsResponseListOffsetsPartitionResponse, type ListOffsetsResponse } from '../protocol/generated/messages/list-offsets-response.ts';
import type { ListPartitionReassignmentsRequest } from '../protocol/generated/messages/list-partition-reassignments-request.ts';
import type { MetadataRequest } from '../protocol/generated/messages/metadata-request.ts';
import { defaultMetadataResponseTopic, type MetadataResponse } from '../protocol/generated/messages/metadata-response.ts';
import type { OffsetCommitRequest } from '../protocol/generated/messages/offset-commit-request.ts';
import { defaultOffsetCommitResponseTopic, type OffsetCommitResponse } from '../protocol/generated/messages/offset-commit-response.ts';
import type { OffsetDeleteRequest } from '../protocol/generated/messages/offset-delete-request.ts';
import type { OffsetDeleteResponse } from '../protocol/generated/messages/offset-delete-response.ts';
import type { OffsetFetchRequest, OffsetFetchRequestGroup } from '../protocol/generated/messages/offset-fetch-request.ts';
import {
  defaultOffsetFetchResponseGroup,
  defaultOffsetFetchResponsePartition,
  defaultOffsetFetchResponsePartitions,
  defaultOffsetFetchResponseTopics,
  type OffsetFetchResponse,
} from '../protocol/generated/messages/offset-fetch-response.ts';
import type { OffsetForLeaderEpochRequest } from '../protocol/generated/messages/offset-for-leader-epoch-request.ts';
import {
  defaultOffsetForLeaderEpochResponseEpochEndOffset,
  type OffsetForLeaderEpochResponse,
} from '../protocol/generated/messages/offset-for-leader-epoch-response.ts';
import type { ProduceRequest } from '../protocol/generated/messages/produce-request.ts';
import {
  defaultProduceResponsePartitionProduceResponse,
  defaultProduceResponseTopicProduceResponse,
  type ProduceResponse,
} from '../protocol/generated/messages/produce-response.ts';
import type { ShareGroupHeartbeatRequest } from '../protocol/generated/messages/share-group-heartbeat-request.ts';
import type { TxnOffsetCommitRequest } from '../protocol/generated/messages/txn-offset-commit-request.ts';
import type { TxnOffsetCommitResponse } from '../protocol/generated/messages/txn-offset-commit-response.ts';
import type { WriteTxnMarkersRequest, WriteTxnMarkersRequestWritableTxnMarker } from '../protocol/generated/messages/write-txn-markers-request.ts';
import type { WriteTxnMarkersResponse } from '../protocol/generated/messages/write-txn-markers-response.ts';
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from '../protocol/generated/schema.ts';
import { ApiKey, apiCodec, KafkaErrorCode, ZERO_UUID } from '../protocol/index.ts';
import { isOffsetTranslationEvidence } from '../routing/internal-topics.ts';

const { TOPIC_AUTHORIZATION_FAILED } = KafkaErrorCode;
/** AddPartitionsToTxn: the other partitions of a request that was refused as a whole. */
const { OPERATION_NOT_ATTEMPTED } = KafkaErrorCode;

// Resource and pattern types of configs and ACLs (ConfigResource.Type, ResourceType, PatternType).
const RESOURCE_ANY = 1;
const RESOURCE_TOPIC = 2;
const CONFIG_RESOURCE_TOPIC = 2;
const PATTERN_ANY = 1;
const PATTERN_MATCH = 2;
const PATTERN_LITERAL = 3;
const PATTERN_PREFIXED = 4;

/** What is protected on one route. */
export interface TopicGuard {
  /** The gateway's own topics: clients never see or touch them. */
  isHidden(name: string): boolean;
  /** Topics clients may not write: the hidden ones and MirrorMaker 2's offset translation evidence. */
  isReadOnly(name: string): boolean;
  /** Whether a PREFIXED ACL pattern covers a topic clients may not write. */
  prefixCoversReadOnly(prefix: string): boolean;
  /** Whether a PREFIXED ACL pattern covers a hidden topic. */
  prefixCoversHidden(prefix: string): boolean;
  /** The topic a topic id in a request stands for (the ids clients see are the route's), when known. */
  nameOfId(id: string): string | undefined;
}

export function topicGuard(hidden: ReadonlySet<string>, nameOfId: (id: string) => string | undefined = () => undefined): TopicGuard {
  const names = [...hidden];
  const isHidden = (name: string): boolean => hidden.has(name);
  return {
    isHidden,
    isReadOnly: (name) => hidden.has(name) || isOffsetTranslationEvidence(name),
    prefixCoversHidden: (prefix) => names.some((n) => n.startsWith(prefix)),
    prefixCoversReadOnly: (prefix) =>
      names.some((n) => n.startsWith(prefix)) || OFFSET_SYNCS_PREFIX.startsWith(prefix) || prefix.startsWith(OFFSET_SYNCS_PREFIX),
    nameOfId,
  };
}

const OFFSET_SYNCS_PREFIX = 'mm2-offset-syncs.';

/**
 * Reads are refused only for hidden topics; writes also for the read-only ones. Records,
 * deletion, creation, partitions, configs, ACLs and transaction membership are writes.
 */
export type Access = 'read' | 'write';

/** A request with refused parts. */
export interface Refusal {
  /** The request body to send instead (same version), or null: nothing is left, the gateway answers alone. */
  readonly forward: object | null;
  /** Adds the refusals to a response body: the broker's answer to `forward`, or an empty answer. */
  fill(response: object): void;
  /** The refused topics, for the log. */
  readonly topics: readonly string[];
}

type Refuse = (name: string) => boolean;
type Rewrite = (body: never, version: number, refuse: Refuse, guard: TopicGuard, access: Access) => Refusal | null;

export interface RequestRule {
  readonly access: Access;
  /**
   * Whether a frame that does not contain the bytes of a protected topic name may skip decoding.
   * False where a protected topic can be named otherwise (by id, or by an ACL prefix).
   */
  readonly precheck: boolean;
  readonly rewrite: Rewrite;
}

/** Splits `list` into the entries kept and those refused; null when nothing is refused. */
function split<T>(list: readonly T[], nameOf: (t: T) => string | null | undefined, refuse: Refuse): { kept: T[]; refused: T[]; names: string[] } | null {
  let refused: T[] | null = null;
  let names: string[] | null = null;
  for (const t of list) {
    const name = nameOf(t);
    if (name === null || name === undefined || name === '' || !refuse(name)) continue;
    (refused ??= []).push(t);
    (names ??= []).push(name);
  }
  if (refused === null) return null;
  const out = new Set(refused);
  return { kept: list.filter((t) => !out.has(t)), refused, names: names! };
}

const unique = (names: readonly string[]): string[] => [...new Set(names)];

/**
 * The common case: the request lists topics; refused ones are left out of what is forwarded
 * (nothing is, when none is left) and answered by `answer`, which adds an entry to the response.
 */
function perTopic<T, R>(
  list: readonly T[],
  nameOf: (t: T) => string | null | undefined,
  refuse: Refuse,
  forward: (kept: T[]) => object,
  answer: (response: R, t: T) => void,
): Refusal | null {
  const s = split(list, nameOf, refuse);
  if (s === null) return null;
  return {
    forward: s.kept.length === 0 ? null : forward(s.kept),
    fill(response) {
      for (const t of s.refused) answer(response as R, t);
    },
    topics: unique(s.names),
  };
}

/** A topic named by name, or in versions that name topics by id, by the route's id. */
function nameOrId(guard: TopicGuard, name: string | null, topicId: string): string | undefined {
  if (name !== null && name !== '') return name;
  return topicId === ZERO_UUID ? undefined : guard.nameOfId(topicId);
}

// ---- per API -------------------------------------------------------------------------------

function produce(body: ProduceRequest, _v: number, refuse: Refuse): Refusal | null {
  const s = split(body.topicData, (t) => t.name, refuse);
  if (s === null) return null;
  return {
    // acks=0 gets no answer: what is left (perhaps nothing) is sent, and the broker stays silent.
    forward: s.kept.length === 0 && body.acks !== 0 ? null : { ...body, topicData: s.kept },
    fill(response) {
      for (const t of s.refused) {
        (response as ProduceResponse).responses.push({
          ...defaultProduceResponseTopicProduceResponse(),
          name: t.name,
          partitionResponses: t.partitionData.map((p) => ({
            ...defaultProduceResponsePartitionProduceResponse(),
            index: p.index,
            errorCode: TOPIC_AUTHORIZATION_FAILED,
            baseOffset: -1n,
          })),
        });
      }
    },
    topics: unique(s.names),
  };
}

function fetch(body: FetchRequest, _v: number, refuse: Refuse): Refusal | null {
  const s = split(body.topics, (t) => t.topic, refuse);
  const forgotten = split(body.forgottenTopicsData, (t) => t.topic, refuse);
  if (s === null && forgotten === null) return null;
  const kept = s?.kept ?? body.topics;
  return {
    // A fetch session's epochs must reach the broker in order: such a fetch goes on even when empty.
    forward: kept.length === 0 && body.sessionId === 0 ? null : { ...body, topics: kept, forgottenTopicsData: forgotten?.kept ?? body.forgottenTopicsData },
    fill(response) {
      for (const t of s?.refused ?? []) {
        (response as FetchResponse).responses.push({
          ...defaultFetchResponseFetchableTopicResponse(),
          topic: t.topic,
          partitions: t.partitions.map((p) => ({
            ...defaultFetchResponsePartitionData(),
            partitionIndex: p.partition,
            errorCode: TOPIC_AUTHORIZATION_FAILED,
            highWatermark: -1n,
          })),
        });
      }
    },
    topics: unique([...(s?.names ?? []), ...(forgotten?.names ?? [])]),
  };
}

function listOffsets(body: ListOffsetsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: ListOffsetsResponse, t) =>
      response.topics.push({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          ...defaultListOffsetsResponseListOffsetsPartitionResponse(),
          partitionIndex: p.partitionIndex,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
        })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function metadata(body: MetadataRequest, version: number, refuse: Refuse, guard: TopicGuard): Refusal | null {
  if (body.topics === null) return null; // all topics: the answer is filtered (hideInResponse)
  const s = split(body.topics, (t) => nameOrId(guard, t.name, t.topicId), refuse);
  if (s === null) return null;
  return {
    // Sent even when nothing is left: the answer carries the brokers and the cluster. An empty
    // list asks for no topic, except in v0, where it asks for all; fill() drops them then.
    forward: { ...body, topics: s.kept },
    fill(response) {
      const r = response as MetadataResponse;
      if (version === 0 && s.kept.length === 0) r.topics = [];
      for (const t of s.refused) {
        // As the broker answers an unauthorized topic: by name with a zero id, by id without a name.
        const byId = t.name === null || t.name === '';
        r.topics.push({
          ...defaultMetadataResponseTopic(),
          errorCode: TOPIC_AUTHORIZATION_FAILED,
          name: byId ? (version >= 12 ? null : '') : t.name,
          topicId: byId ? t.topicId : ZERO_UUID,
        });
      }
    },
    topics: unique(s.names),
  };
}

function offsetCommit(body: OffsetCommitRequest, _v: number, refuse: Refuse, guard: TopicGuard): Refusal | null {
  const s = split(body.topics, (t) => nameOrId(guard, t.name, t.topicId), refuse);
  if (s === null) return null;
  return {
    forward: s.kept.length === 0 ? null : { ...body, topics: s.kept },
    fill(response) {
      for (const t of s.refused) {
        (response as OffsetCommitResponse).topics.push({
          ...defaultOffsetCommitResponseTopic(),
          name: t.name,
          topicId: t.topicId,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_AUTHORIZATION_FAILED, _unknownTaggedFields: undefined })),
        });
      }
    },
    topics: unique(s.names),
  };
}

function txnOffsetCommit(body: TxnOffsetCommitRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: TxnOffsetCommitResponse, t) =>
      response.topics.push({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_AUTHORIZATION_FAILED, _unknownTaggedFields: undefined })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function offsetFetch(body: OffsetFetchRequest, version: number, refuse: Refuse, guard: TopicGuard): Refusal | null {
  if (version <= 7) {
    if (body.topics === null) return null; // all the group's topics: the answer is filtered
    const s = split(body.topics, (t) => t.name, refuse);
    if (s === null) return null;
    return {
      forward: s.kept.length === 0 ? null : { ...body, topics: s.kept },
      fill(response) {
        for (const t of s.refused) {
          (response as OffsetFetchResponse).topics.push({
            name: t.name,
            partitions: t.partitionIndexes.map((i) => ({
              ...defaultOffsetFetchResponsePartition(),
              partitionIndex: i,
              committedOffset: -1n,
              errorCode: TOPIC_AUTHORIZATION_FAILED,
            })),
            _unknownTaggedFields: undefined,
          });
        }
      },
      topics: unique(s.names),
    };
  }
  // v8+: several groups, each with its topics (by id from v10).
  type Topics = NonNullable<OffsetFetchRequestGroup['topics']>;
  const perGroup = new Map<OffsetFetchRequestGroup, { kept: Topics; refused: Topics; names: string[] }>();
  for (const g of body.groups) {
    if (g.topics === null) continue;
    const s = split(g.topics, (t) => nameOrId(guard, t.name, t.topicId), refuse);
    if (s !== null) perGroup.set(g, s);
  }
  if (perGroup.size === 0) return null;
  const nothingLeft = body.groups.every((g) => perGroup.get(g)?.kept.length === 0);
  return {
    forward: nothingLeft ? null : { ...body, groups: body.groups.map((g) => (perGroup.has(g) ? { ...g, topics: perGroup.get(g)!.kept } : g)) },
    fill(response) {
      const r = response as OffsetFetchResponse;
      for (const [g, s] of perGroup) {
        let group = r.groups.find((x) => x.groupId === g.groupId);
        if (group === undefined) {
          group = { ...defaultOffsetFetchResponseGroup(), groupId: g.groupId };
          r.groups.push(group);
        }
        for (const t of s.refused) {
          group.topics.push({
            ...defaultOffsetFetchResponseTopics(),
            name: t.name,
            topicId: t.topicId,
            partitions: t.partitionIndexes.map((i) => ({
              ...defaultOffsetFetchResponsePartitions(),
              partitionIndex: i,
              committedOffset: -1n,
              errorCode: TOPIC_AUTHORIZATION_FAILED,
            })),
          });
        }
      }
    },
    topics: unique([...perGroup.values()].flatMap((s) => s.names)),
  };
}

function offsetDelete(body: OffsetDeleteRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: OffsetDeleteResponse, t) =>
      response.topics.push({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_AUTHORIZATION_FAILED, _unknownTaggedFields: undefined })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function offsetForLeaderEpoch(body: OffsetForLeaderEpochRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.topic,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: OffsetForLeaderEpochResponse, t) =>
      response.topics.push({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({
          ...defaultOffsetForLeaderEpochResponseEpochEndOffset(),
          partition: p.partition,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
        })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function createTopics(body: CreateTopicsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: CreateTopicsResponse, t) =>
      response.topics.push({ ...defaultCreateTopicsResponseCreatableTopicResult(), name: t.name, errorCode: TOPIC_AUTHORIZATION_FAILED }),
  );
}

function deleteTopics(body: DeleteTopicsRequest, version: number, refuse: Refuse, guard: TopicGuard): Refusal | null {
  if (version <= 5) {
    const s = split(body.topicNames, (n) => n, refuse);
    if (s === null) return null;
    return {
      forward: s.kept.length === 0 ? null : { ...body, topicNames: s.kept },
      fill(response) {
        for (const name of s.refused)
          (response as DeleteTopicsResponse).responses.push({
            ...defaultDeleteTopicsResponseDeletableTopicResult(),
            name,
            errorCode: TOPIC_AUTHORIZATION_FAILED,
          });
      },
      topics: unique(s.names),
    };
  }
  const s = split(body.topics, (t: DeleteTopicsRequestDeleteTopicState) => nameOrId(guard, t.name, t.topicId), refuse);
  if (s === null) return null;
  return {
    forward: s.kept.length === 0 ? null : { ...body, topics: s.kept },
    fill(response) {
      for (const t of s.refused) {
        (response as DeleteTopicsResponse).responses.push({
          ...defaultDeleteTopicsResponseDeletableTopicResult(),
          name: t.name,
          topicId: t.topicId,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
        });
      }
    },
    topics: unique(s.names),
  };
}

function deleteRecords(body: DeleteRecordsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: DeleteRecordsResponse, t) =>
      response.topics.push({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          lowWatermark: -1n,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
          _unknownTaggedFields: undefined,
        })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function createPartitions(body: CreatePartitionsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: CreatePartitionsResponse, t) =>
      response.results.push({ ...defaultCreatePartitionsResponseCreatePartitionsTopicResult(), name: t.name, errorCode: TOPIC_AUTHORIZATION_FAILED }),
  );
}

/** DescribeConfigs, AlterConfigs, IncrementalAlterConfigs: topic resources among others. */
function configResources(
  make: () => { errorCode: number; resourceType: number; resourceName: string },
  results: (response: object) => { errorCode: number; resourceType: number; resourceName: string }[],
): Rewrite {
  return ((body: DescribeConfigsRequest | AlterConfigsRequest | IncrementalAlterConfigsRequest, _v: number, refuse: Refuse): Refusal | null => {
    const resources: { resourceType: number; resourceName: string }[] = body.resources;
    const s = split(resources, (r) => (r.resourceType === CONFIG_RESOURCE_TOPIC ? r.resourceName : null), refuse);
    if (s === null) return null;
    return {
      forward: s.kept.length === 0 ? null : { ...body, resources: s.kept },
      fill(response) {
        for (const r of s.refused)
          results(response).push({ ...make(), resourceType: r.resourceType, resourceName: r.resourceName, errorCode: TOPIC_AUTHORIZATION_FAILED });
      },
      topics: unique(s.names),
    };
  }) as Rewrite;
}

/** Whether an ACL (pattern) on `resourceType`/`name` touches a protected topic. */
function aclTouches(resourceType: number, name: string | null, patternType: number, guard: TopicGuard, access: Access): string | null {
  if (name === null || (resourceType !== RESOURCE_TOPIC && resourceType !== RESOURCE_ANY)) return null;
  const covered = access === 'write' ? guard.isReadOnly(name) : guard.isHidden(name);
  if (covered && (patternType === PATTERN_LITERAL || patternType === PATTERN_MATCH || patternType === PATTERN_ANY)) return name;
  if (patternType === PATTERN_PREFIXED && (access === 'write' ? guard.prefixCoversReadOnly(name) : guard.prefixCoversHidden(name))) return name;
  return null;
}

function createAcls(body: CreateAclsRequest, _v: number, _r: Refuse, guard: TopicGuard, access: Access): Refusal | null {
  const refused = body.creations.map((c) => aclTouches(c.resourceType, c.resourceName, c.resourcePatternType, guard, access));
  if (refused.every((n) => n === null)) return null;
  const kept = body.creations.filter((_, i) => refused[i] === null);
  return {
    forward: kept.length === 0 ? null : { ...body, creations: kept },
    fill(response) {
      // Results answer creations by position: the refusals go back where their creations were.
      const r = response as CreateAclsResponse;
      const fromBroker = r.results;
      const results: CreateAclsResponseAclCreationResult[] = [];
      let next = 0;
      for (const name of refused) {
        results.push(
          name === null
            ? (fromBroker[next++] ?? { ...defaultCreateAclsResponseAclCreationResult() })
            : { ...defaultCreateAclsResponseAclCreationResult(), errorCode: TOPIC_AUTHORIZATION_FAILED },
        );
      }
      r.results = results;
    },
    topics: unique(refused.filter((n): n is string => n !== null)),
  };
}

function deleteAcls(body: DeleteAclsRequest, _v: number, _r: Refuse, guard: TopicGuard, access: Access): Refusal | null {
  const refused = body.filters.map((f) => aclTouches(f.resourceTypeFilter, f.resourceNameFilter, f.patternTypeFilter, guard, access));
  if (refused.every((n) => n === null)) return null;
  const kept = body.filters.filter((_, i) => refused[i] === null);
  return {
    forward: kept.length === 0 ? null : { ...body, filters: kept },
    fill(response) {
      const r = response as DeleteAclsResponse;
      const fromBroker = r.filterResults;
      const results: DeleteAclsResponseDeleteAclsFilterResult[] = [];
      let next = 0;
      for (const name of refused) {
        results.push(
          name === null
            ? (fromBroker[next++] ?? { ...defaultDeleteAclsResponseDeleteAclsFilterResult() })
            : { ...defaultDeleteAclsResponseDeleteAclsFilterResult(), errorCode: TOPIC_AUTHORIZATION_FAILED },
        );
      }
      r.filterResults = results;
    },
    topics: unique(refused.filter((n): n is string => n !== null)),
  };
}

function describeAcls(body: DescribeAclsRequest, _v: number, _r: Refuse, guard: TopicGuard, access: Access): Refusal | null {
  const name = aclTouches(body.resourceTypeFilter, body.resourceNameFilter, body.patternTypeFilter, guard, access);
  if (name === null) return null;
  return {
    forward: null,
    fill(response) {
      (response as DescribeAclsResponse).errorCode = TOPIC_AUTHORIZATION_FAILED;
    },
    topics: [name],
  };
}

function describeLogDirs(body: DescribeLogDirsRequest, _v: number, refuse: Refuse): Refusal | null {
  if (body.topics === null) return null; // all topics: the answer is filtered
  const s = split(body.topics, (t) => t.topic, refuse);
  if (s === null) return null;
  // No per-topic errors: a refused topic is left out, as a topic without replicas there would be.
  // An empty list asks for no topic (null would ask for all).
  return { forward: { ...body, topics: s.kept }, fill() {}, topics: unique(s.names) };
}

function describeProducers(body: DescribeProducersRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: DescribeProducersResponse, t) =>
      response.topics.push({
        name: t.name,
        partitions: t.partitionIndexes.map((i) => ({
          ...defaultDescribeProducersResponsePartitionResponse(),
          partitionIndex: i,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
        })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function electLeaders(body: ElectLeadersRequest, _v: number, refuse: Refuse): Refusal | null {
  if (body.topicPartitions === null) return null; // every partition: the answer is filtered
  const s = split(body.topicPartitions, (t) => t.topic, refuse);
  if (s === null) return null;
  return {
    forward: s.kept.length === 0 ? null : { ...body, topicPartitions: s.kept },
    fill(response) {
      for (const t of s.refused) {
        (response as ElectLeadersResponse).replicaElectionResults.push({
          topic: t.topic,
          partitionResult: t.partitions.map((p) => ({
            ...defaultElectLeadersResponsePartitionResult(),
            partitionId: p,
            errorCode: TOPIC_AUTHORIZATION_FAILED,
          })),
          _unknownTaggedFields: undefined,
        });
      }
    },
    topics: unique(s.names),
  };
}

function alterPartitionReassignments(body: AlterPartitionReassignmentsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.name,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: AlterPartitionReassignmentsResponse, t) =>
      response.responses.push({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          ...defaultAlterPartitionReassignmentsResponseReassignablePartitionResponse(),
          partitionIndex: p.partitionIndex,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
        })),
        _unknownTaggedFields: undefined,
      }),
  );
}

function listPartitionReassignments(body: ListPartitionReassignmentsRequest, _v: number, refuse: Refuse): Refusal | null {
  if (body.topics === null) return null; // all topics: the answer is filtered
  const s = split(body.topics, (t) => t.name, refuse);
  if (s === null) return null;
  // No per-topic errors: a refused topic is left out, as one without a reassignment would be.
  return { forward: s.kept.length === 0 ? null : { ...body, topics: s.kept }, fill() {}, topics: unique(s.names) };
}

function alterReplicaLogDirs(body: AlterReplicaLogDirsRequest, _v: number, refuse: Refuse): Refusal | null {
  const refused = new Map<string, Set<number>>();
  const dirs = [];
  for (const d of body.dirs) {
    const s = split(d.topics, (t: AlterReplicaLogDirsRequestAlterReplicaLogDirTopic) => t.name, refuse);
    if (s === null) {
      dirs.push(d);
      continue;
    }
    for (const t of s.refused) {
      const parts = refused.get(t.name) ?? new Set<number>();
      for (const p of t.partitions) parts.add(p);
      refused.set(t.name, parts);
    }
    if (s.kept.length > 0) dirs.push({ ...d, topics: s.kept });
  }
  if (refused.size === 0) return null;
  return {
    forward: dirs.length === 0 ? null : { ...body, dirs },
    fill(response) {
      for (const [topicName, parts] of refused) {
        (response as AlterReplicaLogDirsResponse).results.push({
          topicName,
          partitions: [...parts].map((partitionIndex) => ({ partitionIndex, errorCode: TOPIC_AUTHORIZATION_FAILED, _unknownTaggedFields: undefined })),
          _unknownTaggedFields: undefined,
        });
      }
    },
    topics: [...refused.keys()],
  };
}

function describeTopicPartitions(body: DescribeTopicPartitionsRequest, _v: number, refuse: Refuse): Refusal | null {
  const s = split(body.topics, (t) => t.name, refuse);
  if (s === null) return null; // an empty list asks for every topic: the answer is filtered
  const cursor = body.cursor !== null && refuse(body.cursor.topicName) ? null : body.cursor;
  return {
    // Nothing left: not sent, since an empty list would ask for every topic.
    forward: s.kept.length === 0 ? null : { ...body, topics: s.kept, cursor },
    fill(response) {
      for (const t of s.refused) {
        (response as DescribeTopicPartitionsResponse).topics.push({
          ...defaultDescribeTopicPartitionsResponseTopic(),
          errorCode: TOPIC_AUTHORIZATION_FAILED,
          name: t.name,
        });
      }
    },
    topics: unique(s.names),
  };
}

/** AddPartitionsToTxn is all or nothing, as on the broker: refused topics get 29, the others OPERATION_NOT_ATTEMPTED. */
function addPartitionsToTxn(body: AddPartitionsToTxnRequest, version: number, refuse: Refuse): Refusal | null {
  const results = (topics: AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] =>
    topics.map((t) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((partitionIndex) => ({
        partitionIndex,
        partitionErrorCode: refuse(t.name) ? TOPIC_AUTHORIZATION_FAILED : OPERATION_NOT_ATTEMPTED,
        _unknownTaggedFields: undefined,
      })),
      _unknownTaggedFields: undefined,
    }));
  if (version <= 3) {
    const names = body.v3AndBelowTopics.filter((t) => refuse(t.name)).map((t) => t.name);
    if (names.length === 0) return null;
    return {
      forward: null,
      fill(response) {
        (response as AddPartitionsToTxnResponse).resultsByTopicV3AndBelow = results(body.v3AndBelowTopics);
      },
      topics: unique(names),
    };
  }
  // v4+ (brokers verifying for each other): each transaction stands or falls alone.
  const refusedTxns = body.transactions.filter((x) => x.topics.some((t) => refuse(t.name)));
  if (refusedTxns.length === 0) return null;
  const kept = body.transactions.filter((x) => !refusedTxns.includes(x));
  return {
    forward: kept.length === 0 ? null : { ...body, transactions: kept },
    fill(response) {
      for (const x of refusedTxns)
        (response as AddPartitionsToTxnResponse).resultsByTransaction.push({
          transactionalId: x.transactionalId,
          topicResults: results(x.topics),
          _unknownTaggedFields: undefined,
        });
    },
    topics: unique(refusedTxns.flatMap((x) => x.topics.filter((t) => refuse(t.name)).map((t) => t.name))),
  };
}

function writeTxnMarkers(body: WriteTxnMarkersRequest, _v: number, refuse: Refuse): Refusal | null {
  const refused: { marker: WriteTxnMarkersRequestWritableTxnMarker; topics: WriteTxnMarkersRequestWritableTxnMarker['topics'] }[] = [];
  const markers = [];
  const names: string[] = [];
  for (const m of body.markers) {
    const s = split(m.topics, (t) => t.name, refuse);
    if (s === null) {
      markers.push(m);
      continue;
    }
    refused.push({ marker: m, topics: s.refused });
    names.push(...s.names);
    if (s.kept.length > 0) markers.push({ ...m, topics: s.kept });
  }
  if (refused.length === 0) return null;
  return {
    forward: markers.length === 0 ? null : { ...body, markers },
    fill(response) {
      const r = response as WriteTxnMarkersResponse;
      for (const { marker, topics } of refused) {
        let result = r.markers.find((x) => x.producerId === marker.producerId);
        if (result === undefined) {
          result = { producerId: marker.producerId, topics: [], _unknownTaggedFields: undefined };
          r.markers.push(result);
        }
        for (const t of topics) {
          result.topics.push({
            name: t.name,
            partitions: t.partitionIndexes.map((partitionIndex) => ({
              partitionIndex,
              errorCode: TOPIC_AUTHORIZATION_FAILED,
              _unknownTaggedFields: undefined,
            })),
            _unknownTaggedFields: undefined,
          });
        }
      }
    },
    topics: unique(names),
  };
}

/** Group heartbeats that subscribe to a refused topic are refused whole, as the broker does (KIP-848). */
function heartbeat(body: ConsumerGroupHeartbeatRequest | ShareGroupHeartbeatRequest, _v: number, refuse: Refuse): Refusal | null {
  const names = (body.subscribedTopicNames ?? []).filter(refuse);
  if (names.length === 0) return null;
  return { forward: null, fill: setErrorCode, topics: unique(names) };
}

function setErrorCode(response: object): void {
  (response as { errorCode: number }).errorCode = TOPIC_AUTHORIZATION_FAILED;
}

/** Any request refused whole when any topic name in it (found with the schema) is refused. */
function wholeByNames(apiKey: number): Rewrite {
  return ((body: object, version: number, refuse: Refuse): Refusal | null => {
    const names: string[] = [];
    forEachTopicName(apiKey, 'request', version, body, (n) => {
      if (refuse(n)) names.push(n);
    });
    return names.length === 0 ? null : { forward: null, fill: setErrorCode, topics: unique(names) };
  }) as Rewrite;
}

function describeShareGroupOffsets(body: DescribeShareGroupOffsetsRequest, _v: number, refuse: Refuse): Refusal | null {
  type Topics = NonNullable<DescribeShareGroupOffsetsRequest['groups'][number]['topics']>;
  const perGroup = new Map<string, { kept: Topics; refused: Topics; names: string[] }>();
  for (const g of body.groups) {
    if (g.topics === null) continue;
    const s = split(g.topics, (t) => t.topicName, refuse);
    if (s !== null) perGroup.set(g.groupId, s);
  }
  if (perGroup.size === 0) return null;
  const nothingLeft = body.groups.every((g) => perGroup.get(g.groupId)?.kept.length === 0);
  return {
    forward: nothingLeft ? null : { ...body, groups: body.groups.map((g) => (perGroup.has(g.groupId) ? { ...g, topics: perGroup.get(g.groupId)!.kept } : g)) },
    fill(response) {
      const r = response as DescribeShareGroupOffsetsResponse;
      for (const [groupId, s] of perGroup) {
        let group = r.groups.find((x) => x.groupId === groupId);
        if (group === undefined) {
          group = { ...defaultDescribeShareGroupOffsetsResponseGroup(), groupId };
          r.groups.push(group);
        }
        for (const t of s.refused) {
          group.topics.push({
            ...defaultDescribeShareGroupOffsetsResponseTopic(),
            topicName: t.topicName,
            partitions: t.partitions.map((partitionIndex) => ({
              ...defaultDescribeShareGroupOffsetsResponsePartition(),
              partitionIndex,
              errorCode: TOPIC_AUTHORIZATION_FAILED,
            })),
          });
        }
      }
    },
    topics: unique([...perGroup.values()].flatMap((s) => s.names)),
  };
}

function alterShareGroupOffsets(body: AlterShareGroupOffsetsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.topicName,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: AlterShareGroupOffsetsResponse, t) =>
      response.responses.push({
        ...defaultAlterShareGroupOffsetsResponseTopic(),
        topicName: t.topicName,
        partitions: t.partitions.map((p) => ({
          ...defaultAlterShareGroupOffsetsResponsePartition(),
          partitionIndex: p.partitionIndex,
          errorCode: TOPIC_AUTHORIZATION_FAILED,
        })),
      }),
  );
}

function deleteShareGroupOffsets(body: DeleteShareGroupOffsetsRequest, _v: number, refuse: Refuse): Refusal | null {
  return perTopic(
    body.topics,
    (t) => t.topicName,
    refuse,
    (kept) => ({ ...body, topics: kept }),
    (response: DeleteShareGroupOffsetsResponse, t) =>
      response.responses.push({ ...defaultDeleteShareGroupOffsetsResponseTopic(), topicName: t.topicName, errorCode: TOPIC_AUTHORIZATION_FAILED }),
  );
}

const rule = (access: Access, rewrite: Rewrite, precheck = true): RequestRule => ({ access, rewrite, precheck });

/**
 * Requests that can name a topic, by api key. A unit test checks this against the message
 * definitions: a Kafka release that adds topics to another request fails it.
 */
export const REQUEST_RULES: ReadonlyMap<number, RequestRule> = new Map<number, RequestRule>([
  [ApiKey.Produce, rule('write', produce as Rewrite)],
  [ApiKey.Fetch, rule('read', fetch as Rewrite)],
  [ApiKey.ListOffsets, rule('read', listOffsets as Rewrite)],
  [ApiKey.Metadata, rule('read', metadata as Rewrite)],
  [ApiKey.OffsetCommit, rule('read', offsetCommit as Rewrite)],
  [ApiKey.OffsetFetch, rule('read', offsetFetch as Rewrite)],
  [ApiKey.CreateTopics, rule('write', createTopics as Rewrite)],
  // By id (v6), MirrorMaker's topics can only be told by the route's id map: always read.
  [ApiKey.DeleteTopics, rule('write', deleteTopics as Rewrite, false)],
  [ApiKey.DeleteRecords, rule('write', deleteRecords as Rewrite)],
  [ApiKey.OffsetForLeaderEpoch, rule('read', offsetForLeaderEpoch as Rewrite)],
  [ApiKey.AddPartitionsToTxn, rule('write', addPartitionsToTxn as Rewrite)],
  [ApiKey.WriteTxnMarkers, rule('write', writeTxnMarkers as Rewrite)],
  [ApiKey.TxnOffsetCommit, rule('read', txnOffsetCommit as Rewrite)],
  // ACLs: a PREFIXED pattern names a protected topic by a prefix of its name: always read.
  [ApiKey.DescribeAcls, rule('read', describeAcls as Rewrite, false)],
  [ApiKey.CreateAcls, rule('write', createAcls as Rewrite, false)],
  [ApiKey.DeleteAcls, rule('write', deleteAcls as Rewrite, false)],
  [
    ApiKey.DescribeConfigs,
    rule(
      'read',
      configResources(defaultDescribeConfigsResponseDescribeConfigsResult, (r) => (r as DescribeConfigsResponse).results),
    ),
  ],
  [
    ApiKey.AlterConfigs,
    rule(
      'write',
      configResources(defaultAlterConfigsResponseAlterConfigsResourceResponse, (r) => (r as AlterConfigsResponse).responses),
    ),
  ],
  [
    ApiKey.IncrementalAlterConfigs,
    rule(
      'write',
      configResources(defaultIncrementalAlterConfigsResponseAlterConfigsResourceResponse, (r) => (r as IncrementalAlterConfigsResponse).responses),
    ),
  ],
  [ApiKey.AlterReplicaLogDirs, rule('read', alterReplicaLogDirs as Rewrite)],
  [ApiKey.DescribeLogDirs, rule('read', describeLogDirs as Rewrite)],
  [ApiKey.CreatePartitions, rule('write', createPartitions as Rewrite)],
  [ApiKey.ElectLeaders, rule('read', electLeaders as Rewrite)],
  [ApiKey.AlterPartitionReassignments, rule('read', alterPartitionReassignments as Rewrite)],
  [ApiKey.ListPartitionReassignments, rule('read', listPartitionReassignments as Rewrite)],
  [ApiKey.OffsetDelete, rule('read', offsetDelete as Rewrite)],
  [ApiKey.DescribeProducers, rule('read', describeProducers as Rewrite)],
  [ApiKey.ConsumerGroupHeartbeat, rule('read', heartbeat as Rewrite)],
  [ApiKey.DescribeTopicPartitions, rule('read', describeTopicPartitions as Rewrite)],
  [ApiKey.ShareGroupHeartbeat, rule('read', heartbeat as Rewrite)],
  [ApiKey.StreamsGroupHeartbeat, rule('read', wholeByNames(ApiKey.StreamsGroupHeartbeat))],
  [ApiKey.DescribeShareGroupOffsets, rule('read', describeShareGroupOffsets as Rewrite)],
  [ApiKey.AlterShareGroupOffsets, rule('read', alterShareGroupOffsets as Rewrite)],
  [ApiKey.DeleteShareGroupOffsets, rule('read', deleteShareGroupOffsets as Rewrite)],
]);

/**
 * Finds the refused parts of a decoded request body; null when nothing in it is refused. The
 * body is not changed (the forwarded body is a shallow copy where it differs).
 */
export function refuseTopics(apiKey: number, version: number, body: object, guard: TopicGuard): Refusal | null {
  const r = REQUEST_RULES.get(apiKey);
  if (r === undefined) return null;
  const refuse: Refuse = r.access === 'write' ? guard.isReadOnly : guard.isHidden;
  return r.rewrite(body as never, version, refuse, guard, r.access);
}

/** The gateway's own answer to a request nothing of which is forwarded: an empty answer with the refusals. */
export function refusedResponse(apiKey: number, refusal: Refusal): object {
  const body = apiCodec(apiKey)!.defaultResponse();
  refusal.fill(body);
  return body;
}

// ---- listings ------------------------------------------------------------------------------

/**
 * Responses that can list topics the request did not name (all topics, a group's offsets, log
 * dirs, elections of every partition, group descriptions, ACLs, config resources): hidden topics
 * are taken out of them.
 */
export const LISTING_RESPONSES: ReadonlySet<number> = new Set([
  ApiKey.Metadata,
  ApiKey.OffsetFetch,
  ApiKey.DescribeAcls,
  ApiKey.DescribeLogDirs,
  ApiKey.ElectLeaders,
  ApiKey.ListPartitionReassignments,
  ApiKey.DescribeTransactions,
  ApiKey.ConsumerGroupDescribe,
  ApiKey.ListConfigResources,
  ApiKey.DescribeTopicPartitions,
  ApiKey.ShareGroupDescribe,
  ApiKey.StreamsGroupDescribe,
  ApiKey.DescribeShareGroupOffsets,
]);

/**
 * Takes hidden topics out of a decoded response; true when it removed something. Topics named
 * only by id are looked up with `nameOfClusterId` (the response still carries the cluster's ids).
 */
export function hideTopics(apiKey: number, version: number, body: object, isHidden: Refuse, nameOfClusterId: (id: string) => string | undefined): boolean {
  switch (apiKey) {
    case ApiKey.Metadata: {
      // Every Metadata answer comes here: nothing is allocated unless a hidden topic is in it.
      const r = body as MetadataResponse;
      const hidden = (t: MetadataResponse['topics'][number]): boolean => isHidden(t.name ?? nameOfClusterId(t.topicId) ?? '');
      if (!r.topics.some(hidden)) return false;
      r.topics = r.topics.filter((t) => !hidden(t));
      return true;
    }
    case ApiKey.DescribeAcls: {
      const r = body as DescribeAclsResponse;
      const before = r.resources.length;
      r.resources = r.resources.filter((x) => !(x.resourceType === RESOURCE_TOPIC && isHidden(x.resourceName)));
      return r.resources.length !== before;
    }
    case ApiKey.ListConfigResources: {
      if (version < 1) return false; // v0 lists client metrics resources only
      const r = body as ListConfigResourcesResponse;
      const before = r.configResources.length;
      r.configResources = r.configResources.filter((x) => !(x.resourceType === CONFIG_RESOURCE_TOPIC && isHidden(x.resourceName)));
      return r.configResources.length !== before;
    }
    default: {
      const schema = schemaOf(apiKey, 'response');
      return schema === undefined ? false : hideIn(schema, schema.fields, version, body as Record<string, unknown>, isHidden, nameOfClusterId);
    }
  }
}

// ---- walking messages with their definitions ----------------------------------------------

type Kind = 'request' | 'response';

const SCHEMAS = new Map<string, MessageSchema>();
for (const m of Object.values(MESSAGE_SCHEMAS)) {
  if (m.apiKey !== null && (m.type === 'request' || m.type === 'response')) SCHEMAS.set(`${m.type}:${m.apiKey}`, m);
}

export function schemaOf(apiKey: number, kind: Kind): MessageSchema | undefined {
  return SCHEMAS.get(`${kind}:${apiKey}`);
}

const inVersion = (range: [number, number] | null, version: number): boolean => range !== null && version >= range[0] && version <= range[1];
const elementType = (type: string): string => (type.startsWith('[]') ? type.slice(2) : type);
export const isTopicNameField = (f: FieldSchema): boolean => f.entityType === 'topicName' && (f.type === 'string' || f.type === '[]string');
const isTopicIdField = (f: FieldSchema): boolean => f.type === 'uuid' && f.name === 'TopicId';

/** Calls `visit` with every topic name in a decoded message, at any depth. */
export function forEachTopicName(apiKey: number, kind: Kind, version: number, body: object, visit: (name: string) => void): void {
  const schema = schemaOf(apiKey, kind);
  if (schema !== undefined) visitNames(schema, schema.fields, version, body as Record<string, unknown>, visit);
}

function visitNames(schema: MessageSchema, fields: FieldSchema[], version: number, obj: Record<string, unknown>, visit: (name: string) => void): void {
  for (const f of fields) {
    if (!inVersion(f.versions, version)) continue;
    const value = obj[f.prop];
    if (value === null || value === undefined) continue;
    if (isTopicNameField(f)) {
      if (typeof value === 'string' && value !== '') visit(value);
      else if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') visit(v);
      continue;
    }
    const struct = schema.structs[elementType(f.type)];
    if (struct === undefined) continue;
    if (Array.isArray(value)) for (const item of value) visitNames(schema, struct, version, item as Record<string, unknown>, visit);
    else visitNames(schema, struct, version, value as Record<string, unknown>, visit);
  }
}

/** Removes, at any depth, list entries that name a hidden topic (or hold its id) and hidden names in lists of names. */
function hideIn(
  schema: MessageSchema,
  fields: FieldSchema[],
  version: number,
  obj: Record<string, unknown>,
  isHidden: Refuse,
  nameOfClusterId: (id: string) => string | undefined,
): boolean {
  let changed = false;
  for (const f of fields) {
    if (!inVersion(f.versions, version)) continue;
    const value = obj[f.prop];
    if (value === null || value === undefined) continue;
    if (f.type === '[]string' && isTopicNameField(f) && Array.isArray(value)) {
      const kept = (value as string[]).filter((n) => !isHidden(n));
      if (kept.length !== value.length) {
        obj[f.prop] = kept;
        changed = true;
      }
      continue;
    }
    const struct = schema.structs[elementType(f.type)];
    if (struct === undefined) continue;
    if (!Array.isArray(value)) {
      changed = hideIn(schema, struct, version, value as Record<string, unknown>, isHidden, nameOfClusterId) || changed;
      continue;
    }
    const nameField = struct.find((sf) => inVersion(sf.versions, version) && sf.entityType === 'topicName' && sf.type === 'string');
    const idField = struct.find((sf) => inVersion(sf.versions, version) && isTopicIdField(sf));
    let list = value as Record<string, unknown>[];
    if (nameField !== undefined || idField !== undefined) {
      const kept = list.filter((item) => {
        let name = nameField === undefined ? undefined : (item[nameField.prop] as string | null);
        if ((name === null || name === undefined || name === '') && idField !== undefined) name = nameOfClusterId(item[idField.prop] as string);
        return name === null || name === undefined || !isHidden(name);
      });
      if (kept.length !== list.length) {
        obj[f.prop] = kept;
        list = kept;
        changed = true;
      }
    }
    for (const item of list) changed = hideIn(schema, struct, version, item, isHidden, nameOfClusterId) || changed;
  }
  return changed;
}
