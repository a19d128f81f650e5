// What MirrorMaker 2 records about the offsets it copies, read back for offset translation.
//
// - Offset syncs (`mm2-offset-syncs.<alias>.internal`): key (topic, partition), value (upstream
//   offset, downstream offset): the record at that upstream offset was written at that downstream
//   offset. MirrorMaker writes one at the start of each task, whenever upstream offsets skip
//   (transaction markers, aborted or compacted records) and at least every `offset.lag.max`
//   (default 100) records. By default the topic lives on the flow's source cluster, named after
//   the target (`offset-syncs.topic.location=source`); with `target` it lives on the target, named
//   after the source. So a topic of that name can describe either direction: Turnout tells them
//   apart by comparing the records a sync names on both clusters, and ignores a topic that
//   matches neither (a flow to some third cluster).
// - Checkpoints (`<source alias>.checkpoints.internal` on the target): key (group, topic,
//   partition), value (version, upstream offset, downstream offset, metadata): MirrorMaker's own
//   translation of the group's committed offset, conservative since Kafka 3.5 (KAFKA-14666).
//
// Keys and values use Kafka's protocol types: int16-length strings, big-endian integers.
import type { PartitionKey } from './cluster-admin.ts';
import { partitionKey } from './cluster-admin.ts';

export const OFFSET_SYNCS_TOPIC = /^mm2-offset-syncs\.(.+)\.internal$/;
export const CHECKPOINTS_TOPIC = /^(.+)\.checkpoints\.internal$/;

export interface OffsetSync {
  key: PartitionKey;
  upstream: bigint;
  downstream: bigint;
}

export interface Checkpoint {
  group: string;
  key: PartitionKey;
  upstream: bigint;
  downstream: bigint;
}

class Cursor {
  pos = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  string(): string {
    const n = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    if (n < 0 || this.pos + n > this.buf.length) throw new RangeError('string past the end');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
}

/** An offset sync record, or null when it is not one (tombstone, other format). */
export function decodeOffsetSync(key: Buffer | null, value: Buffer | null): OffsetSync | null {
  if (key === null || value === null) return null;
  try {
    const k = new Cursor(key);
    const topic = k.string();
    const partition = k.int32();
    const v = new Cursor(value);
    const upstream = v.int64();
    const downstream = v.int64();
    if (k.pos !== key.length || value.length !== 16 || partition < 0 || upstream < 0n || downstream < 0n) return null;
    return { key: partitionKey(topic, partition), upstream, downstream };
  } catch {
    return null;
  }
}

/** A checkpoint record, or null when it is not one. */
export function decodeCheckpoint(key: Buffer | null, value: Buffer | null): Checkpoint | null {
  if (key === null || value === null) return null;
  try {
    const k = new Cursor(key);
    const group = k.string();
    const topic = k.string();
    const partition = k.int32();
    const v = new Cursor(value);
    if (v.int16() !== 0) return null; // the only version MirrorMaker writes
    const upstream = v.int64();
    const downstream = v.int64();
    v.string(); // metadata: read so that a truncated value is refused
    if (k.pos !== key.length || partition < 0 || upstream < 0n || downstream < 0n) return null;
    return { group, key: partitionKey(topic, partition), upstream, downstream };
  } catch {
    return null;
  }
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function i64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

/** The bytes MirrorMaker writes for an offset sync (tests, and the format's documentation). */
export function encodeOffsetSync(topic: string, partition: number, upstream: bigint, downstream: bigint): { key: Buffer; value: Buffer } {
  return { key: Buffer.concat([str(topic), i32(partition)]), value: Buffer.concat([i64(upstream), i64(downstream)]) };
}

/** The bytes MirrorMaker writes for a checkpoint. */
export function encodeCheckpoint(
  group: string,
  topic: string,
  partition: number,
  upstream: bigint,
  downstream: bigint,
  metadata = '',
): { key: Buffer; value: Buffer } {
  const version = Buffer.alloc(2);
  return { key: Buffer.concat([str(group), str(topic), i32(partition)]), value: Buffer.concat([version, i64(upstream), i64(downstream), str(metadata)]) };
}
