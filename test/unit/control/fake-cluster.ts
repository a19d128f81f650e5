// A fake cluster for the replication tracker: the ClusterAdmin calls it makes (end and start
// offsets, topics, reading records one range or many at a time), over partition logs held in
// memory, with the reads recorded.
import { type ClusterAdmin, type PartitionKey, UnreadableRecordsError } from '../../../src/control/cluster-admin.ts';
import type { RangesRead, ReadRange } from '../../../src/control/partition-reader.ts';
import type { DecodedRecord } from '../../../src/protocol/records.ts';

/**
 * ClusterAdmin.readRanges over a fake's readRecords: every range read whole; a partition whose
 * read throws UnreadableRecordsError is unreadable, any other error fails the call.
 */
export async function readRangesVia(
  read: (topic: string, partition: number, from: bigint, to: bigint) => Promise<DecodedRecord[]>,
  ranges: readonly ReadRange[],
): Promise<RangesRead> {
  const out: RangesRead = { read: new Map(), unreadable: new Map() };
  for (const r of ranges) {
    const i = r.key.lastIndexOf(':');
    try {
      out.read.set(r.key, { records: await read(r.key.slice(0, i), Number(r.key.slice(i + 1)), r.from, r.to), readTo: r.to });
    } catch (err) {
      if (!(err instanceof UnreadableRecordsError)) throw err;
      out.unreadable.set(r.key, err);
    }
  }
  return out;
}

/** A partition log of one fake cluster: records by offset, and the log end offset. */
export interface Log {
  records: DecodedRecord[];
  end: bigint;
}

/** Implements the two ClusterAdmin calls the tracker makes, and records them. */
export class FakeCluster {
  readonly logs = new Map<PartitionKey, Log>();
  readonly endOffsetCalls: PartitionKey[][] = [];
  readonly reads: { key: PartitionKey; from: bigint; to: bigint }[] = [];
  /** Calls of readRanges and how many partitions each named (a batched read is one call). */
  readonly rangeCalls: number[] = [];

  set(key: PartitionKey, records: DecodedRecord[], end?: bigint): this {
    this.logs.set(key, { records, end: end ?? (records.length === 0 ? 0n : records[records.length - 1].offset + 1n) });
    return this;
  }

  /** Last stable offsets: the end unless set (an open transaction). */
  readonly stable = new Map<PartitionKey, bigint>();

  async stableOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    const ends = await this.endOffsets([...keys]);
    this.endOffsetCalls.pop();
    return new Map([...ends].map(([k, e]) => [k, this.stable.get(k) ?? e]));
  }

  async endOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    const list = [...keys];
    this.endOffsetCalls.push(list);
    return new Map(list.filter((k) => this.logs.has(k)).map((k) => [k, this.logs.get(k)!.end]));
  }

  /** As the real one: records in [from, to), a negative `from` reads from 0. */
  async readRecords(topic: string, partition: number, from: bigint, to: bigint): Promise<DecodedRecord[]> {
    const key = `${topic}:${partition}`;
    this.reads.push({ key, from, to });
    return (this.logs.get(key)?.records ?? []).filter((r) => r.offset >= from && r.offset < to);
  }

  /** As the real one, without its Fetches: each range read with readRecords. */
  async readRanges(ranges: readonly ReadRange[]): Promise<RangesRead> {
    if (ranges.length > 0) this.rangeCalls.push(ranges.length);
    return readRangesVia((t, p, from, to) => this.readRecords(t, p, from, to), ranges);
  }

  /** As the real one: the records of readRecords, handed over in one piece; throws past the deadline. */
  async eachRecords(
    topic: string,
    partition: number,
    from: bigint,
    to: bigint,
    each: (records: DecodedRecord[]) => void,
    opts: { deadline?: number | null } = {},
  ): Promise<void> {
    if (from < to && opts.deadline !== undefined && opts.deadline !== null && Date.now() > opts.deadline)
      throw new Error(`reading ${topic}-${partition} stopped at its deadline (0 of ${to - from} offsets read)`);
    each(await this.readRecords(topic, partition, from, to));
  }

  /** Log start: the first record's offset (0 when empty), unless set. */
  readonly starts = new Map<PartitionKey, bigint>();

  async startOffsets(keys: Iterable<PartitionKey>): Promise<Map<PartitionKey, bigint>> {
    return new Map([...keys].map((k) => [k, this.starts.get(k) ?? this.logs.get(k)?.records[0]?.offset ?? 0n]));
  }

  async topics(names: string[] | null): Promise<Map<string, { leaders: Map<number, number> }>> {
    const out = new Map<string, { leaders: Map<number, number> }>();
    for (const k of this.logs.keys()) {
      const i = k.lastIndexOf(':');
      const t = k.slice(0, i);
      if (names !== null && !names.includes(t)) continue;
      const e = out.get(t) ?? { leaders: new Map<number, number>() };
      e.leaders.set(Number(k.slice(i + 1)), 1);
      out.set(t, e);
    }
    return out;
  }

  /** Consumer groups and their committed offsets (for the pre-read of a planned switch). */
  readonly groupOffsets = new Map<string, Map<PartitionKey, bigint>>();

  async groups(): Promise<{ groupId: string; state: string; protocolType: string }[]> {
    return [...this.groupOffsets.keys()].map((groupId) => ({ groupId, state: 'Empty', protocolType: 'consumer' }));
  }

  async groupOffsetsMany(ids: readonly string[]): Promise<Map<string, Map<PartitionKey, bigint>>> {
    return new Map(ids.map((id) => [id, this.groupOffsets.get(id) ?? new Map()]));
  }

  async coordinators(): Promise<Map<string, unknown>> {
    return new Map();
  }

  readonly domain: { name: string; kafkaCluster: { name: string } };
  constructor(name = 'fake') {
    this.domain = { name, kafkaCluster: { name } };
  }

  get admin(): ClusterAdmin {
    return this as unknown as ClusterAdmin;
  }
}
