// Reading offset ranges of many partitions at once: one Fetch per leader broker names up to
// MAX_PARTITIONS_PER_FETCH partitions, and only partitions whose range was not completely
// returned are fetched again. A planned switch reads the tails of every partition it covers on
// both clusters; a Fetch per partition, thousands in flight on one connection, made the fenced
// window grow with the partition count and ended in request timeouts (issue 25).
//
// What a broker returns for a multi-partition Fetch (KIP-74): partitions are read in request
// order; the first non-empty one returns at least one whole batch whatever the limits, the others
// at most partitionMaxBytes each (a batch larger than that comes back cut, i.e. unusable) until
// the response's maxBytes is spent (the rest come back empty). So a partition that got nothing
// although it holds records below its high watermark (or last stable offset, read_committed) is
// asked again at the front of the next Fetch, where it is the first: every round makes progress.

import { formatHostPort } from '../config/endpoints.ts';
import type { HostPort } from '../config/types.ts';
import type { FetchResponse } from '../protocol/generated/messages/fetch-response.ts';
import { isRetriableKafkaError, KafkaErrorCode, kafkaErrorName } from '../protocol/index.ts';
import { type DecodedRecord, decodeRecordBatchesWithEnd, RecordBatchError, RecordBatchErrorCode } from '../protocol/records.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { ClusterAdminError, type PartitionKey, partitionKey, splitKey, UnreadableRecordsError } from './cluster-admin-errors.ts';

/** Partitions one Fetch names at most (a request never lists tens of thousands). */
export const MAX_PARTITIONS_PER_FETCH = 1000;
/** Bytes one partition may return per Fetch (a tail of 500 small records fits in one). */
export const PARTITION_MAX_BYTES = 1024 * 1024;
/** Bytes one Fetch answer may hold in all. */
export const FETCH_MAX_BYTES = 32 * 1024 * 1024;

/** Records wanted of one partition: offsets [from, to). */
export interface ReadRange {
  key: PartitionKey;
  from: bigint;
  to: bigint;
}

export interface RangeRead {
  /** Data records in [from, readTo), in offset order (empty when `each` took them). */
  records: DecodedRecord[];
  /**
   * Where the range is known completely: `to`, or less when the partition holds nothing readable
   * there yet (its high watermark, or with read_committed its last stable offset, is below `to`).
   */
  readTo: bigint;
}

export interface RangesRead {
  read: Map<PartitionKey, RangeRead>;
  /** Partitions with a batch that cannot be read (corrupt, unknown codec, too large): not retried, the others are read. */
  unreadable: Map<PartitionKey, UnreadableRecordsError>;
}

export interface ReadRangesOptions {
  readCommitted?: boolean;
  partitionMaxBytes?: number;
  maxBytes?: number;
  maxPartitionsPerFetch?: number;
  /** Bytes the compressed batches of one Fetch answer may decompress to, all partitions together. */
  maxDecompressedBytes?: number;
  /** Past this time (ms since the epoch) the read stops before its next Fetch with a ReadDeadlineError. */
  deadline?: number | null;
  /** Takes each Fetch's records instead of collecting them (constant memory for long ranges). */
  each?: (key: PartitionKey, records: DecodedRecord[]) => void;
}

/** A read stopped at its deadline: how far it got. */
export class ReadDeadlineError extends ClusterAdminError {
  readonly done: number;
  readonly total: number;
  constructor(domain: string, done: number, total: number, what: string) {
    super(`streaming domain "${domain}": reading ${what} stopped at its deadline (${done} of ${total} partition(s) read)`);
    this.done = done;
    this.total = total;
  }
}

/** One Fetch as the reader plans it (the rest of the request is Kafka's defaults: no wait, no session). */
export interface FetchPlan {
  maxBytes: number;
  isolationLevel: number;
  topics: { topic: string; partitions: { partition: number; fetchOffset: bigint; partitionMaxBytes: number }[] }[];
}

/** What the reader needs of a cluster: leaders, a Fetch to one broker, log starts. ClusterAdmin provides it. */
export interface FetchIO {
  readonly domainName: string;
  /** Default for maxDecompressedBytes. */
  readonly maxDecompressedBytes: number;
  /** Give up retrying after this long without progress. */
  readonly timeoutMs: number;
  /** Leader address per partition; a partition without a known leader is left out. `refresh` asks the cluster again. */
  leaders(keys: readonly PartitionKey[], refresh: boolean): Promise<Map<PartitionKey, HostPort>>;
  fetch(address: HostPort, plan: FetchPlan): Promise<FetchResponse>;
  startOffsets(keys: readonly PartitionKey[]): Promise<Map<PartitionKey, bigint>>;
}

interface Pending {
  key: PartitionKey;
  topic: string;
  partition: number;
  offset: bigint;
  to: bigint;
  records: DecodedRecord[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Reads every range (keys must be distinct), batched per leader; see the file header. */
export async function readRanges(io: FetchIO, ranges: readonly ReadRange[], opts: ReadRangesOptions = {}): Promise<RangesRead> {
  const partitionMaxBytes = opts.partitionMaxBytes ?? PARTITION_MAX_BYTES;
  const maxBytes = opts.maxBytes ?? FETCH_MAX_BYTES;
  const perFetch = opts.maxPartitionsPerFetch ?? MAX_PARTITIONS_PER_FETCH;
  const budget = opts.maxDecompressedBytes ?? io.maxDecompressedBytes;
  const isolationLevel = opts.readCommitted === true ? 1 : 0;
  const out: RangesRead = { read: new Map(), unreadable: new Map() };
  // Insertion order is the order of the next Fetches: partitions moved to the front are re-inserted first.
  let pending = new Map<PartitionKey, Pending>();
  for (const r of ranges) {
    const from = r.from < 0n ? 0n : r.from;
    if (from >= r.to) {
      out.read.set(r.key, { records: [], readTo: r.to });
      continue;
    }
    const { topic, partition } = splitKey(r.key);
    pending.set(r.key, { key: r.key, topic, partition, offset: from, to: r.to, records: [] });
  }
  const finish = (p: Pending, readTo: bigint) => {
    pending.delete(p.key);
    out.read.set(p.key, { records: p.records, readTo });
  };
  let leaders = new Map<PartitionKey, HostPort>();
  let refresh = false;
  let lastProgress = Date.now();
  let lastError: unknown = null;
  for (let attempt = 0; pending.size > 0; ) {
    if (opts.deadline !== undefined && opts.deadline !== null && Date.now() > opts.deadline) {
      throw new ReadDeadlineError(io.domainName, ranges.length - pending.size, ranges.length, `${ranges.length} partition(s)`);
    }
    const unknown = [...pending.keys()].filter((k) => !leaders.has(k));
    if (refresh || unknown.length > 0) {
      const found = await io.leaders(refresh ? [...pending.keys()] : unknown, refresh);
      leaders = refresh ? found : new Map([...leaders, ...found]);
      refresh = false;
    }
    // Per leader, the first `perFetch` of its pending partitions, in pending order.
    const byLeader = new Map<string, { address: HostPort; parts: Pending[] }>();
    for (const p of pending.values()) {
      const address = leaders.get(p.key);
      if (address === undefined) {
        lastError = new ClusterAdminError(`no leader known for ${p.topic}-${p.partition}`);
        refresh = true;
        continue;
      }
      const id = formatHostPort(address);
      const entry = byLeader.get(id) ?? { address, parts: [] };
      if (entry.parts.length < perFetch) entry.parts.push(p);
      byLeader.set(id, entry);
    }
    let progressed = false;
    const front: Pending[] = [];
    const outOfRange: Pending[] = [];
    await Promise.all(
      [...byLeader.values()].map(async ({ address, parts }) => {
        const topics = new Map<string, Pending[]>();
        for (const p of parts) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p]);
        let res: FetchResponse;
        try {
          res = await io.fetch(address, {
            maxBytes,
            isolationLevel,
            topics: [...topics].map(([topic, ps]) => ({
              topic,
              partitions: ps.map((p) => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes })),
            })),
          });
        } catch (err) {
          if (!(err instanceof UpstreamError) || err.code === UpstreamErrorCode.AuthenticationFailed) throw err;
          lastError = err;
          refresh = true;
          return;
        }
        if (res.errorCode !== 0) {
          lastError = new ClusterAdminError(`Fetch: ${kafkaErrorName(res.errorCode)}`);
          if (!isRetriableKafkaError(res.errorCode)) throw lastError;
          refresh = true;
          return;
        }
        const answers = new Map<PartitionKey, FetchResponse['responses'][number]['partitions'][number]>();
        for (const t of res.responses) for (const p of t.partitions) answers.set(partitionKey(t.topic, p.partitionIndex), p);
        // The request's order: the first partition is the one the broker had to answer whole.
        const ordered = [...topics.values()].flat();
        let left = budget;
        let decodedAny = false;
        for (const [i, p] of ordered.entries()) {
          const a = answers.get(p.key);
          if (a === undefined) {
            lastError = new ClusterAdminError(`Fetch answer without ${p.topic}-${p.partition}`);
            refresh = true;
            continue;
          }
          if (a.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) {
            outOfRange.push(p);
            continue;
          }
          if (a.errorCode !== 0) {
            lastError = new ClusterAdminError(`Fetch ${p.topic}-${p.partition}: ${kafkaErrorName(a.errorCode)}`);
            if (!isRetriableKafkaError(a.errorCode)) throw lastError;
            refresh = true;
            continue;
          }
          const bytes = a.records ?? new Uint8Array(0);
          let decoded: { records: DecodedRecord[]; endOffset: bigint | null; decompressedBytes: number };
          try {
            decoded = decodeRecordBatchesWithEnd(bytes, {
              maxDecompressedBytes: Math.max(left, 1),
              ...(isolationLevel === 1 ? { abortedTransactions: a.abortedTransactions ?? [] } : {}),
            });
          } catch (err) {
            if (!(err instanceof RecordBatchError)) throw err;
            // Too large only for what other partitions of this answer left: again, first, with the whole budget.
            if (err.code === RecordBatchErrorCode.TooLarge && decodedAny) {
              front.push(p);
              continue;
            }
            pending.delete(p.key);
            out.unreadable.set(p.key, new UnreadableRecordsError(io.domainName, p.topic, p.partition, err));
            progressed = true;
            continue;
          }
          left -= decoded.decompressedBytes;
          if (decoded.decompressedBytes > 0) decodedAny = true;
          if (decoded.endOffset === null || decoded.endOffset <= p.offset) {
            // Nothing whole came back. Done when nothing is readable there (or the broker had to answer this one whole).
            const bound = isolationLevel === 1 ? a.lastStableOffset : a.highWatermark;
            if (i === 0 || bound < 0n || p.offset >= bound) {
              finish(p, bound >= 0n && p.offset >= bound ? p.offset : p.to);
              progressed = true;
            } else front.push(p);
            continue;
          }
          const rs = decoded.records.filter((r) => r.offset >= p.offset && r.offset < p.to);
          if (opts.each !== undefined) opts.each(p.key, rs);
          else for (const r of rs) p.records.push(r);
          p.offset = decoded.endOffset;
          progressed = true;
          if (p.offset >= p.to) finish(p, p.to);
        }
      }),
    );
    if (outOfRange.length > 0) {
      // Before the log start (retention, DeleteRecords): continue from there; past the end: done.
      const starts = await io.startOffsets(outOfRange.map((p) => p.key));
      for (const p of outOfRange) {
        const start = starts.get(p.key) ?? p.to;
        if (start > p.offset) p.offset = start;
        else finish(p, p.offset);
        if (p.offset >= p.to && pending.has(p.key)) finish(p, p.to);
      }
      progressed = true;
    }
    if (front.length > 0) {
      const moved = new Set(front.map((p) => p.key));
      const rest = [...pending].filter(([k]) => !moved.has(k));
      pending = new Map([...front.map((p): [PartitionKey, Pending] => [p.key, p]), ...rest]);
    }
    if (progressed) {
      lastProgress = Date.now();
      attempt = 0;
    } else if (pending.size > 0) {
      if (Date.now() + 100 > lastProgress + io.timeoutMs) {
        const first = pending.values().next().value!;
        throw new ClusterAdminError(
          `streaming domain "${io.domainName}": Fetch ${first.topic}-${first.partition}${pending.size > 1 ? ` (and ${pending.size - 1} more partition(s))` : ''} failed: ${(lastError as Error | null)?.message ?? 'no progress'}`,
          { cause: lastError },
        );
      }
      await sleep(Math.min(50 * 2 ** attempt++, 500));
    }
  }
  return out;
}
