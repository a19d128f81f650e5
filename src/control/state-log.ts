// The control plane's state log on one cluster: a compacted, single-partition topic that holds
// switch state as UTF-8 key/value records, written and read with Turnout's own codec over
// Turnout's own connections (the streaming domain's service credentials), not a client library.
//
// One StateLog talks to one listener of one cluster. It keeps one connection open to the leader
// of partition 0 (plus, briefly, one to a bootstrap broker to find it) and re-resolves the leader
// when the broker says it moved or the connection fails. Every operation retries such transient
// failures until `timeoutMs` has passed, then throws a StateLogError that names the domain and the
// topic. Appends are not idempotent: an append retried after a lost answer may write its records
// twice, which a compacted key/value log absorbs (the later copy wins, with the same value).

import { formatHostPort } from '../config/endpoints.ts';
import type { BootstrapServerConfig, HostPort, StreamingDomainConfig } from '../config/types.ts';
import { TurnoutError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import type { ApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.ts';
import { defaultCreateTopicsRequestCreatableTopic } from '../protocol/generated/messages/create-topics-request.ts';
import type { CreateTopicsResponse } from '../protocol/generated/messages/create-topics-response.ts';
import type { DescribeConfigsResponse } from '../protocol/generated/messages/describe-configs-response.ts';
import { defaultFetchRequest, defaultFetchRequestFetchPartition, defaultFetchRequestFetchTopic } from '../protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../protocol/generated/messages/fetch-response.ts';
import {
  defaultListOffsetsRequest,
  defaultListOffsetsRequestListOffsetsPartition,
  defaultListOffsetsRequestListOffsetsTopic,
} from '../protocol/generated/messages/list-offsets-request.ts';
import type { ListOffsetsResponse } from '../protocol/generated/messages/list-offsets-response.ts';
import { defaultMetadataRequest, defaultMetadataRequestTopic } from '../protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse, MetadataResponseTopic } from '../protocol/generated/messages/metadata-response.ts';
import {
  defaultProduceRequest,
  defaultProduceRequestPartitionProduceData,
  defaultProduceRequestTopicProduceData,
} from '../protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../protocol/generated/messages/produce-response.ts';
import { ApiKey, describeApiKey as apiName, isRetriableKafkaError, KafkaErrorCode, kafkaErrorName, ZERO_UUID } from '../protocol/index.ts';
import { decodeRecordBatchesWithEnd, encodeRecordBatch } from '../protocol/records.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { KafkaConnection } from '../upstream/kafka-connection.ts';
import { MAC_HEADER, type Rejection, StateSigner } from './state-signing.ts';

export const StateLogErrorCode = {
  /** The cluster did not serve the request before the timeout (unreachable, no leader, ...). */
  Unavailable: 'TURNOUT_STATE_LOG_UNAVAILABLE',
  /** The cluster refused the request for good (authorization, configuration, versions, bad data). */
  Rejected: 'TURNOUT_STATE_LOG_REJECTED',
  /** The listener cannot be used (SASL without service credentials). */
  Config: 'TURNOUT_STATE_LOG_CONFIG',
  /** close() was called. */
  Closed: 'TURNOUT_STATE_LOG_CLOSED',
} as const;
export type StateLogErrorCode = (typeof StateLogErrorCode)[keyof typeof StateLogErrorCode];

export class StateLogError extends TurnoutError {
  declare readonly code: StateLogErrorCode;
  constructor(code: StateLogErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface StateLogOptions {
  domain: StreamingDomainConfig;
  /** The listener of the domain's cluster to use; SASL_PLAINTEXT needs service credentials. */
  listener: BootstrapServerConfig;
  topic: string;
  log: Logger;
  /** How long one operation may keep retrying (read: on top of its maxWaitMs). */
  timeoutMs: number;
  /** Signs appended records and drops read records that do not verify (state-signing.ts); default: none. */
  signer?: StateSigner;
  /** Called for each record ignored because it did not verify (metrics). */
  onRejected?: (reason: Rejection) => void;
}

export interface StateRecordInput {
  key: string;
  /** null writes a tombstone: compaction removes the key. */
  value: string | null;
}

export interface StateRecord {
  offset: bigint;
  key: string;
  value: string | null;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface StateReadResult {
  records: StateRecord[];
  /** Where the next read continues: after the last record returned, or where this read started. */
  nextOffset: bigint;
}

const CLIENT_ID = 'turnout-state-log';
/** Largest maxWaitMs a read passes to the broker (reads asking for more wait this long). */
export const MAX_READ_WAIT_MS = 300_000;
const FETCH_MAX_BYTES = 1024 * 1024;
const EARLIEST = -2n;
const LATEST = -1n;
const TOPIC_RESOURCE = 2;

// Versions: the highest the broker supports up to a ceiling that still names topics (Produce 13
// and Fetch 13 use topic ids), and at least the first version this code's requests fit.
const VERSIONS = {
  [ApiKey.Metadata]: [4, 12], // 4+: can refuse auto-creation; 10+: topic ids in the answer
  [ApiKey.CreateTopics]: [2, 7],
  [ApiKey.Produce]: [3, 9],
  [ApiKey.Fetch]: [4, 12],
  [ApiKey.ListOffsets]: [1, 7],
  [ApiKey.DescribeConfigs]: [1, 4],
} as const satisfies Record<number, readonly [number, number]>;

/** A failure inside one attempt; retriable ones are tried again until the deadline. */
class Problem extends Error {
  readonly retriable: boolean;
  constructor(message: string, retriable: boolean) {
    super(message);
    this.retriable = retriable;
  }
}

function brokerProblem(what: string, code: number, message?: string | null): Problem {
  return new Problem(`${what} failed with ${kafkaErrorName(code)}${message ? `: ${message}` : ''}`, isRetriableKafkaError(code));
}

function isRetriable(err: unknown): boolean {
  if (err instanceof Problem) return err.retriable;
  return err instanceof UpstreamError && err.code !== UpstreamErrorCode.AuthenticationFailed;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Link {
  readonly key: string;
  readonly conn: KafkaConnection;
  /** The broker's ApiVersions answer: api key -> [min, max]. */
  readonly versions: Map<number, [number, number]>;
}

interface LinkEntry {
  promise: Promise<Link>;
  link: Link | null;
}

export class StateLog {
  readonly domain: StreamingDomainConfig;
  readonly listener: BootstrapServerConfig;
  readonly topic: string;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  /** Open (or opening) connections by host:port. */
  private readonly links = new Map<string, LinkEntry>();
  /** Address of the leader of partition 0, null when it must be looked up. */
  private leader: HostPort | null = null;
  private closed = false;
  private readonly signer: StateSigner;
  private readonly onRejected: (reason: Rejection) => void;
  /** Records read and ignored because they did not verify, by reason. */
  readonly rejected = new Map<Rejection, number>();
  /** Reasons (with key id) already logged: each is logged once, then only counted. */
  private readonly loggedRejections = new Set<string>();

  constructor(opts: StateLogOptions) {
    this.domain = opts.domain;
    this.listener = opts.listener;
    this.topic = opts.topic;
    this.timeoutMs = opts.timeoutMs;
    this.signer = opts.signer ?? new StateSigner(opts.topic, { key: null, previousKeys: [], acceptUnsigned: true });
    this.onRejected = opts.onRejected ?? (() => {});
    this.log = opts.log.child({ domain: opts.domain.name, listener: opts.listener.id, stateTopic: opts.topic });
    const security = opts.listener.security;
    if (security.protocol === 'SASL_PLAINTEXT' && security.sasl === null) {
      throw new StateLogError(
        StateLogErrorCode.Config,
        `${this.prefix()}listener "${opts.listener.id}" uses SASL_PLAINTEXT but has no service credentials; the state log needs them (sasl.username and sasl.password of the listener)`,
      );
    }
    if (opts.listener.endpoints.length === 0) {
      throw new StateLogError(StateLogErrorCode.Config, `${this.prefix()}listener "${opts.listener.id}" has no bootstrap endpoints`);
    }
  }

  /**
   * Creates the topic when it does not exist (one partition, compacted, replication factor
   * min(3, brokers)) and waits until partition 0 has a leader and the topic has its id. Safe to
   * call again and from several gateways at once.
   */
  async ensureTopic(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let created = false;
    await this.retrying('ensure the topic exists', deadline, async () => {
      const { md, link } = await this.metadata(deadline);
      const t = this.topicIn(md);
      if (t?.errorCode === KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION && !created) {
        await this.createTopic(md, link, deadline);
        created = true;
        throw new Problem('the topic was just created and is not served yet', true);
      }
      const leader = this.leaderIn(md, t);
      if (link.versions.get(ApiKey.Metadata)![1] >= 10 && t!.topicId === ZERO_UUID) {
        throw new Problem('the broker lists the topic without its id (not fully created yet)', true);
      }
      this.useLeader(leader);
    });
    if (!created) await this.warnUnlessCompacted(deadline);
  }

  /** Appends `records` (one batch, acks=all) to partition 0; resolves with the first record's offset. */
  async append(records: StateRecordInput[]): Promise<bigint> {
    if (records.length === 0) throw new StateLogError(StateLogErrorCode.Rejected, `${this.prefix()}append needs at least one record`);
    const batch = encodeRecordBatch(
      records.map((r) => {
        const value = r.value === null ? null : Buffer.from(r.value, 'utf8');
        const mac = this.signer.sign(r.key, value);
        return { key: Buffer.from(r.key, 'utf8'), value, ...(mac !== null ? { headers: [{ key: MAC_HEADER, value: mac }] } : {}) };
      }),
    );
    const deadline = Date.now() + this.timeoutMs;
    return this.retrying('append', deadline, async () => {
      const link = await this.leaderLink(deadline);
      const version = this.version(link, ApiKey.Produce);
      const res = await this.call<ProduceResponse>(
        link,
        ApiKey.Produce,
        version,
        {
          ...defaultProduceRequest(),
          acks: -1,
          timeoutMs: this.remaining(deadline),
          topicData: [
            {
              ...defaultProduceRequestTopicProduceData(),
              name: this.topic,
              partitionData: [{ ...defaultProduceRequestPartitionProduceData(), index: 0, records: batch }],
            },
          ],
        },
        deadline,
      );
      const p = res.responses.find((t) => t.name === this.topic)?.partitionResponses.find((x) => x.index === 0);
      if (p === undefined) throw new Problem(`the Produce answer from ${link.key} has no result for partition 0`, true);
      if (p.errorCode !== 0) {
        const details = [p.errorMessage, ...p.recordErrors.map((e) => e.batchIndexErrorMessage)].filter((m) => m).join('; ');
        throw brokerProblem(`Produce to ${link.key}`, p.errorCode, details);
      }
      return p.baseOffset;
    });
  }

  /**
   * One Fetch of partition 0 from `fromOffset`, which the broker holds up to `maxWaitMs` (at most
   * MAX_READ_WAIT_MS) while there is nothing new. When `fromOffset` is out of range (before the
   * log start, or past the end because the topic was recreated) the read restarts at the log start.
   */
  async read(fromOffset: bigint, maxWaitMs: number): Promise<StateReadResult> {
    const { records, nextOffset } = await this.fetch(fromOffset, maxWaitMs);
    return { records, nextOffset };
  }

  /** Every record from the log start up to the high watermark at the time of the call. */
  async readAll(): Promise<StateRecord[]> {
    const all: StateRecord[] = [];
    let offset = 0n;
    let end: bigint | null = null;
    for (;;) {
      const r = await this.fetch(offset, 0);
      end ??= r.highWatermark;
      all.push(...r.records);
      if (!r.gotBatches || r.nextOffset >= end) return all;
      offset = r.nextOffset;
    }
  }

  /** Closes the connections; later calls fail with StateLogErrorCode.Closed. */
  close(): void {
    this.closed = true;
    for (const entry of this.links.values())
      entry.promise.then(
        (l) => l.conn.close(),
        () => {},
      );
    this.links.clear();
    this.leader = null;
  }

  // --- reading ---

  private async fetch(fromOffset: bigint, maxWaitMs: number): Promise<StateReadResult & { highWatermark: bigint; gotBatches: boolean }> {
    const wait = Math.min(MAX_READ_WAIT_MS, Math.max(0, Math.floor(maxWaitMs)));
    const deadline = Date.now() + this.timeoutMs + wait;
    let offset = fromOffset;
    return this.retrying('read', deadline, async () => {
      const link = await this.leaderLink(deadline);
      for (let restarts = 0; ; restarts++) {
        const version = this.version(link, ApiKey.Fetch);
        const res = await this.call<FetchResponse>(
          link,
          ApiKey.Fetch,
          version,
          {
            ...defaultFetchRequest(),
            maxWaitMs: wait,
            minBytes: 1,
            maxBytes: FETCH_MAX_BYTES,
            isolationLevel: 0, // READ_UNCOMMITTED
            topics: [
              {
                ...defaultFetchRequestFetchTopic(),
                topic: this.topic,
                partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset: offset, partitionMaxBytes: FETCH_MAX_BYTES }],
              },
            ],
          },
          deadline,
        );
        if (res.errorCode !== 0) throw brokerProblem(`Fetch from ${link.key}`, res.errorCode);
        const p = res.responses.find((t) => t.topic === this.topic)?.partitions.find((x) => x.partitionIndex === 0);
        if (p === undefined) throw new Problem(`the Fetch answer from ${link.key} has no data for partition 0`, true);
        if (p.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE && restarts < 2) {
          const start = await this.listOffset(link, EARLIEST, deadline);
          this.log.warn({ fromOffset: String(offset), logStartOffset: String(start) }, 'state log offset out of range; reading from the log start');
          offset = start;
          continue;
        }
        if (p.errorCode !== 0) throw brokerProblem(`Fetch from ${link.key}`, p.errorCode);
        let decoded;
        try {
          decoded = decodeRecordBatchesWithEnd(p.records ?? new Uint8Array(0), { headers: true });
        } catch (err) {
          throw new Problem(`unreadable records from ${link.key}: ${(err as Error).message}`, false);
        }
        const records: StateRecord[] = [];
        let nextOffset = offset;
        for (const r of decoded.records) {
          if (r.offset < offset) continue; // a batch starts before the offset asked for
          nextOffset = r.offset + 1n;
          const key = r.key === null ? '' : r.key.toString('utf8');
          const verdict = this.signer.verify(key, r.value, r.headers?.find((h) => h.key === MAC_HEADER)?.value);
          if (!verdict.ok) {
            this.reject(r.offset, key, verdict.reason!, verdict.keyId);
            continue;
          }
          records.push({ offset: r.offset, key, value: r.value === null ? null : r.value.toString('utf8'), timestamp: r.timestamp });
        }
        // Past batches without data records (transaction markers, batches emptied by compaction).
        if (decoded.endOffset !== null && decoded.endOffset > nextOffset) nextOffset = decoded.endOffset;
        return { records, nextOffset, highWatermark: p.highWatermark, gotBatches: decoded.endOffset !== null };
      }
    });
  }

  /** Ignores a record that did not verify: counted always, logged once per reason and key id. */
  private reject(offset: bigint, key: string, reason: Rejection, keyId: string | undefined): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    this.onRejected(reason);
    const once = `${reason}/${keyId ?? ''}`;
    if (this.loggedRejections.has(once)) return;
    this.loggedRejections.add(once);
    const why = {
      unsigned: 'it has no signature and gateway.state.acceptUnsigned is off',
      'unknown-key': `it is signed with key ${keyId}, which is neither gateway.state.key nor a previousKey`,
      'bad-signature': `its signature does not verify with key ${keyId}: the record was changed or forged`,
      malformed: `its ${MAC_HEADER} header is not a Turnout signature`,
    }[reason];
    const hint =
      reason === 'unsigned' && key.startsWith('route/')
        ? '; if this fleet switched routes before a key was set, set gateway.state.acceptUnsigned: true until each such route has switched again'
        : '';
    this.log.warn(
      { offset: String(offset), recordKey: key.slice(0, 200), reason, ...(keyId ? { keyId } : {}) },
      `ignored a state record: ${why}${hint} (later ones with the same problem are counted in turnout_state_records_rejected_total, not logged)`,
    );
  }

  private async listOffset(link: Link, timestamp: bigint, deadline: number): Promise<bigint> {
    const version = this.version(link, ApiKey.ListOffsets);
    const res = await this.call<ListOffsetsResponse>(
      link,
      ApiKey.ListOffsets,
      version,
      {
        ...defaultListOffsetsRequest(),
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            ...defaultListOffsetsRequestListOffsetsTopic(),
            name: this.topic,
            partitions: [{ ...defaultListOffsetsRequestListOffsetsPartition(), partitionIndex: 0, timestamp }],
          },
        ],
      },
      deadline,
    );
    const p = res.topics.find((t) => t.name === this.topic)?.partitions.find((x) => x.partitionIndex === 0);
    if (p === undefined) throw new Problem(`the ListOffsets answer from ${link.key} has no result for partition 0`, true);
    if (p.errorCode !== 0) throw brokerProblem(`ListOffsets (${timestamp === LATEST ? 'latest' : 'earliest'}) from ${link.key}`, p.errorCode);
    return p.offset;
  }

  // --- topic set-up ---

  private async createTopic(md: MetadataResponse, link: Link, deadline: number): Promise<void> {
    const brokers = md.brokers.length;
    const replicationFactor = Math.max(1, Math.min(3, brokers));
    const minInsyncReplicas = replicationFactor < 3 ? 1 : 2;
    let target = link;
    for (let tries = 0; ; tries++) {
      const version = this.version(target, ApiKey.CreateTopics);
      const res = await this.call<CreateTopicsResponse>(
        target,
        ApiKey.CreateTopics,
        version,
        {
          topics: [
            {
              ...defaultCreateTopicsRequestCreatableTopic(),
              name: this.topic,
              numPartitions: 1,
              replicationFactor,
              configs: [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'min.insync.replicas', value: String(minInsyncReplicas) },
              ],
            },
          ],
          timeoutMs: this.remaining(deadline),
          validateOnly: false,
        },
        deadline,
      );
      const t = res.topics.find((x) => x.name === this.topic);
      if (t === undefined) throw new Problem(`the CreateTopics answer from ${target.key} has no result for the topic`, true);
      if (t.errorCode === 0) {
        this.log.info({ replicationFactor, minInsyncReplicas, brokers }, 'created the state topic');
        return;
      }
      if (t.errorCode === KafkaErrorCode.TOPIC_ALREADY_EXISTS) {
        this.log.info('state topic already exists (created concurrently)');
        return;
      }
      // ZooKeeper-mode clusters only take CreateTopics at the controller (KRaft brokers forward it).
      const controller = md.brokers.find((b) => b.nodeId === md.controllerId);
      if (t.errorCode === KafkaErrorCode.NOT_CONTROLLER && controller !== undefined && tries === 0) {
        target = await this.link({ host: controller.host, port: controller.port }, deadline);
        continue;
      }
      throw brokerProblem(`CreateTopics (replication factor ${replicationFactor}) at ${target.key}`, t.errorCode, t.errorMessage);
    }
  }

  /** A topic made by someone else may delete state after its retention: say so, without failing. */
  private async warnUnlessCompacted(deadline: number): Promise<void> {
    try {
      const link = await this.anyLink(deadline);
      const version = this.version(link, ApiKey.DescribeConfigs);
      const res = await this.call<DescribeConfigsResponse>(
        link,
        ApiKey.DescribeConfigs,
        version,
        {
          resources: [{ resourceType: TOPIC_RESOURCE, resourceName: this.topic, configurationKeys: ['cleanup.policy'] }],
          includeSynonyms: false,
          includeDocumentation: false,
        },
        deadline,
      );
      const r = res.results[0];
      if (r === undefined || r.errorCode !== 0) throw brokerProblem('DescribeConfigs', r?.errorCode ?? -1, r?.errorMessage);
      const policy = r.configs.find((c) => c.name === 'cleanup.policy')?.value ?? '';
      if (
        !policy
          .split(',')
          .map((s) => s.trim())
          .includes('compact')
      ) {
        this.log.warn(
          { cleanupPolicy: policy },
          'the state topic exists but is not compacted: old state may be deleted by retention; set cleanup.policy=compact',
        );
      }
    } catch (err) {
      if (err instanceof StateLogError && err.code === StateLogErrorCode.Closed) throw err;
      this.log.warn({ err: (err as Error).message }, "could not check the state topic's cleanup.policy");
    }
  }

  // --- metadata and leaders ---

  private async metadata(deadline: number): Promise<{ md: MetadataResponse; link: Link }> {
    const link = await this.anyLink(deadline);
    const version = this.version(link, ApiKey.Metadata);
    const md = await this.call<MetadataResponse>(
      link,
      ApiKey.Metadata,
      version,
      {
        ...defaultMetadataRequest(),
        topics: [{ ...defaultMetadataRequestTopic(), name: this.topic }],
        allowAutoTopicCreation: false,
      },
      deadline,
    );
    return { md, link };
  }

  private topicIn(md: MetadataResponse): MetadataResponseTopic | undefined {
    return md.topics.find((t) => t.name === this.topic);
  }

  /** Address of partition 0's leader, or a Problem saying why there is none (yet). */
  private leaderIn(md: MetadataResponse, t: MetadataResponseTopic | undefined): HostPort {
    if (t === undefined) throw new Problem('the Metadata answer does not list the topic', true);
    if (t.errorCode === KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new Problem('the topic does not exist (ensureTopic() creates it)', true);
    if (t.errorCode !== 0) throw brokerProblem('Metadata', t.errorCode);
    const p = t.partitions.find((x) => x.partitionIndex === 0);
    if (p === undefined) throw new Problem('the topic has no partition 0 yet', true);
    if (p.errorCode !== 0 && p.errorCode !== KafkaErrorCode.REPLICA_NOT_AVAILABLE) throw brokerProblem('Metadata of partition 0', p.errorCode);
    if (p.leaderId < 0) throw new Problem('partition 0 has no leader', true);
    const b = md.brokers.find((x) => x.nodeId === p.leaderId);
    if (b === undefined) throw new Problem(`the leader of partition 0 (broker ${p.leaderId}) is not among the brokers of the Metadata answer`, true);
    return { host: b.host, port: b.port };
  }

  private useLeader(leader: HostPort): void {
    const key = formatHostPort(leader);
    if (this.leader === null || formatHostPort(this.leader) !== key) this.log.debug({ leader: key }, 'state topic leader');
    this.leader = leader;
    // One connection, to the leader: drop the others (bootstrap, controller, an old leader).
    for (const [k, entry] of this.links) {
      if (k === key) continue;
      this.links.delete(k);
      entry.promise.then(
        (l) => l.conn.close(),
        () => {},
      );
    }
  }

  private async leaderLink(deadline: number): Promise<Link> {
    if (this.leader === null) {
      const { md } = await this.metadata(deadline);
      this.useLeader(this.leaderIn(md, this.topicIn(md)));
    }
    return this.link(this.leader!, deadline);
  }

  // --- connections ---

  /** An open connection, else one to the first bootstrap endpoint that answers. */
  private async anyLink(deadline: number): Promise<Link> {
    for (const entry of this.links.values()) {
      if (entry.link !== null) return entry.link;
    }
    const errors: string[] = [];
    for (const endpoint of this.listener.endpoints) {
      try {
        return await this.link(endpoint, deadline);
      } catch (err) {
        if (!isRetriable(err)) throw err;
        errors.push((err as Error).message);
      }
    }
    throw new Problem(`no bootstrap broker of listener "${this.listener.id}" answered: ${errors.join('; ')}`, true);
  }

  private link(endpoint: HostPort, deadline: number): Promise<Link> {
    this.assertOpen();
    const key = formatHostPort(endpoint);
    const known = this.links.get(key);
    if (known !== undefined) return known.promise;
    const entry: LinkEntry = { promise: this.openLink(endpoint, key, deadline), link: null };
    this.links.set(key, entry);
    entry.promise.then(
      (l) => {
        entry.link = l;
      },
      () => {
        if (this.links.get(key) === entry) this.links.delete(key);
      },
    );
    return entry.promise;
  }

  private async openLink(endpoint: HostPort, key: string, deadline: number): Promise<Link> {
    const ms = Math.min(this.timeoutMs, this.remaining(deadline));
    // The connection's own request timeout is only a backstop: call() times every request.
    const opening = KafkaConnection.open(endpoint, this.listener.security, {
      clientId: CLIENT_ID,
      connectTimeoutMs: ms,
      requestTimeoutMs: this.timeoutMs + MAX_READ_WAIT_MS,
    });
    let conn: KafkaConnection;
    try {
      conn = await within(
        opening,
        ms,
        () =>
          new UpstreamError(
            UpstreamErrorCode.Timeout,
            `${key} did not accept a connection${this.listener.security.protocol === 'SASL_PLAINTEXT' ? ' and authentication' : ''} within ${ms} ms`,
          ),
      );
    } catch (err) {
      opening.then(
        (c) => c.close(),
        () => {},
      );
      throw err;
    }
    if (this.closed) {
      conn.close();
      this.assertOpen();
    }
    const link: Link = { key, conn, versions: new Map() };
    try {
      const av = await this.call<ApiVersionsResponse>(link, ApiKey.ApiVersions, 0, {}, deadline);
      if (av.errorCode !== 0) throw brokerProblem(`ApiVersions at ${key}`, av.errorCode);
      for (const k of av.apiKeys) link.versions.set(k.apiKey, [k.minVersion, k.maxVersion]);
    } catch (err) {
      conn.close();
      throw err;
    }
    return link;
  }

  private dropLink(link: Link): void {
    const entry = this.links.get(link.key);
    if (entry !== undefined && entry.link === link) this.links.delete(link.key);
    link.conn.close();
  }

  /** Sends one request and waits for its answer until `deadline`; a connection that fails or
   *  does not answer in time is closed and forgotten. */
  private async call<T extends object>(link: Link, apiKey: number, version: number, body: object, deadline: number): Promise<T> {
    const ms = this.remaining(deadline);
    try {
      return await within(
        link.conn.request<T>(apiKey, version, body),
        ms,
        () => new UpstreamError(UpstreamErrorCode.Timeout, `${link.key} did not answer ${apiName(apiKey)} v${version} within ${ms} ms`),
      );
    } catch (err) {
      if (err instanceof UpstreamError) this.dropLink(link);
      throw err;
    }
  }

  private version(link: Link, apiKey: keyof typeof VERSIONS): number {
    const [floor, ceiling] = VERSIONS[apiKey];
    const offered = link.versions.get(apiKey);
    if (offered === undefined || offered[1] < floor || offered[0] > ceiling) {
      throw new Problem(
        `${link.key} does not support ${apiName(apiKey)} versions ${floor}-${ceiling} (it offers ${offered ? `${offered[0]}-${offered[1]}` : 'none'})`,
        false,
      );
    }
    return Math.min(offered[1], ceiling);
  }

  // --- retries and errors ---

  /** Runs `attempt` until it succeeds, fails for good, or `deadline` passes. */
  private async retrying<T>(what: string, deadline: number, attempt: () => Promise<T>): Promise<T> {
    const started = Date.now();
    let backoffMs = 50;
    let reported: string | null = null;
    for (let n = 1; ; n++) {
      this.assertOpen();
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof StateLogError) throw err;
        // A last attempt cut short by the deadline says less than the error before it.
        const cutShort = err instanceof UpstreamError && err.code === UpstreamErrorCode.Timeout && reported !== null;
        if (!cutShort) reported = (err as Error).message;
        const message = reported ?? (err as Error).message;
        if (!isRetriable(err)) {
          throw new StateLogError(StateLogErrorCode.Rejected, `${this.prefix()}cannot ${what}: ${message}`, { cause: err });
        }
        this.leader = null; // look it up again: it may have moved
        const waitMs = Math.min(backoffMs, deadline - Date.now());
        if (waitMs <= 0 || this.closed) {
          this.assertOpen();
          throw new StateLogError(
            StateLogErrorCode.Unavailable,
            `${this.prefix()}cannot ${what} within ${Date.now() - started} ms (${n} attempts): ${message}`,
            { cause: err },
          );
        }
        this.log.debug({ err: message, attempt: n }, `state log: cannot ${what} yet, retrying`);
        await sleep(waitMs);
        backoffMs = Math.min(backoffMs * 2, 1000);
      }
    }
  }

  private remaining(deadline: number): number {
    return Math.max(1, deadline - Date.now());
  }

  private assertOpen(): void {
    if (this.closed) throw new StateLogError(StateLogErrorCode.Closed, `${this.prefix()}the state log was closed`);
  }

  private prefix(): string {
    return `state topic "${this.topic}" on streaming domain "${this.domain.name}": `;
  }
}

/** `promise`, or a rejection with `timeoutError()` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
