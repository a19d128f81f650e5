// Reading Produce requests in place: scanProduceRequest finds every topic and the exact bytes of
// every partition's records for each version, forEachBatch walks the batches in them, the batch
// field positions agree with an independent encoder (kafkajs), and ProduceTopicScanner reports the
// same topics however a frame is cut into pieces. Malformed frames fail with a CodecError (or
// `failed` for the streaming scanner) and never hang; both scanners agree on mutated frames.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import type { ProduceRequest } from '../../../src/protocol/generated/messages/produce-request.ts';
import { ApiKey, CodecError, CodecErrorCode, decodeRequest, encodeRequest, type RawTaggedField } from '../../../src/protocol/index.ts';
import {
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_BASE_SEQUENCE_OFFSET,
  BATCH_CRC_OFFSET,
  BATCH_MAGIC_OFFSET,
  BATCH_PRODUCER_EPOCH_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  BATCH_RECORD_COUNT_OFFSET,
  BATCH_V2_HEADER_SIZE,
  batchProducerId,
  forEachBatch,
  isTransactionalBatch,
  ProduceTopicScanner,
  scanProduceRequest,
} from '../../../src/protocol/produce-scan.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { prng } from '../../support/messages.ts';

const require = createRequire(import.meta.url);
// kafkajs is an independent encoder: record batches with producer ids, and Produce v0-2 frames.
const kafkajsRequest = require('kafkajs/src/protocol/request.js');
const kafkajsProduce = require('kafkajs/src/protocol/requests/produce/index.js');
const { RecordBatch: kafkajsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const KafkajsLong = require('kafkajs/src/utils/long.js');

const CLIENT_ID = 'scan-test';
const T0 = 1_700_000_000_000;
const LONG_NAME = `long.${'x'.repeat(195)}`;

function batch(records: number, baseOffset = 0): Buffer {
  return encodeRecordBatch(
    Array.from({ length: records }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`value ${i}`), timestamp: T0 + i })),
    { baseOffset },
  );
}

const tag = (t: number, size: number): RawTaggedField => ({ tag: t, data: Buffer.alloc(size, t & 0xff) });
const uuid = (n: number): string => Buffer.alloc(16, n).toString('base64url');

interface PartitionSpec {
  index: number;
  records: Buffer | null;
  tags?: RawTaggedField[];
}
interface TopicSpec {
  name: string;
  partitions: PartitionSpec[];
  tags?: RawTaggedField[];
}

// Several topics and partitions: two batches in one partition, null and empty records, a topic
// without partitions, names with multi-byte characters and one longer than the scanner's first
// buffer; tagged fields at every level (written from v9 on).
const TOPICS: TopicSpec[] = [
  {
    name: 'orders',
    partitions: [
      { index: 0, records: batch(2) },
      { index: 1, records: null },
      { index: 2, records: Buffer.concat([batch(1), batch(3, 1)]), tags: [tag(0, 3)] },
    ],
  },
  { name: 'größe.ü✓', partitions: [{ index: 7, records: batch(1), tags: [tag(1, 1), tag(200, 140)] }], tags: [tag(4, 2)] },
  { name: 'no-partitions', partitions: [] },
  {
    name: LONG_NAME,
    partitions: [
      { index: 3, records: Buffer.alloc(0) },
      { index: 4, records: batch(5) },
    ],
  },
];

function produceFrame(version: number, transactionalId: string | null = version % 2 === 0 ? 'tx-1' : null): Buffer {
  const body: ProduceRequest = {
    transactionalId,
    acks: version % 3 === 0 ? -1 : 1,
    timeoutMs: 30_000,
    topicData: TOPICS.map((t, i) => ({
      name: t.name,
      topicId: uuid(i + 1),
      partitionData: t.partitions.map((p) => ({ index: p.index, records: p.records, _unknownTaggedFields: p.tags })),
      _unknownTaggedFields: t.tags,
    })),
    _unknownTaggedFields: [tag(3, 130)],
  };
  return encodeRequest(
    { requestApiKey: ApiKey.Produce, requestApiVersion: version, correlationId: 99, clientId: CLIENT_ID, _unknownTaggedFields: [tag(7, 4)] },
    body,
  );
}

const VERSIONS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const FRAMES = VERSIONS.map((version) => ({ version, frame: produceFrame(version) }));
const expectedNames = (version: number): string[] => (version >= 13 ? [] : TOPICS.map((t) => t.name));
const expectedIds = (version: number): string[] => (version >= 13 ? TOPICS.map((_, i) => uuid(i + 1)) : []);

interface Scanned {
  names: string[];
  ids: string[];
  scanner: ProduceTopicScanner;
}

function scanPieces(pieces: Uint8Array[]): Scanned {
  const names: string[] = [];
  const ids: string[] = [];
  const scanner = new ProduceTopicScanner(
    (n) => names.push(n),
    (id) => ids.push(id.toString('base64url')),
  );
  for (const p of pieces) scanner.push(p);
  return { names, ids, scanner };
}

/** The frame cut into pieces of 1..maxPiece bytes, as plain Uint8Arrays on odd seeds. */
function randomPieces(frame: Buffer, rand: () => number, maxPiece: number, plain: boolean): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < frame.length; ) {
    const n = 1 + Math.floor(rand() * maxPiece);
    const piece = frame.subarray(at, at + n);
    pieces.push(plain ? new Uint8Array(piece) : piece);
    at += n;
  }
  return pieces;
}

function isCodecError(code?: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof CodecError && (code === undefined || e.code === code);
}

test('scanProduceRequest finds every topic and the exact records bytes of every partition, v3 to v13', () => {
  for (const { version, frame } of FRAMES) {
    const topics: Array<[string | null, string | null]> = [];
    const records: Array<[number, number, number, number]> = [];
    const result = scanProduceRequest(frame, {
      topic: (name, id) => topics.push([name, id === null ? null : id.toString('base64url')]),
      records: (t, p, start, end) => records.push([t, p, start, end]),
    });
    assert.deepEqual(result, { version, transactionalId: version % 2 === 0 ? 'tx-1' : null, acks: version % 3 === 0 ? -1 : 1 });
    assert.deepEqual(
      topics,
      TOPICS.map((t, i) => (version >= 13 ? [null, uuid(i + 1)] : [t.name, null])),
      `v${version}`,
    );

    // The positions are where the codec's own decoder finds the records (views into the frame).
    const decoded = decodeRequest<ProduceRequest>(frame).body;
    const expected: Array<[number, number, number, number]> = [];
    decoded.topicData.forEach((t, ti) => {
      for (const p of t.partitionData) {
        if (p.records === null) continue;
        const start = p.records.byteOffset - frame.byteOffset;
        expected.push([ti, p.index, start, start + p.records.length]);
      }
    });
    assert.deepEqual(records, expected, `v${version}`);
    const specRecords = TOPICS.flatMap((t) => t.partitions.map((p) => p.records).filter((r) => r !== null));
    assert.deepEqual(
      records.map(([, , s, e]) => frame.subarray(s, e)),
      specRecords,
    );
  }
});

test('a visitor without callbacks is fine, and the topic id is a view into the frame', () => {
  const { frame } = FRAMES[FRAMES.length - 1];
  assert.equal(scanProduceRequest(frame, {}).version, 13);
  let first: Buffer | null = null;
  scanProduceRequest(frame, { topic: (_name, id) => (first ??= id) });
  assert.ok(first !== null && (first as Buffer).buffer === frame.buffer);
});

test('forEachBatch yields each record batch of a partition with its magic', () => {
  const { frame } = FRAMES[0];
  const batches: Buffer[] = [];
  scanProduceRequest(frame, {
    records: (_t, _p, start, end) => {
      const stop = forEachBatch(frame, start, end, (bs, be, magic) => {
        assert.equal(magic, 2);
        batches.push(frame.subarray(bs, be));
      });
      assert.equal(stop, end, 'no partial batch');
    },
  });
  assert.deepEqual(batches, [batch(2), batch(1), batch(3, 1), batch(1), batch(5)]);
});

test('forEachBatch stops before a trailing partial batch and returns where it starts', () => {
  const whole = batch(2);
  for (const tail of [batch(1).subarray(0, 30), Buffer.alloc(5), batch(1).subarray(0, 12), batch(1).subarray(0, batch(1).length - 1)]) {
    const buf = Buffer.concat([Buffer.from('junk'), whole, tail, Buffer.from('after')]);
    const seen: Array<[number, number]> = [];
    const stop = forEachBatch(buf, 4, 4 + whole.length + tail.length, (s, e) => seen.push([s, e]));
    assert.deepEqual(seen, [[4, 4 + whole.length]]);
    assert.equal(stop, 4 + whole.length);
  }
  assert.equal(
    forEachBatch(whole, 3, 3, () => assert.fail('an empty range has no batch')),
    3,
  );
});

test('forEachBatch refuses a length shorter than any batch, and a magic v2 batch shorter than its header', () => {
  const tooShort = Buffer.from(batch(1));
  tooShort.writeInt32BE(13, 8);
  assert.throws(() => forEachBatch(tooShort, 0, tooShort.length, () => {}), isCodecError(CodecErrorCode.InvalidLength));
  const negative = Buffer.from(batch(1));
  negative.writeInt32BE(-1, 8);
  assert.throws(() => forEachBatch(negative, 0, negative.length, () => {}), isCodecError(CodecErrorCode.InvalidLength));
  const shortV2 = Buffer.from(batch(1));
  shortV2.writeInt32BE(30, 8);
  assert.throws(() => forEachBatch(shortV2, 0, shortV2.length, () => {}), isCodecError(CodecErrorCode.InvalidLength));
  assert.throws(() => forEachBatch(shortV2, 0, shortV2.length + 1, () => {}), RangeError);
});

test('batch field positions match kafkajs batches: producer id, epoch, sequence, transactional bit, CRC span', async () => {
  const records = [
    kafkajsRecord({ offsetDelta: 0, key: Buffer.from('k'), value: Buffer.from('v') }),
    kafkajsRecord({ offsetDelta: 1, key: null, value: Buffer.from('w') }),
  ];
  for (const transactional of [true, false]) {
    const encoded = await kafkajsRecordBatch({
      records,
      lastOffsetDelta: 1,
      transactional,
      producerId: KafkajsLong.fromString('123456789012345'),
      producerEpoch: 7,
      firstSequence: 4242,
    });
    const b: Buffer = Buffer.concat([Buffer.from('pad'), encoded.buffer]);
    const at = 3;
    const seen: number[] = [];
    forEachBatch(b, at, b.length, (s, e, magic) => seen.push(s, e, magic));
    assert.deepEqual(seen, [at, b.length, 2]);
    assert.equal(b.readInt8(at + BATCH_MAGIC_OFFSET), 2);
    assert.equal(batchProducerId(b, at), 123456789012345n);
    assert.equal(b.readBigInt64BE(at + BATCH_PRODUCER_ID_OFFSET), 123456789012345n);
    assert.equal(b.readInt16BE(at + BATCH_PRODUCER_EPOCH_OFFSET), 7);
    assert.equal(b.readInt32BE(at + BATCH_BASE_SEQUENCE_OFFSET), 4242);
    assert.equal(b.readInt32BE(at + BATCH_RECORD_COUNT_OFFSET), 2);
    assert.equal(isTransactionalBatch(b, at), transactional);
    assert.equal(b.readUInt32BE(at + BATCH_CRC_OFFSET), crc32c(b.subarray(at + BATCH_ATTRIBUTES_OFFSET)), 'the CRC covers attributes to the end');
  }
  const ours = batch(1);
  assert.equal(batchProducerId(ours, 0), -1n);
  assert.equal(isTransactionalBatch(ours, 0), false);
  assert.throws(() => batchProducerId(ours.subarray(0, BATCH_V2_HEADER_SIZE - 1), 0), isCodecError(CodecErrorCode.Truncated));
  assert.throws(() => isTransactionalBatch(ours, ours.length - 10), isCodecError(CodecErrorCode.Truncated));
});

/** A Produce v0-2 frame from kafkajs, whose records are magic 0 (v0) or 1 (v1, v2) message sets. */
async function kafkajsProduceFrame(version: number): Promise<Buffer> {
  const topicData = [
    {
      topic: 'legacy',
      partitions: [
        {
          partition: 0,
          messages: [
            { key: 'a', value: '1', timestamp: T0 },
            { key: 'b', value: '2', timestamp: T0 },
          ],
        },
        { partition: 5, messages: [{ key: null, value: '3', timestamp: T0 }] },
      ],
    },
    { topic: 'größe', partitions: [{ partition: 1, messages: [{ key: 'c', value: '4', timestamp: T0 }] }] },
  ];
  const { request } = kafkajsProduce.protocol({ version })({ acks: 1, timeout: 1000, topicData });
  return (await kafkajsRequest({ correlationId: 5, clientId: 'kafkajs', request })).buffer;
}

test('Produce v0-2 frames (message sets) report topics and records ranges; their entries are messages', async () => {
  for (const version of [0, 1, 2]) {
    const frame = await kafkajsProduceFrame(version);
    const names: string[] = [];
    const entries: Array<[number, number, number, bigint, boolean]> = [];
    const result = scanProduceRequest(frame, {
      topic: (name) => names.push(name!),
      records: (t, p, start, end) => {
        assert.equal(
          forEachBatch(frame, start, end, (bs, _be, magic) => entries.push([t, p, magic, batchProducerId(frame, bs), isTransactionalBatch(frame, bs)])),
          end,
        );
      },
    });
    assert.deepEqual(result, { version, transactionalId: null, acks: 1 });
    assert.deepEqual(names, ['legacy', 'größe']);
    const magic = version < 2 ? 0 : 1; // kafkajs writes magic 1 messages from Produce v2 on
    assert.deepEqual(
      entries,
      [
        [0, 0, magic, -1n, false],
        [0, 0, magic, -1n, false],
        [0, 5, magic, -1n, false],
        [1, 1, magic, -1n, false],
      ],
      `v${version}`,
    );

    const pieces = scanPieces(randomPieces(frame, prng(version), 5, false));
    assert.deepEqual(pieces.names, names);
    assert.ok(pieces.scanner.done && !pieces.scanner.failed);
    assert.equal(pieces.scanner.version, version);
  }
});

test('ProduceTopicScanner reports every topic for a frame cut in two at every byte', () => {
  for (const { version, frame } of FRAMES) {
    for (let cut = 0; cut <= frame.length; cut++) {
      const { names, ids, scanner } = scanPieces([frame.subarray(0, cut), frame.subarray(cut)]);
      assert.deepEqual(names, expectedNames(version), `v${version} cut at ${cut}`);
      assert.deepEqual(ids, expectedIds(version), `v${version} cut at ${cut}`);
      assert.ok(scanner.done && !scanner.failed, `v${version} cut at ${cut}: ${scanner.reason}`);
    }
  }
});

test('ProduceTopicScanner reports every topic for frames fed in random pieces of 1-7 bytes', () => {
  const rand = prng(2024);
  for (const { version, frame } of FRAMES) {
    for (let round = 0; round < 40; round++) {
      const { names, ids, scanner } = scanPieces(randomPieces(frame, rand, 7, round % 2 === 1));
      assert.deepEqual(names, expectedNames(version), `v${version} round ${round}`);
      assert.deepEqual(ids, expectedIds(version));
      assert.ok(scanner.done && !scanner.failed, `v${version}: ${scanner.reason}`);
      assert.equal(scanner.version, version);
      assert.equal(scanner.acks, version % 3 === 0 ? -1 : 1);
    }
  }
});

test('without an id callback, ProduceTopicScanner skips the topic ids of v13 frames', () => {
  const { frame } = FRAMES[FRAMES.length - 1];
  const rand = prng(13);
  for (let round = 0; round < 20; round++) {
    const names: string[] = [];
    const scanner = new ProduceTopicScanner((n) => names.push(n));
    for (const piece of randomPieces(frame, rand, 7, false)) scanner.push(piece);
    assert.deepEqual(names, []);
    assert.ok(scanner.done && !scanner.failed, String(scanner.reason));
  }
});

test('ProduceTopicScanner reports a topic as soon as its name has arrived, and is done only at the end', () => {
  const { frame } = FRAMES[0];
  const nameEnd = frame.indexOf('orders') + 'orders'.length;
  const a = scanPieces([frame.subarray(0, nameEnd - 1)]);
  assert.deepEqual(a.names, []);
  a.scanner.push(frame.subarray(nameEnd - 1, nameEnd));
  assert.deepEqual(a.names, ['orders']);
  a.scanner.push(frame.subarray(nameEnd, frame.length - 1));
  assert.equal(a.scanner.done, false);
  a.scanner.push(frame.subarray(frame.length - 1));
  assert.equal(a.scanner.done, true);
});

test('ProduceTopicScanner skips megabytes of records in a few pieces, ignores bytes past the frame, and can be reset', () => {
  const big = Buffer.alloc(3 << 20, 7);
  const body: ProduceRequest = {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topicData: [
      {
        name: 'big',
        topicId: uuid(0),
        partitionData: [
          { index: 0, records: big },
          { index: 1, records: big },
        ],
      },
      { name: 'after-big', topicId: uuid(0), partitionData: [] },
    ],
  };
  for (const version of [8, 9]) {
    const frame = encodeRequest({ requestApiKey: ApiKey.Produce, requestApiVersion: version, correlationId: 1, clientId: null }, body);
    const names: string[] = [];
    const scanner = new ProduceTopicScanner((n) => names.push(n));
    scanner.push(frame.subarray(0, 1000));
    scanner.push(frame.subarray(1000, 2_000_000));
    scanner.push(Buffer.concat([frame.subarray(2_000_000), FRAMES[0].frame]));
    assert.deepEqual(names, ['big', 'after-big']);
    assert.ok(scanner.done && !scanner.failed, String(scanner.reason));
    scanner.push(FRAMES[0].frame);
    assert.deepEqual(names, ['big', 'after-big'], 'nothing is read once the frame is done');
    scanner.reset();
    scanner.push(FRAMES[0].frame);
    assert.deepEqual(names, ['big', 'after-big', ...expectedNames(FRAMES[0].version)]);
    assert.ok(scanner.done && !scanner.failed);
  }
});

/** The frame cut to `length` bytes with its size prefix made to match. */
function truncated(frame: Buffer, length: number): Buffer {
  const t = Buffer.from(frame.subarray(0, length));
  if (length >= 4) t.writeInt32BE(length - 4, 0);
  return t;
}

test('every truncation of a frame is a CodecError for scanProduceRequest and a failure, not a throw, for the scanner', () => {
  for (const { version, frame } of FRAMES) {
    for (let length = 0; length < frame.length; length++) {
      const t = truncated(frame, length);
      assert.throws(() => scanProduceRequest(t, {}), isCodecError(), `v${version} cut to ${length}`);
      const { scanner } = scanPieces([t]);
      if (length < 4) {
        assert.ok(!scanner.done && !scanner.failed, 'waits for the rest of the size prefix');
      } else {
        assert.ok(scanner.done && scanner.failed, `v${version} cut to ${length}`);
        assert.match(scanner.reason!, /ends inside|exceed/);
      }
    }
  }
});

test('a frame not yet complete leaves the scanner waiting, and scanProduceRequest refuses a size prefix that does not match', () => {
  const { frame } = FRAMES[0];
  const { scanner } = scanPieces([frame.subarray(0, frame.length - 1)]);
  assert.ok(!scanner.done && !scanner.failed);
  assert.throws(() => scanProduceRequest(frame.subarray(0, frame.length - 1), {}), isCodecError(CodecErrorCode.InvalidLength));
});

/** Where the first topic's name starts (taken before an edit overwrites it). */
const nameAt = (frame: Buffer): number => frame.indexOf('orders');

test('huge lengths and counts are refused as soon as they are read, before the bytes they claim', () => {
  const cases: Array<{ version: number; what: string; edit: (f: Buffer, name: number) => number; code: string }> = [
    // non-flexible: int16 name length 2 before the name, int32 topic count 4 before that
    {
      version: 3,
      what: 'topic count',
      edit: (f, n) => {
        f.writeInt32BE(0x7fffffff, n - 6);
        return n - 2;
      },
      code: CodecErrorCode.InvalidLength,
    },
    {
      version: 3,
      what: 'negative topic count',
      edit: (f, n) => {
        f.writeInt32BE(-5, n - 6);
        return n - 2;
      },
      code: CodecErrorCode.InvalidLength,
    },
    {
      version: 5,
      what: 'null topic count',
      edit: (f, n) => {
        f.writeInt32BE(-1, n - 6);
        return n - 2;
      },
      code: CodecErrorCode.UnexpectedNull,
    },
    {
      version: 4,
      what: 'topic name length',
      edit: (f, n) => {
        f.writeInt16BE(0x7fff, n - 2);
        return n;
      },
      code: CodecErrorCode.InvalidLength,
    },
    {
      version: 4,
      what: 'null topic name',
      edit: (f, n) => {
        f.writeInt16BE(-1, n - 2);
        return n;
      },
      code: CodecErrorCode.UnexpectedNull,
    },
    // partition count (4) and partition index (4) follow the name; then the int32 records length
    {
      version: 7,
      what: 'records length',
      edit: (f, n) => {
        f.writeInt32BE(0x7fffffff, n + 14);
        return n + 18;
      },
      code: CodecErrorCode.InvalidLength,
    },
    {
      version: 7,
      what: 'negative records length',
      edit: (f, n) => {
        f.writeInt32BE(-2, n + 14);
        return n + 18;
      },
      code: CodecErrorCode.InvalidLength,
    },
    // flexible: one-byte uvarint name length before the name, one-byte topic count before that
    {
      version: 9,
      what: 'compact topic count',
      edit: (f, n) => {
        f.set([0xff, 0xff, 0xff, 0xff, 0x07], n - 2);
        return n + 3;
      },
      code: CodecErrorCode.InvalidLength,
    },
    {
      version: 10,
      what: 'varint of six bytes',
      edit: (f, n) => {
        f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0x01], n - 2);
        return n + 4;
      },
      code: CodecErrorCode.VarintTooLong,
    },
    {
      version: 11,
      what: 'null compact topic count',
      edit: (f, n) => {
        f.set([0], n - 2);
        return n - 1;
      },
      code: CodecErrorCode.UnexpectedNull,
    },
    {
      version: 12,
      what: 'compact name length',
      edit: (f, n) => {
        f.set([0xff, 0x7f], n - 1);
        return n + 1;
      },
      code: CodecErrorCode.InvalidLength,
    },
    // flexible: partition count (1) and index (4) follow the name, then the uvarint records length
    {
      version: 9,
      what: 'compact records length',
      edit: (f, n) => {
        f.set([0xff, 0xff, 0xff, 0x7f], n + 11);
        return n + 15;
      },
      code: CodecErrorCode.InvalidLength,
    },
  ];
  for (const c of cases) {
    const f = Buffer.from(produceFrame(c.version));
    const readBy = c.edit(f, nameAt(f));
    assert.throws(() => scanProduceRequest(f, {}), isCodecError(c.code), c.what);
    const { scanner } = scanPieces([f.subarray(0, readBy)]);
    assert.ok(scanner.failed && !scanner.done, `${c.what}: fails without waiting for the rest`);
    assert.match(scanner.reason!, new RegExp(`^Produce v${c.version} request: `));
    scanner.push(f.subarray(readBy));
    assert.ok(scanner.done, `${c.what}: still counts the frame's bytes`);
  }
});

test('bytes after the request, another api, an unknown version or a bad size prefix are refused', () => {
  const { frame } = FRAMES[0];
  const trailing = Buffer.concat([frame, Buffer.from([0, 0, 0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.throws(() => scanProduceRequest(trailing, {}), isCodecError(CodecErrorCode.TrailingBytes));
  const t = scanPieces([trailing]);
  assert.deepEqual(t.names, expectedNames(FRAMES[0].version));
  assert.ok(t.scanner.failed && t.scanner.done);
  assert.match(t.scanner.reason!, /3 bytes follow the end/);

  const fetch = Buffer.from(frame);
  fetch.writeInt16BE(ApiKey.Fetch, 4);
  assert.throws(() => scanProduceRequest(fetch, {}), isCodecError(CodecErrorCode.UnknownApi));
  assert.ok(scanPieces([fetch]).scanner.failed);

  const v14 = Buffer.from(frame);
  v14.writeInt16BE(14, 6);
  assert.throws(() => scanProduceRequest(v14, {}), isCodecError(CodecErrorCode.UnsupportedVersion));
  const s14 = scanPieces([v14]).scanner;
  assert.ok(s14.failed && s14.done);

  const negative = Buffer.from(frame);
  negative.writeInt32BE(-1, 0);
  assert.throws(() => scanProduceRequest(negative, {}), isCodecError(CodecErrorCode.InvalidLength));
  const sn = scanPieces([negative]).scanner;
  assert.ok(sn.failed && !sn.done, 'a negative size declares no end');
  assert.throws(() => scanProduceRequest(Buffer.alloc(6), {}), isCodecError(CodecErrorCode.Truncated));
});

test('on mutated frames both scanners agree, throw nothing but CodecError, and the streaming one always finishes', () => {
  const rand = prng(77);
  const iterations = Number(process.env.TURNOUT_FUZZ_ITERATIONS ?? 3000);
  const at = (f: Buffer): number => 4 + Math.floor(rand() * (f.length - 4));
  let valid = 0;
  for (let i = 0; i < iterations; i++) {
    const { frame } = FRAMES[i % FRAMES.length];
    let f: Buffer = Buffer.from(frame);
    switch (i % 4) {
      case 0:
        for (let k = 0; k < 1 + rand() * 3; k++) f[at(f)] = Math.floor(rand() * 256);
        break;
      case 1: {
        const p = at(f);
        f.fill(0xff, p, Math.min(f.length, p + 1 + Math.floor(rand() * 6)));
        break;
      }
      case 2:
        f = truncated(frame, at(frame));
        break;
      default:
        f[at(f)] ^= 1 << Math.floor(rand() * 8);
    }
    let expected: { names: string[]; ids: string[] } | null = { names: [], ids: [] };
    try {
      scanProduceRequest(f, { topic: (n, id) => (id === null ? expected!.names.push(n!) : expected!.ids.push(id.toString('base64url'))) });
      valid++;
    } catch (err) {
      assert.ok(err instanceof CodecError, `not a CodecError: ${String(err)}`);
      assert.notEqual(err.code, CodecErrorCode.Internal);
      expected = null;
    }
    const { names, ids, scanner } = scanPieces(randomPieces(f, rand, 1 + (i % 9), false));
    assert.ok(scanner.done, `iteration ${i}: the declared size was fed`);
    if (expected === null) {
      assert.ok(scanner.failed, `iteration ${i}: scanProduceRequest refused it but the scanner did not`);
    } else {
      assert.ok(!scanner.failed, `iteration ${i}: ${scanner.reason}`);
      assert.deepEqual({ names, ids }, expected);
    }
  }
  assert.ok(valid > 0, 'some mutations leave a valid frame');
});
