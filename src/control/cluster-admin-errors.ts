// The errors and partition keys of ClusterAdmin, apart from it so that the readers it delegates
// to (partition-reader.ts) can use them without an import cycle.
import { TurnoutError } from '../errors.ts';
import type { RecordBatchError } from '../protocol/records.ts';

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
