// The admin operations a planned switch and preflight need on one cluster, on Turnout's own codec
// and connections (the streaming domain's service credentials): topics and leaders, log end
// offsets, consumer groups and their committed offsets, reading a partition's records, and
// committing a group's offsets. Requests go to the broker that must answer them (partition
// leader, group coordinator); leadership changes and transient errors are retried until the
// operation's deadline, then a ClusterAdminError names the domain, the operation and the cause.
// Work over many partitions or groups is batched per broker (one ListOffsets or Fetch per leader,
// one FindCoordinator and one OffsetFetch per coordinator for many groups), so its cost does not
// grow by a request per partition (issue 25).

import { formatHostPort } from '../config/endpoints.ts';
import type { BootstrapServerConfig, HostPort, StreamingDomainConfig } from '../config/types.ts';
import type { ApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.ts';
import type { DescribeGroupsResponse } from '../protocol/generated/messages/describe-groups-response.ts';
import type { DescribeProducersResponse } from '../protocol/generated/messages/describe-producers-response.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition, defaultFetchRequestFetchTopic } from '../protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../protocol/generated/messages/fetch-response.ts';
import type { FindCoordinatorResponse } from '../protocol/generated/messages/find-coordinator-response.ts';
import type { ListGroupsResponse } from '../protocol/generated/messages/list-groups-response.ts';
import {
  defaultListOffsetsRequest,
  defaultListOffsetsRequestListOffsetsPartition,
  defaultListOffsetsRequestListOffsetsTopic,
} from '../protocol/generated/messages/list-offsets-request.ts';
import type { ListOffsetsResponse } from '../protocol/generated/messages/list-offsets-response.ts';
import { defaultMetadataRequest, defaultMetadataRequestTopic } from '../protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../protocol/generated/messages/metadata-response.ts';
import {
  defaultOffsetCommitRequest,
  defaultOffsetCommitRequestPartition,
  defaultOffsetCommitRequestTopic,
} from '../protocol/generated/messages/offset-commit-request.ts';
import type { OffsetCommitResponse } from '../protocol/generated/messages/offset-commit-response.ts';
import { defaultOffsetFetchRequest, defaultOffsetFetchRequestGroup } from '../protocol/generated/messages/offset-fetch-request.ts';
import type { OffsetFetchResponse } from '../protocol/generated/messages/offset-fetch-response.ts';
import { ApiKey, isRetriableKafkaError, KafkaErrorCode, kafkaErrorName } from '../protocol/index.ts';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, type DecodedRecord } from '../protocol/records.ts';
import type { ProducerSequence } from '../routing/route.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { KafkaConnection } from '../upstream/kafka-connection.ts';
import { ClusterAdminError, type PartitionKey, partitionKey, splitKey } from './cluster-admin-errors.ts';
import { type FetchIO, type FetchPlan, type RangesRead, ReadDeadlineError, type ReadRange, type ReadRangesOptions, readRanges } from './partition-reader.ts';

export { ClusterAdminError, type PartitionKey, partitionKey, splitKey, UnreadableRecordsError } from './cluster-admin-errors.ts';

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

/** Groups named in one FindCoordinator or OffsetFetch request at most. */
export const MAX_GROUPS_PER_REQUEST = 100;

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
  /** Group id -> its coordinator, as FindCoordinator last said (dropped when the coordinator fails a request). */
  private readonly coordinatorCache = new Map<string, HostPort>();
  private closed = false;

  /** The most bytes the compressed batches of one Fetch may decompress to (see DecodeOptions). */
  private readonly maxDecompressedBytes: number;

  constructor(domain: StreamingDomainConfig, listener: BootstrapServerConfig, timeoutMs: number, opts: { maxDecompressedBytes?: number } = {}) {
    this.domain = domain;
    this.listener = listener;
    this.timeoutMs = timeoutMs;
    this.maxDecompressedBytes = opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
    if (listener.security.protocol !== 'PLAINTEXT' && listener.security.sasl === null) {
      throw new ClusterAdminError(
        `streaming domain "${domain.name}": listener "${listener.id}" uses SASL but has no service credentials; switchover work needs them (security.sasl)`,
      );
    }
  }

  close(): void {
    this.closed = true;
    for (const p of this.links.values())
      p.then(
        (l) => l.conn.close(),
        () => {},
      );
    this.links.clear();
  }

  // ---- plumbing ----

  private link(address: HostPort): Promise<Link> {
    const key = formatHostPort(address);
    let p = this.links.get(key);
    if (p === undefined) {
      p = (async () => {
        const conn = await KafkaConnection.open(address, this.listener.security, {
          clientId: 'turnout-switchover',
          connectTimeoutMs: this.timeoutMs,
          requestTimeoutMs: this.timeoutMs,
        });
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
    if (v === undefined)
      throw new ClusterAdminError(`${formatHostPort(address)} (streaming domain "${this.domain.name}") does not support a usable version of api key ${apiKey}`);
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
        if (t.errorCode === KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION) continue;
        if (t.errorCode !== 0)
          throw isRetriableKafkaError(t.errorCode)
            ? new Retry(`topic ${t.name}: ${kafkaErrorName(t.errorCode)}`)
            : new ClusterAdminError(`topic ${t.name}: ${kafkaErrorName(t.errorCode)}`);
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
    return this.retrying(
      'DescribeProducers',
      async () => {
        const byLeader = await this.partitionsByLeader(wanted, false);
        const out = new Map<PartitionKey, ProducerSequence | null>();
        await Promise.all(
          [...byLeader].map(async ([address, topics]) => {
            const res = await this.call<DescribeProducersResponse>(address, ApiKey.DescribeProducers, () => ({
              topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
            }));
            for (const t of res.topics) {
              for (const p of t.partitions) {
                if (p.errorCode !== 0) {
                  if (isRetriableKafkaError(p.errorCode)) throw new Retry(`${t.name}-${p.partitionIndex}: ${kafkaErrorName(p.errorCode)}`);
                  continue;
                }
                const state = p.activeProducers.find((a) => a.producerId === producerId);
                out.set(partitionKey(t.name, p.partitionIndex), state === undefined ? null : { epoch: state.producerEpoch, lastSequence: state.lastSequence });
              }
            }
          }),
        );
        return out;
      },
      timeoutMs,
      true,
    );
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
      await Promise.all(
        [...byLeader].map(async ([address, topics]) => {
          const res = await this.call<ListOffsetsResponse>(address, ApiKey.ListOffsets, () => ({
            ...defaultListOffsetsRequest(),
            replicaId: -1,
            isolationLevel,
            topics: [...topics].map(([name, parts]) => ({
              ...defaultListOffsetsRequestListOffsetsTopic(),
              name,
              partitions: parts.map((p) => ({ ...defaultListOffsetsRequestListOffsetsPartition(), partitionIndex: p, timestamp })),
            })),
          }));
          for (const t of res.topics) {
            for (const p of t.partitions) {
              if (p.errorCode !== 0)
                throw isRetriableKafkaError(p.errorCode)
                  ? new Retry(`${t.name}-${p.partitionIndex}: ${kafkaErrorName(p.errorCode)}`)
                  : new ClusterAdminError(`${t.name}-${p.partitionIndex}: ${kafkaErrorName(p.errorCode)}`);
              out.set(partitionKey(t.name, p.partitionIndex), p.offset);
            }
          }
        }),
      );
      return out;
    });
  }

  /**
   * Data records of many partitions, each from its `from` (inclusive) up to its `to` (exclusive):
   * one Fetch per leader broker for up to MAX_PARTITIONS_PER_FETCH partitions, again only for
   * partitions not completely returned (partition-reader.ts). Control records are skipped;
   * compressed batches are decompressed (gzip, snappy, lz4, zstd), each Fetch answer's within the
   * maxDecompressedBytes budget. A partition with a batch that cannot be read is returned in
   * `unreadable` (UnreadableRecordsError: partition, batch offset, why); the others are read.
   * With `readCommitted`, reads as a read_committed consumer: up to the last stable offset, and
   * without the records of aborted transactions.
   */
  readRanges(ranges: readonly ReadRange[], opts: ReadRangesOptions = {}): Promise<RangesRead> {
    return readRanges(this.fetchIO, ranges, opts);
  }

  private get fetchIO(): FetchIO {
    return {
      domainName: this.domain.name,
      maxDecompressedBytes: this.maxDecompressedBytes,
      timeoutMs: this.timeoutMs,
      leaders: (keys) => this.leadersOf(keys),
      fetch: (address, plan: FetchPlan) =>
        this.call<FetchResponse>(address, ApiKey.Fetch, () => ({
          ...defaultFetchRequest(),
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: plan.maxBytes,
          isolationLevel: plan.isolationLevel,
          topics: plan.topics.map((t) => ({
            ...defaultFetchRequestFetchTopic(),
            topic: t.topic,
            partitions: t.partitions.map((p) => ({ ...defaultFetchRequestFetchPartition(), ...p })),
          })),
        })),
      startOffsets: (keys) => this.startOffsets(keys),
    };
  }

  /** Leader address per partition (one Metadata request); partitions without a known leader are left out. */
  private async leadersOf(keys: readonly PartitionKey[]): Promise<Map<PartitionKey, HostPort>> {
    const topics = [...new Set(keys.map((k) => splitKey(k).topic))];
    const info = await this.topics(topics);
    const out = new Map<PartitionKey, HostPort>();
    for (const k of keys) {
      const { topic, partition } = splitKey(k);
      const address = this.brokers.get(info.get(topic)?.leaders.get(partition) ?? -1);
      if (address !== undefined) out.set(k, address);
    }
    return out;
  }

  /**
   * Data records of one partition from `from` (inclusive) up to `to` (exclusive); readRanges for
   * one range. A batch that cannot be read throws UnreadableRecordsError.
   */
  async readRecords(
    topic: string,
    partition: number,
    from: bigint,
    to: bigint,
    maxBytes = 4 * 1024 * 1024,
    opts: { readCommitted?: boolean } = {},
  ): Promise<DecodedRecord[]> {
    const out: DecodedRecord[] = [];
    await this.eachRecords(
      topic,
      partition,
      from,
      to,
      (rs) => {
        for (const r of rs) out.push(r);
      },
      { maxBytes, ...opts },
    );
    return out;
  }

  /**
   * As readRecords, but hands each Fetch's records to `each` instead of collecting them, so that
   * a long partition is read in constant memory. `maxDecompressedBytes` overrides this admin's
   * limit per Fetch; past `deadline` (ms since the epoch) it throws before the next Fetch.
   */
  async eachRecords(
    topic: string,
    partition: number,
    from: bigint,
    to: bigint,
    each: (records: DecodedRecord[]) => void,
    opts: { readCommitted?: boolean; maxBytes?: number; maxDecompressedBytes?: number; deadline?: number | null } = {},
  ): Promise<void> {
    const key = partitionKey(topic, partition);
    const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    try {
      const r = await this.readRanges([{ key, from, to }], {
        readCommitted: opts.readCommitted,
        maxBytes,
        partitionMaxBytes: maxBytes,
        maxDecompressedBytes: opts.maxDecompressedBytes,
        deadline: opts.deadline,
        each: (_, rs) => each(rs),
      });
      const bad = r.unreadable.get(key);
      if (bad !== undefined) throw bad;
    } catch (err) {
      if (err instanceof ReadDeadlineError)
        throw new ClusterAdminError(`streaming domain "${this.domain.name}": reading ${topic}-${partition} stopped at its deadline`, { cause: err });
      throw err;
    }
  }

  // ---- consumer groups ----

  /** Every group on every broker (ListGroups is answered per coordinator). */
  async groups(): Promise<GroupListing[]> {
    await this.topics([]);
    const brokers = [...this.brokers.values()];
    const all = await Promise.all(
      brokers.map((b) =>
        this.retrying(`ListGroups at ${formatHostPort(b)}`, async () => {
          const res = await this.call<ListGroupsResponse>(b, ApiKey.ListGroups, () => ({ statesFilter: [], typesFilter: [] }));
          if (res.errorCode !== 0)
            throw isRetriableKafkaError(res.errorCode)
              ? new Retry(kafkaErrorName(res.errorCode))
              : new ClusterAdminError(`ListGroups: ${kafkaErrorName(res.errorCode)}`);
          return res.groups.map((g) => ({ groupId: g.groupId, state: g.groupState, protocolType: g.protocolType }));
        }),
      ),
    );
    const seen = new Map<string, GroupListing>();
    for (const list of all) for (const g of list) seen.set(g.groupId, g);
    return [...seen.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  /**
   * The coordinator of each group, asked with FindCoordinator v4 for up to MAX_GROUPS_PER_REQUEST
   * groups at a time and remembered (a group whose coordinator refuses or cannot be reached is
   * asked again: see withCoordinator). Groups whose coordinator is not found by the deadline throw.
   */
  async coordinators(groupIds: readonly string[]): Promise<Map<string, HostPort>> {
    const missing = [...new Set(groupIds)].filter((g) => !this.coordinatorCache.has(g));
    const chunks: string[][] = [];
    for (let i = 0; i < missing.length; i += MAX_GROUPS_PER_REQUEST) chunks.push(missing.slice(i, i + MAX_GROUPS_PER_REQUEST));
    await Promise.all(
      chunks.map((chunk) =>
        this.retrying(`FindCoordinator for ${chunk.length === 1 ? `group ${chunk[0]}` : `${chunk.length} groups`}`, async () => {
          const wanted = chunk.filter((g) => !this.coordinatorCache.has(g));
          if (wanted.length === 0) return;
          const res = await this.call<FindCoordinatorResponse>(await this.anyBroker(), ApiKey.FindCoordinator, () => ({
            key: '',
            keyType: 0,
            coordinatorKeys: wanted,
          }));
          for (const c of res.coordinators) if (c.errorCode === 0) this.coordinatorCache.set(c.key, { host: c.host, port: c.port });
          const failed = wanted.filter((g) => !this.coordinatorCache.has(g));
          if (failed.length > 0) {
            const c = res.coordinators.find((x) => x.key === failed[0]);
            throw new Retry(
              `FindCoordinator for group ${failed[0]}${failed.length > 1 ? ` and ${failed.length - 1} more` : ''}: ${kafkaErrorName(c?.errorCode ?? -1)}`,
            );
          }
        }),
      ),
    );
    const out = new Map<string, HostPort>();
    for (const g of groupIds) {
      const c = this.coordinatorCache.get(g);
      if (c !== undefined) out.set(g, c);
    }
    return out;
  }

  private async coordinator(groupId: string): Promise<HostPort> {
    const c = (await this.coordinators([groupId])).get(groupId);
    if (c === undefined) throw new Retry(`no coordinator found for group ${groupId}`);
    return c;
  }

  /** Runs `fn` with the group's coordinator; when it fails, the coordinator is looked up again next time. */
  private async withCoordinator<T>(groupId: string, fn: (coordinator: HostPort) => Promise<T>): Promise<T> {
    const c = await this.coordinator(groupId);
    try {
      return await fn(c);
    } catch (err) {
      this.coordinatorCache.delete(groupId);
      throw err;
    }
  }

  /** The group's committed offsets (all partitions it has any for). */
  async groupOffsets(groupId: string): Promise<Map<PartitionKey, bigint>> {
    return (await this.groupOffsetsMany([groupId])).get(groupId) ?? new Map();
  }

  /**
   * The committed offsets of many groups (all partitions each has any for): one OffsetFetch v8 per
   * coordinator for up to MAX_GROUPS_PER_REQUEST groups, groups that answered a retriable error
   * asked again until the deadline. A group answering any other error throws.
   */
  async groupOffsetsMany(groupIds: readonly string[]): Promise<Map<string, Map<PartitionKey, bigint>>> {
    const out = new Map<string, Map<PartitionKey, bigint>>();
    let pending = [...new Set(groupIds)];
    const deadline = Date.now() + this.timeoutMs;
    let last: unknown = null;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const failed: string[] = [];
      const fail = (ids: string[], err: unknown) => {
        for (const id of ids) this.coordinatorCache.delete(id);
        failed.push(...ids);
        last = err;
      };
      const coordinators = await this.coordinators(pending);
      const byCoordinator = new Map<string, { address: HostPort; groups: string[] }>();
      for (const g of pending) {
        const address = coordinators.get(g)!;
        const e = byCoordinator.get(formatHostPort(address)) ?? { address, groups: [] };
        e.groups.push(g);
        byCoordinator.set(formatHostPort(address), e);
      }
      const requests: { address: HostPort; groups: string[] }[] = [];
      for (const { address, groups } of byCoordinator.values()) {
        for (let i = 0; i < groups.length; i += MAX_GROUPS_PER_REQUEST) requests.push({ address, groups: groups.slice(i, i + MAX_GROUPS_PER_REQUEST) });
      }
      await Promise.all(
        requests.map(async ({ address, groups }) => {
          let res: OffsetFetchResponse;
          try {
            res = await this.call<OffsetFetchResponse>(address, ApiKey.OffsetFetch, () => ({
              ...defaultOffsetFetchRequest(),
              groups: groups.map((groupId) => ({ ...defaultOffsetFetchRequestGroup(), groupId, topics: null })),
              requireStable: true,
            }));
          } catch (err) {
            if (!(err instanceof UpstreamError) || err.code === UpstreamErrorCode.AuthenticationFailed) throw err;
            fail(groups, err);
            return;
          }
          const answered = new Map(res.groups.map((g) => [g.groupId, g]));
          for (const groupId of groups) {
            const g = answered.get(groupId);
            if (g === undefined) {
              fail([groupId], new ClusterAdminError(`OffsetFetch answer without group ${groupId}`));
              continue;
            }
            if (g.errorCode !== 0) {
              if (!isRetriableKafkaError(g.errorCode))
                throw new ClusterAdminError(`streaming domain "${this.domain.name}": OffsetFetch for group ${groupId} failed: ${kafkaErrorName(g.errorCode)}`);
              fail([groupId], new ClusterAdminError(`group ${groupId}: ${kafkaErrorName(g.errorCode)}`));
              continue;
            }
            const offsets = new Map<PartitionKey, bigint>();
            for (const t of g.topics) {
              for (const p of t.partitions) {
                if (p.errorCode === 0 && p.committedOffset >= 0n) offsets.set(partitionKey(t.name, p.partitionIndex), p.committedOffset);
              }
            }
            out.set(groupId, offsets);
          }
        }),
      );
      pending = failed;
      if (pending.length === 0) break;
      if (Date.now() + 100 > deadline) {
        throw new ClusterAdminError(
          `streaming domain "${this.domain.name}": OffsetFetch for group ${pending[0]}${pending.length > 1 ? ` (and ${pending.length - 1} more)` : ''} failed: ${(last as Error).message}`,
          { cause: last },
        );
      }
      await sleep(Math.min(50 * 2 ** attempt, 500));
    }
    return out;
  }

  /** The group's state and member count on this cluster ("Dead" when it does not exist). */
  async describeGroup(groupId: string): Promise<{ state: string; members: number }> {
    return this.retrying(`DescribeGroups ${groupId}`, () =>
      this.withCoordinator(groupId, async (c) => {
        const res = await this.call<DescribeGroupsResponse>(c, ApiKey.DescribeGroups, () => ({ groups: [groupId], includeAuthorizedOperations: false }));
        const g = res.groups[0];
        if (g === undefined) throw new Retry('DescribeGroups answer without the group');
        if (g.errorCode !== 0)
          throw isRetriableKafkaError(g.errorCode)
            ? new Retry(kafkaErrorName(g.errorCode))
            : new ClusterAdminError(`DescribeGroups ${groupId}: ${kafkaErrorName(g.errorCode)}`);
        return { state: g.groupState, members: g.members.length };
      }),
    );
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
    return this.retrying(`OffsetCommit for group ${groupId}`, () =>
      this.withCoordinator(groupId, async (coordinator) => {
        const res = await this.call<OffsetCommitResponse>(coordinator, ApiKey.OffsetCommit, () => ({
          ...defaultOffsetCommitRequest(),
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1n,
          topics: [...byTopic].map(([name, parts]) => ({
            ...defaultOffsetCommitRequestTopic(),
            name,
            partitions: parts.map((p) => ({
              ...defaultOffsetCommitRequestPartition(),
              partitionIndex: p.partitionIndex,
              committedOffset: p.committedOffset,
              committedLeaderEpoch: -1,
              committedMetadata: 'turnout switchover',
            })),
          })),
        }));
        const refused = new Map<PartitionKey, string>();
        for (const t of res.topics) {
          for (const p of t.partitions) {
            if (p.errorCode === 0) continue;
            if (
              p.errorCode === KafkaErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
              p.errorCode === KafkaErrorCode.COORDINATOR_NOT_AVAILABLE ||
              p.errorCode === KafkaErrorCode.NOT_COORDINATOR
            )
              throw new Retry(kafkaErrorName(p.errorCode));
            refused.set(partitionKey(t.name, p.partitionIndex), kafkaErrorName(p.errorCode));
          }
        }
        return refused;
      }),
    );
  }
}
