// The admin operations a planned switch and preflight need on one cluster, on Turnout's own codec
// and connections (the streaming domain's service credentials): topics and leaders, log end
// offsets, consumer groups and their committed offsets, reading a partition's records, and
// committing a group's offsets. Requests go to the broker that must answer them (partition
// leader, group coordinator); leadership changes and transient errors are retried until the
// operation's deadline, then a ClusterAdminError names the domain, the operation and the cause.
import type { BootstrapServerConfig, HostPort, StreamingDomainConfig } from '../config/types.ts';
import { formatHostPort } from '../config/endpoints.ts';
import { TurnoutError } from '../errors.ts';
import { ApiKey } from '../protocol/index.ts';
import { decodeRecordBatchesWithEnd, DEFAULT_MAX_DECOMPRESSED_BYTES, RecordBatchError, type DecodedRecord } from '../protocol/records.ts';
import type { ApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.ts';
import type { DescribeProducersResponse } from '../protocol/generated/messages/describe-producers-response.ts';
import type { DescribeGroupsResponse } from '../protocol/generated/messages/describe-groups-response.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition, defaultFetchRequestFetchTopic } from '../protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../protocol/generated/messages/fetch-response.ts';
import type { FindCoordinatorResponse } from '../protocol/generated/messages/find-coordinator-response.ts';
import type { ListGroupsResponse } from '../protocol/generated/messages/list-groups-response.ts';
import { defaultListOffsetsRequest, defaultListOffsetsRequestListOffsetsPartition, defaultListOffsetsRequestListOffsetsTopic } from '../protocol/generated/messages/list-offsets-request.ts';
import type { ListOffsetsResponse } from '../protocol/generated/messages/list-offsets-response.ts';
import { defaultMetadataRequest, defaultMetadataRequestTopic } from '../protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../protocol/generated/messages/metadata-response.ts';
import { defaultOffsetCommitRequest, defaultOffsetCommitRequestPartition, defaultOffsetCommitRequestTopic } from '../protocol/generated/messages/offset-commit-request.ts';
import type { OffsetCommitResponse } from '../protocol/generated/messages/offset-commit-response.ts';
import { defaultOffsetFetchRequest, defaultOffsetFetchRequestGroup } from '../protocol/generated/messages/offset-fetch-request.ts';
import type { OffsetFetchResponse } from '../protocol/generated/messages/offset-fetch-response.ts';
import { KafkaConnection } from '../upstream/kafka-connection.ts';
import type { ProducerSequence } from '../routing/route.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';

export class ClusterAdminError extends TurnoutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TURNOUT_CLUSTER_ADMIN', message, options);
  }
}

/**
 * Records of a partition that Turnout cannot read (a corrupt batch, a codec Kafka does not define,
 * a batch that decompresses past the limit): which domain, partition and batch, and why. Not
 * retried: the same bytes come back on the next Fetch.
 */
export class UnreadableRecordsError extends TurnoutError {
  readonly domain: string;
  readonly topic: string;
  readonly partition: number;
  /** Base offset of the batch that could not be read. */
  readonly offset: bigint;
  /** "gzip", "snappy", "lz4", "zstd", "none", "codec 5", or "unknown" when the header is unreadable. */
  readonly codec: string;
  /** What is wrong with the batch ("is corrupt: ...", "cannot be decompressed: ...", ...). */
  readonly reason: string;
  constructor(domain: string, topic: string, partition: number, err: RecordBatchError) {
    super('TURNOUT_UNREADABLE_RECORDS', `streaming domain "${domain}": cannot read ${topic}-${partition}: ${err.message}`, { cause: err });
    this.domain = domain;
    this.topic = topic;
    this.partition = partition;
    this.offset = err.baseOffset;
    this.codec = err.codec;
    this.reason = err.reason;
  }
}

/** "topic:partition" (topic names cannot contain ':'). */
export type PartitionKey = string;
export const partitionKey = (topic: string, partition: number): PartitionKey => `${topic}:${partition}`;
export function splitKey(key: PartitionKey): { topic: string; partition: number } {
  const i = key.lastIndexOf(':');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

export interface TopicInfo {
  name: string;
  internal: boolean;
  /** Partition index -> leader node id (-1: none). */
  leaders: Map<number, number>;
}

export interface GroupListing {
  groupId: string;
  state: string;
  protocolType: string;
}

// Version ceilings: the last versions that name topics (later ones use topic ids, which differ
// between clusters) and that the generated codec has; the floor is what Kafka 4 still accepts.
const CEILING: Record<number, number> = {
  [ApiKey.Metadata]: 12,
  [ApiKey.ListOffsets]: 7,
  [ApiKey.Fetch]: 12,
  [ApiKey.FindCoordinator]: 4,
  [ApiKey.OffsetFetch]: 8,
  [ApiKey.OffsetCommit]: 8,
  [ApiKey.ListGroups]: 4,
  [ApiKey.DescribeGroups]: 5,
  [ApiKey.DescribeProducers]: 0,
};
const FLOOR: Record<number, number> = {
  [ApiKey.Metadata]: 4,
  [ApiKey.ListOffsets]: 1,
  [ApiKey.Fetch]: 4,
  [ApiKey.FindCoordinator]: 4,
  [ApiKey.OffsetFetch]: 8,
  [ApiKey.OffsetCommit]: 2,
  [ApiKey.ListGroups]: 0,
  [ApiKey.DescribeGroups]: 0,
  [ApiKey.DescribeProducers]: 0,
};

const RETRIABLE = new Set([3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 56, 74, 75, 78, 89, 100]);
const ERROR_NAMES: Record<number, string> = {
  1: 'OFFSET_OUT_OF_RANGE', 3: 'UNKNOWN_TOPIC_OR_PARTITION', 5: 'LEADER_NOT_AVAILABLE', 6: 'NOT_LEADER_OR_FOLLOWER', 7: 'REQUEST_TIMED_OUT',
  14: 'COORDINATOR_LOAD_IN_PROGRESS', 15: 'COORDINATOR_NOT_AVAILABLE', 16: 'NOT_COORDINATOR', 22: 'ILLEGAL_GENERATION', 25: 'UNKNOWN_MEMBER_ID',
  27: 'REBALANCE_IN_PROGRESS', 29: 'TOPIC_AUTHORIZATION_FAILED', 30: 'GROUP_AUTHORIZATION_FAILED', 31: 'CLUSTER_AUTHORIZATION_FAILED', 69: 'GROUP_ID_NOT_FOUND',
};
export const kafkaErrorName = (code: number): string => `${ERROR_NAMES[code] ?? 'error'} (${code})`;

class Retry extends Error {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

interface Link {
  conn: KafkaConnection;
  versions: Map<number, number>;
}

export class ClusterAdmin {
  readonly domain: StreamingDomainConfig;
  readonly listener: BootstrapServerConfig;
  private readonly timeoutMs: number;
  private readonly links = new Map<string, Promise<Link>>();
  private brokers = new Map<number, HostPort>();
  private closed = false;

  /** The most bytes the compressed batches of one Fetch may decompress to (see DecodeOptions). */
  private readonly maxDecompressedBytes: number;

  constructor(domain: StreamingDomainConfig, listener: BootstrapServerConfig, timeoutMs: number, opts: { maxDecompressedBytes?: number } = {}) {
    this.domain = domain;
    this.listener = listener;
    this.timeoutMs = timeoutMs;
    this.maxDecompressedBytes = opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
    if (listener.security.protocol !== 'PLAINTEXT' && listener.security.sasl === null) {
      throw new ClusterAdminError(`streaming domain "${domain.name}": listener "${listener.id}" uses SASL but has no service credentials; switchover work needs them (security.sasl)`);
    }
  }

  close(): void {
    this.closed = true;
    for (const p of this.links.values()) p.then((l) => l.conn.close(), () => {});
    this.links.clear();
  }

  // ---- plumbing ----

  private link(address: HostPort): Promise<Link> {
    const key = formatHostPort(address);
    let p = this.links.get(key);
    if (p === undefined) {
      p = (async () => {
        const conn = await KafkaConnection.open(address, this.listener.security, { clientId: 'turnout-switchover', connectTimeoutMs: this.timeoutMs, requestTimeoutMs: this.timeoutMs });
        const res = await conn.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, { clientSoftwareName: 'turnout', clientSoftwareVersion: '0' });
        const versions = new Map<number, number>();
        for (const k of res.apiKeys) {
          const ceiling = CEILING[k.apiKey];
          if (ceiling === undefined) continue;
          const v = Math.min(ceiling, k.maxVersion);
          if (v >= Math.max(k.minVersion, FLOOR[k.apiKey] ?? 0)) versions.set(k.apiKey, v);
        }
        return { conn, versions };
      })();
      p.catch(() => this.links.delete(key));
      this.links.set(key, p);
    }
    return p;
  }

  private async call<T extends object>(address: HostPort, apiKey: number, body: (version: number) => object): Promise<T> {
    if (this.closed) throw new ClusterAdminError(`streaming domain "${this.domain.name}": closed`);
    const l = await this.link(address);
    const v = l.versions.get(apiKey);
    if (v === undefined) throw new ClusterAdminError(`${formatHostPort(address)} (streaming domain "${this.domain.name}") does not support a usable version of api key ${apiKey}`);
    try {
      return await l.conn.request<T>(apiKey, v, body(v));
    } catch (err) {
      this.links.delete(formatHostPort(address));
      l.conn.close();
      throw err;
    }
  }

  /**
   * Runs `fn` until it returns, retrying Retry and (unless `unreachableIsFinal`) connection
   * failures until the deadline.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>, timeoutMs = this.timeoutMs, unreachableIsFinal = false): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        last = err;
        const retriable = err instanceof Retry || (!unreachableIsFinal && err instanceof UpstreamError && err.code !== UpstreamErrorCode.AuthenticationFailed);
        if (!retriable || Date.now() + 100 > deadline) break;
        if (err instanceof Retry) this.brokers.clear();
        await sleep(Math.min(50 * 2 ** attempt, 500));
      }
    }
    throw new ClusterAdminError(`streaming domain "${this.domain.name}": ${what} failed: ${(last as Error).message}`, { cause: last });
  }

  private async anyBroker(): Promise<HostPort> {
    if (this.brokers.size > 0) return [...this.brokers.values()][Math.floor(Math.random() * this.brokers.size)];
    const failures: string[] = [];
    for (const ep of this.listener.endpoints) {
      try {
        await this.link(ep);
        return ep;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    throw new UpstreamError(UpstreamErrorCode.Closed, `no bootstrap server answered (${failures.join('; ')})`);
  }

  private async leaderOf(topic: string, partition: number): Promise<HostPort> {
    const info = await this.topics([topic]);
    const leader = info.get(topic)?.leaders.get(partition) ?? -1;
    const address = this.brokers.get(leader);
    if (address === undefined) throw new Retry(`no leader known for ${topic}-${partition}`);
    return address;
  }

  // ---- topics and offsets ----

  /** Topics (all when `names` is null) with their partitions' leaders; missing topics are left out. */
  async topics(names: string[] | null): Promise<Map<string, TopicInfo>> {
    return this.retrying('Metadata', async () => {
      const res = await this.call<MetadataResponse>(await this.anyBroker(), ApiKey.Metadata, () => ({
        ...defaultMetadataRequest(),
        topics: names === null ? null : names.map((n) => ({ ...defaultMetadataRequestTopic(), name: n })),
        allowAutoTopicCreation: false,
      }));
      this.brokers = new Map(res.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
      const out = new Map<string, TopicInfo>();
      for (const t of res.topics) {
        if (t.name === null) continue;
        if (t.errorCode === 3) continue;
        if (t.errorCode !== 0) throw (RETRIABLE.has(t.errorCode) ? new Retry(`topic ${t.name}: ${kafkaErrorName(t.errorCode)}`) : new ClusterAdminError(`topic ${t.name}: ${kafkaErrorName(t.errorCode)}`));
        out.set(t.name, { name: t.name, internal: t.isInternal, leaders: new Map(t.partitions.map((p) => [p.partitionIndex, p.leaderId])) });
      }
      return out;
    });
  }

  /**
   * The partitions of `keys` grouped by their leader's address, then by topic. A missing topic or
   * partition throws when `mustExist`, else it is left out; a partition without a leader is retried.
   */
  private async partitionsByLeader(keys: readonly PartitionKey[], mustExist: boolean): Promise<Map<HostPort, Map<string, number[]>>> {
    const byTopic = new Map<string, number[]>();
    for (const k of keys) {
      const { topic, partition } = splitKey(k);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    const info = await this.topics([...byTopic.keys()]);
    const byLeader = new Map<number, Map<string, number[]>>();
    for (const [topic, partitions] of byTopic) {
      const t = info.get(topic);
      if (t === undefined) {
        if (mustExist) throw new ClusterAdminError(`topic ${topic} does not exist`);
        continue;
      }
      for (const p of partitions) {
        const leader = t.leaders.get(p);
        if (leader === undefined) {
          if (mustExist) throw new ClusterAdminError(`topic ${topic} has no partition ${p}`);
          continue;
        }
        if (leader < 0) throw new Retry(`${topic}-${p} has no leader`);
        const m = byLeader.get(leader) ?? new Map<string, number[]>();
        m.set(topic, [...(m.get(topic) ?? []), p]);
        byLeader.set(leader, m);
      }
    }
    const out = new Map<HostPort, Map<string, number[]>>();
    for (const [leader, topics] of byLeader) {
      const address = this.brokers.get(leader);
      if (address === undefined) throw new Retry(`broker ${leader} not in metadata`);
      out.set(address, topics);
    }
    return out;
  }

  /**
   * Where idempotent producer `producerId` stands on each partition (DescribeProducers, asked of
   * the partitions' leaders): its epoch and the last sequence number the partition holds from it,
   * or null where the partition has no state for it. Partitions that are missing or answer an
   * error are left out. For the data path, which waits for it: a cluster that cannot be reached
   * fails it at once instead of being retried (after a disaster switch the old one is down).
   */
  async producerStates(producerId: bigint, keys: Iterable<PartitionKey>, timeoutMs = this.timeoutMs): Promise<Map<PartitionKey, ProducerSequence | null>> {
    const wanted = [...keys];
    return this.retrying('DescribeProducers', async () => {
      const byLeader = await this.partitionsByLeader(wanted, false);
      const out = new Map<PartitionKey, ProducerSequence | null>();
      await Promise.all([...byLeader].map(async ([address, topics]) => {
        const res = await this.call<DescribeProducersResponse>(address, ApiKey.DescribeProducers, () => ({
          topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        }));
        for (const t of res.topics) {
          for (const p of t.partitions) {
            if (p.errorCode !== 0) {
              if (RETRIABLE.has(p.errorCode)) throw new Retry(`${t.name}-${p.partitionIndex}: ${kafkaErrorName(p.errorCode)}`);
              continue;
            }
            const state = p.activeProducers.find((a) => a.producerId === producerId);
            out.set(partitionKey(t.name, p.partitionIndex), state === undefined ? null : { epoch: state.producerEpoch, lastSequence: state.lastSequence });
          }
        }
      }));
      return out;
    }, timeoutMs, true);
  }

  /** Log end offsets (what the next record would get) of the given partitions. */
  endOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return this.offsetsAt(keys, -1n);
  }

  /** Log start offsets (the first record retention or DeleteRecords left). */
  startOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return this.offsetsAt(keys, -2n);
  }

  /** Last stable offsets: where a read_committed reader stops (before the first open transaction). */
  stableOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return this.offsetsAt(keys, -1n, 1);
  }

  private async offsetsAt(keys: Iterable<PartitionKey>, timestamp: bigint, isolationLevel = 0): Promise<Map<PartitionKey, bigint>> {
    const wanted = [...keys];
    return this.retrying('ListOffsets', async () => {
      const byLeader = await this.partitionsByLeader(wanted, true);
      const out = new Map<PartitionKey, bigint>();
      await Promise.all([...byLeader].map(async ([address, topics]) => {
        const res = await this.call<ListOffsetsResponse>(address, ApiKey.ListOffsets, () => ({
          ...defaultListOffsetsRequest(),
          replicaId: -1,
          isolationLevel,
          topics: [...topics].map(([name, parts]) => ({ ...defaultListOffsetsRequestListOffsetsTopic(), name, partitions: parts.map((p) => ({ ...defaultListOffsetsRequestListOffsetsPartition(), partitionIndex: p, timestamp })) })),
        }));
        for (const t of res.topics) {
          for (const p of t.partitions) {
            if (p.errorCode !== 0) throw (RETRIABLE.has(p.errorCode) ? new Retry(`${t.name}-${p.partitionIndex}: ${kafkaErrorName(p.errorCode)}`) : new ClusterAdminError(`${t.name}-${p.partitionIndex}: ${kafkaErrorName(p.errorCode)}`));
            out.set(partitionKey(t.name, p.partitionIndex), p.offset);
          }
        }
      }));
      return out;
    });
  }

  /**
   * Data records of a partition from `from` (inclusive) up to `to` (exclusive), reading as many
   * Fetches as needed. Control records are skipped; compressed batches are decompressed (gzip,
   * snappy, lz4, zstd), each Fetch's within the maxDecompressedBytes budget. A batch that cannot
   * be read throws UnreadableRecordsError naming the partition, the batch's offset and why.
   * With `readCommitted`, reads as a read_committed consumer: up to the last stable offset, and
   * without the records of aborted transactions.
   */
  async readRecords(topic: string, partition: number, from: bigint, to: bigint, maxBytes = 4 * 1024 * 1024, opts: { readCommitted?: boolean } = {}): Promise<DecodedRecord[]> {
    const out: DecodedRecord[] = [];
    await this.eachRecords(topic, partition, from, to, (rs) => {
      for (const r of rs) out.push(r);
    }, { maxBytes, ...opts });
    return out;
  }

  /**
   * As readRecords, but hands each Fetch's records to `each` instead of collecting them, so that
   * a long partition is read in constant memory. `maxDecompressedBytes` overrides this admin's
   * limit per Fetch; past `deadline` (ms since the epoch) it throws before the next Fetch.
   */
  async eachRecords(topic: string, partition: number, from: bigint, to: bigint, each: (records: DecodedRecord[]) => void,
    opts: { readCommitted?: boolean; maxBytes?: number; maxDecompressedBytes?: number; deadline?: number | null } = {}): Promise<void> {
    const isolationLevel = opts.readCommitted === true ? 1 : 0;
    const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    const maxDecompressedBytes = opts.maxDecompressedBytes ?? this.maxDecompressedBytes;
    const first = from < 0n ? 0n : from;
    let offset = first;
    while (offset < to) {
      if (opts.deadline !== undefined && opts.deadline !== null && Date.now() > opts.deadline) {
        throw new ClusterAdminError(`streaming domain "${this.domain.name}": reading ${topic}-${partition} stopped at its deadline (${offset - first} of ${to - first} offsets read)`);
      }
      const fetched = await this.retrying(`Fetch ${topic}-${partition}`, async (): Promise<{ records: Uint8Array; aborted: { producerId: bigint; firstOffset: bigint }[] | null } | { skipTo: bigint }> => {
        const res = await this.call<FetchResponse>(await this.leaderOf(topic, partition), ApiKey.Fetch, () => ({
          ...defaultFetchRequest(),
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes,
          isolationLevel,
          topics: [{ ...defaultFetchRequestFetchTopic(), topic, partitions: [{ ...defaultFetchRequestFetchPartition(), partition, fetchOffset: offset, partitionMaxBytes: maxBytes }] }],
        }));
        if (res.errorCode !== 0) throw new Retry(`Fetch: ${kafkaErrorName(res.errorCode)}`);
        const p = res.responses[0]?.partitions[0];
        if (p === undefined) throw new Retry('Fetch answer without the partition');
        if (p.errorCode === 1) {
          // Before the log start (retention, DeleteRecords): continue from there; past the end: done.
          const start = (await this.startOffsets([partitionKey(topic, partition)])).get(partitionKey(topic, partition)) ?? to;
          return { skipTo: start > offset ? start : to };
        }
        if (p.errorCode !== 0) throw (RETRIABLE.has(p.errorCode) ? new Retry(`Fetch: ${kafkaErrorName(p.errorCode)}`) : new ClusterAdminError(`Fetch ${topic}-${partition}: ${kafkaErrorName(p.errorCode)}`));
        return { records: p.records ?? new Uint8Array(0), aborted: p.abortedTransactions };
      });
      let end: bigint;
      if ('skipTo' in fetched) end = fetched.skipTo;
      else {
        let decoded;
        try {
          decoded = decodeRecordBatchesWithEnd(fetched.records, { maxDecompressedBytes, ...(isolationLevel === 1 ? { abortedTransactions: fetched.aborted ?? [] } : {}) });
        } catch (err) {
          if (err instanceof RecordBatchError) throw new UnreadableRecordsError(this.domain.name, topic, partition, err);
          throw err;
        }
        each(decoded.records.filter((r) => r.offset >= offset && r.offset < to));
        end = decoded.endOffset ?? to;
      }
      if (end <= offset) break;
      offset = end;
    }
  }

  // ---- consumer groups ----

  /** Every group on every broker (ListGroups is answered per coordinator). */
  async groups(): Promise<GroupListing[]> {
    await this.topics([]);
    const brokers = [...this.brokers.values()];
    const all = await Promise.all(brokers.map((b) => this.retrying(`ListGroups at ${formatHostPort(b)}`, async () => {
      const res = await this.call<ListGroupsResponse>(b, ApiKey.ListGroups, () => ({ statesFilter: [], typesFilter: [] }));
      if (res.errorCode !== 0) throw (RETRIABLE.has(res.errorCode) ? new Retry(kafkaErrorName(res.errorCode)) : new ClusterAdminError(`ListGroups: ${kafkaErrorName(res.errorCode)}`));
      return res.groups.map((g) => ({ groupId: g.groupId, state: g.groupState, protocolType: g.protocolType }));
    })));
    const seen = new Map<string, GroupListing>();
    for (const list of all) for (const g of list) seen.set(g.groupId, g);
    return [...seen.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  private async coordinator(groupId: string): Promise<HostPort> {
    const res = await this.call<FindCoordinatorResponse>(await this.anyBroker(), ApiKey.FindCoordinator, () => ({ key: '', keyType: 0, coordinatorKeys: [groupId] }));
    const c = res.coordinators[0];
    if (c === undefined || c.errorCode !== 0) throw new Retry(`FindCoordinator: ${kafkaErrorName(c?.errorCode ?? -1)}`);
    return { host: c.host, port: c.port };
  }

  /** The group's committed offsets (all partitions it has any for). */
  async groupOffsets(groupId: string): Promise<Map<PartitionKey, bigint>> {
    return this.retrying(`OffsetFetch for group ${groupId}`, async () => {
      const res = await this.call<OffsetFetchResponse>(await this.coordinator(groupId), ApiKey.OffsetFetch, () => ({
        ...defaultOffsetFetchRequest(),
        groups: [{ ...defaultOffsetFetchRequestGroup(), groupId, topics: null }],
        requireStable: true,
      }));
      const g = res.groups[0];
      if (g === undefined) throw new Retry('OffsetFetch answer without the group');
      if (g.errorCode !== 0) throw (RETRIABLE.has(g.errorCode) ? new Retry(kafkaErrorName(g.errorCode)) : new ClusterAdminError(`OffsetFetch for group ${groupId}: ${kafkaErrorName(g.errorCode)}`));
      const out = new Map<PartitionKey, bigint>();
      for (const t of g.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === 0 && p.committedOffset >= 0n) out.set(partitionKey(t.name, p.partitionIndex), p.committedOffset);
        }
      }
      return out;
    });
  }

  /** The group's state and member count on this cluster ("Dead" when it does not exist). */
  async describeGroup(groupId: string): Promise<{ state: string; members: number }> {
    return this.retrying(`DescribeGroups ${groupId}`, async () => {
      const res = await this.call<DescribeGroupsResponse>(await this.coordinator(groupId), ApiKey.DescribeGroups, () => ({ groups: [groupId], includeAuthorizedOperations: false }));
      const g = res.groups[0];
      if (g === undefined) throw new Retry('DescribeGroups answer without the group');
      if (g.errorCode !== 0) throw (RETRIABLE.has(g.errorCode) ? new Retry(kafkaErrorName(g.errorCode)) : new ClusterAdminError(`DescribeGroups ${groupId}: ${kafkaErrorName(g.errorCode)}`));
      return { state: g.groupState, members: g.members.length };
    });
  }

  /**
   * Commits offsets for a group that has no active members here (a "simple" commit, as
   * kafka-consumer-groups --reset-offsets does). Returns the partitions the broker refused, with why.
   */
  async commitOffsets(groupId: string, offsets: Map<PartitionKey, bigint>): Promise<Map<PartitionKey, string>> {
    const byTopic = new Map<string, { partitionIndex: number; committedOffset: bigint }[]>();
    for (const [k, o] of offsets) {
      const { topic, partition } = splitKey(k);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partitionIndex: partition, committedOffset: o }]);
    }
    return this.retrying(`OffsetCommit for group ${groupId}`, async () => {
      const res = await this.call<OffsetCommitResponse>(await this.coordinator(groupId), ApiKey.OffsetCommit, () => ({
        ...defaultOffsetCommitRequest(),
        groupId,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [...byTopic].map(([name, parts]) => ({
          ...defaultOffsetCommitRequestTopic(),
          name,
          partitions: parts.map((p) => ({ ...defaultOffsetCommitRequestPartition(), partitionIndex: p.partitionIndex, committedOffset: p.committedOffset, committedLeaderEpoch: -1, committedMetadata: 'turnout switchover' })),
        })),
      }));
      const refused = new Map<PartitionKey, string>();
      for (const t of res.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === 0) continue;
          if (p.errorCode === 14 || p.errorCode === 15 || p.errorCode === 16) throw new Retry(kafkaErrorName(p.errorCode));
          refused.set(partitionKey(t.name, p.partitionIndex), kafkaErrorName(p.errorCode));
        }
      }
      return refused;
    });
  }
}
