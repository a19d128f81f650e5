// Frame splitting and header rules: frames split across chunks or packed into one chunk,
// size limits, header versions (including the ApiVersions exception), peeking, and the
// errors decoding returns for frames that do not add up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import { defaultMetadataRequest, type MetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import { defaultMetadataResponse, type MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import {
  ApiKey,
  apiCodec,
  CodecError,
  CodecErrorCode,
  DEFAULT_MAX_FRAME_SIZE,
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameDecoder,
  peekApiKey,
  peekApiVersion,
  peekProduceAcks,
  peekRequestClientId,
  peekRequestCorrelationId,
  peekResponseCorrelationId,
  type RequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../../src/protocol/index.ts';

function metadataRequestFrame(correlationId: number, version = 12): Buffer {
  const body: MetadataRequest = {
    ...defaultMetadataRequest(),
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'orders', _unknownTaggedFields: undefined }],
  };
  return encodeRequest(
    { requestApiKey: ApiKey.Metadata, requestApiVersion: version, correlationId, clientId: 'test-client', _unknownTaggedFields: undefined },
    body,
  );
}

function drain(d: FrameDecoder): Buffer[] {
  const out: Buffer[] = [];
  for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  return out;
}

test('frames split across chunks at every byte boundary are reassembled intact', () => {
  const frames = [metadataRequestFrame(1), metadataRequestFrame(2, 4), metadataRequestFrame(3)];
  const stream = Buffer.concat(frames);
  for (let cut = 1; cut < stream.length; cut++) {
    const d = new FrameDecoder(1024);
    d.push(stream.subarray(0, cut));
    const got = drain(d);
    d.push(stream.subarray(cut));
    got.push(...drain(d));
    assert.deepEqual(
      got.map((f) => peekRequestCorrelationId(f)),
      [1, 2, 3],
      `cut at ${cut}`,
    );
    assert.ok(got.every((f, i) => f.equals(frames[i])));
    assert.equal(d.bufferedBytes, 0);
  }
});

test('a stream fed one byte at a time yields every frame', () => {
  const stream = Buffer.concat([metadataRequestFrame(7), metadataRequestFrame(8)]);
  const d = new FrameDecoder();
  const got: Buffer[] = [];
  for (const b of stream) {
    d.push(Buffer.from([b]));
    got.push(...drain(d));
  }
  assert.deepEqual(got.map(peekRequestCorrelationId), [7, 8]);
});

test('several frames in one chunk come out as views without copying', () => {
  const stream = Buffer.concat([metadataRequestFrame(1), metadataRequestFrame(2)]);
  const d = new FrameDecoder();
  d.push(stream);
  const [a, b] = drain(d);
  assert.equal(a.buffer, stream.buffer);
  assert.equal(b.buffer, stream.buffer);
});

test('a size prefix above the maximum or negative is rejected before buffering the frame', () => {
  const d = new FrameDecoder(100);
  d.push(Buffer.from([0, 0, 0, 101]));
  assert.throws(
    () => d.next(),
    (e: unknown) => e instanceof CodecError && e.code === CodecErrorCode.FrameTooLarge,
  );
  const n = new FrameDecoder(100);
  n.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2]));
  assert.throws(
    () => n.next(),
    (e: unknown) => e instanceof CodecError && e.code === CodecErrorCode.InvalidLength,
  );
  const ok = new FrameDecoder(100);
  ok.push(Buffer.from([0, 0, 0, 100]));
  assert.equal(ok.next(), null, 'a frame at exactly the maximum waits for its bytes');
});

test('request headers are v2 for flexible versions and v1 otherwise; ApiVersions responses always use header v0', () => {
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 0), 0);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1, 'SaslHandshake is never flexible');
});

test('the fixed header prefix can be read without decoding', () => {
  const f = metadataRequestFrame(42, 12);
  assert.equal(peekApiKey(f), ApiKey.Metadata);
  assert.equal(peekApiVersion(f), 12);
  assert.equal(peekRequestCorrelationId(f), 42);
  const h = decodeRequestHeader(f);
  assert.equal(h.header.clientId, 'test-client');
  assert.equal(h.headerVersion, 2);
});

test('a decoded request re-encodes to the same frame', () => {
  for (const v of [4, 8, 9, 12, 13]) {
    const f = metadataRequestFrame(5, v);
    const d = decodeRequest<MetadataRequest>(f);
    assert.equal(d.body.topics?.[0].name, 'orders');
    assert.ok(encodeRequest(d.header, d.body).equals(f), `v${v}`);
  }
});

test('responses round-trip with their header, and ApiVersions v3 keeps header v0', () => {
  const body: MetadataResponse = {
    ...defaultMetadataResponse(),
    clusterId: 'abc',
    brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: null, _unknownTaggedFields: undefined }],
  };
  const f = encodeResponse(ApiKey.Metadata, 12, { correlationId: 9, _unknownTaggedFields: undefined }, body);
  assert.equal(peekResponseCorrelationId(f), 9);
  const d = decodeResponse<MetadataResponse>(f, ApiKey.Metadata, 12);
  assert.equal(d.body.brokers[0].host, 'h');
  assert.ok(encodeResponse(ApiKey.Metadata, 12, d.header, d.body).equals(f));
  const av = encodeResponse(ApiKey.ApiVersions, 3, { correlationId: 1, _unknownTaggedFields: undefined }, defaultApiVersionsResponse());
  // header v0 = correlation id only, then the body starts with the int16 error code.
  assert.equal(av.readInt16BE(8), 0);
  assert.equal(decodeResponse(av, ApiKey.ApiVersions, 3).headerVersion, 0);
});

test('decoding reports unknown APIs, unsupported versions, trailing bytes and bad size prefixes with codes', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof CodecError, `not a CodecError: ${String(e)}`);
      return e.code;
    }
    return 'no error';
  };
  const f = metadataRequestFrame(1);
  const unknown = Buffer.from(f);
  unknown.writeInt16BE(999, 4);
  assert.equal(
    code(() => decodeRequest(unknown)),
    CodecErrorCode.UnknownApi,
  );
  const badVersion = Buffer.from(f);
  badVersion.writeInt16BE(99, 6);
  assert.equal(
    code(() => decodeRequest(badVersion)),
    CodecErrorCode.UnsupportedVersion,
  );
  const trailing = Buffer.concat([f, Buffer.from([0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.equal(
    code(() => decodeRequest(trailing)),
    CodecErrorCode.TrailingBytes,
  );
  const lying = Buffer.from(f);
  lying.writeInt32BE(f.length, 0);
  assert.equal(
    code(() => decodeRequest(lying)),
    CodecErrorCode.InvalidLength,
  );
  assert.equal(
    code(() => decodeRequest(Buffer.from([0, 0, 0, 1, 0]))),
    CodecErrorCode.Truncated,
  );
});

test('cut-through: peeking at an incomplete frame and handing its bytes over loses and reorders nothing', () => {
  // Frames of 20 bytes to 40 KiB, forwarded the way the data path does: complete frames whole,
  // an incomplete frame of 8 KiB or more as its buffered pieces and then its remaining bytes.
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const frames: Buffer[] = [];
  for (let i = 0; i < 60; i++) {
    const size = i % 3 === 0 ? 8192 + rand(32768) : 16 + rand(2000);
    const f = Buffer.alloc(size + 4);
    f.writeInt32BE(size, 0);
    f.writeInt32BE(i, 4);
    for (let k = 8; k < f.length; k++) f[k] = (k * 31 + i) & 0xff;
    frames.push(f);
  }
  const stream = Buffer.concat(frames);
  for (let round = 0; round < 20; round++) {
    const d = new FrameDecoder(1 << 20);
    const out: Buffer[] = [];
    let left = 0;
    let cutThrough = 0;
    for (let pos = 0; pos < stream.length; ) {
      let chunk = stream.subarray(pos, Math.min(stream.length, pos + 1 + rand(70000)));
      pos += chunk.length;
      if (left > 0) {
        const n = Math.min(left, chunk.length);
        out.push(chunk.subarray(0, n));
        left -= n;
        chunk = chunk.subarray(n);
      }
      d.push(chunk);
      for (let f = d.next(); f !== null; f = d.next()) out.push(f);
      const size = d.peekInt32(0);
      if (size !== null && size + 4 >= 8192) {
        if (d.bufferedBytes >= 8) assert.equal(frames[d.peekInt32(4)!].readInt32BE(0), size, 'the id after the size names the frame');
        assert.equal(d.head(12).length, Math.min(12, d.bufferedBytes));
        left = size + 4 - d.bufferedBytes;
        out.push(...d.takeBuffered());
        assert.equal(d.bufferedBytes, 0);
        cutThrough++;
      }
    }
    assert.ok(cutThrough > 0, 'some frames were cut through');
    assert.equal(left, 0);
    assert.ok(Buffer.concat(out).equals(stream), `round ${round}: the forwarded bytes equal the input`);
  }
});

test('peekInt32 and head read across chunk boundaries', () => {
  const d = new FrameDecoder();
  const bytes = Buffer.from([0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe, 9, 9]);
  for (const b of bytes) d.push(Buffer.from([b]));
  assert.equal(d.peekInt32(0), 256);
  assert.equal(d.peekInt32(4), -2);
  assert.equal(d.peekInt32(7), null);
  assert.deepEqual([...d.head(6)], [0, 0, 1, 0, 0xff, 0xff]);
  assert.equal(d.head(100).length, 10);
});

/** The CodecError `fn` throws (fails when it throws anything else, or nothing). */
function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `not a CodecError: ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

/** A frame of the given size prefix followed by `body` bytes (the size prefix may lie). */
function rawFrame(size: number, body: number[] = []): Buffer {
  const f = Buffer.alloc(4 + body.length);
  f.writeInt32BE(size, 0);
  Buffer.from(body).copy(f, 4);
  return f;
}

test('frames are views of the chunk they arrived in, also after a chunk was used up exactly; an empty chunk changes nothing', () => {
  const one = metadataRequestFrame(1);
  const two = metadataRequestFrame(2);
  const d = new FrameDecoder();
  d.push(Buffer.alloc(0));
  d.push(one);
  d.push(Buffer.alloc(0));
  d.push(two);
  const [a, b] = drain(d);
  // Same memory, not a copy: what is written to the chunk shows in the frame.
  one.fill(0xaa);
  two.fill(0xbb);
  assert.ok(a.length === one.length && a.every((x) => x === 0xaa), 'the first frame is a view of its chunk');
  assert.ok(b.length === two.length && b.every((x) => x === 0xbb), 'the second frame is a view of its chunk');
  assert.equal(d.bufferedBytes, 0);
  assert.deepEqual(d.takeBuffered(), [], 'nothing left, not even an empty piece');
  assert.equal(d.head(8).length, 0);
});

test('takeBuffered hands over what is left of a partly read chunk, from the read position', () => {
  const one = metadataRequestFrame(1);
  const d = new FrameDecoder();
  d.push(Buffer.concat([one, Buffer.from([0, 0, 1, 0, 9, 9])]));
  assert.equal(drain(d).length, 1);
  assert.equal(d.bufferedBytes, 6);
  assert.deepEqual(
    d.takeBuffered().map((c) => [...c]),
    [[0, 0, 1, 0, 9, 9]],
  );
  assert.deepEqual(d.takeBuffered(), [], 'and then nothing');
  assert.equal(d.next(), null);
});

test('retainLast copies the unread bytes of the last chunk, so the read buffer they came from can be reused', () => {
  const read = Buffer.alloc(16);
  const d = new FrameDecoder();
  d.retainLast(); // nothing pushed: nothing to copy
  // One chunk, partly read: a 3-byte frame, then the start of the next one.
  read.set([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 4, 7]);
  d.push(read.subarray(0, 12));
  assert.deepEqual([...d.next()!], [0, 0, 0, 3, 1, 2, 3]);
  d.retainLast();
  read.fill(0xee); // the read buffer is reused for the next read
  assert.equal(d.peekInt32(0), 4);
  d.push(read.subarray(0, 2));
  d.retainLast();
  read.fill(0xdd);
  d.push(Buffer.from([0xaa, 0xbb]));
  assert.deepEqual([...d.next()!], [0, 0, 0, 4, 7, 0xee, 0xee, 0xaa]);
  assert.equal(d.bufferedBytes, 1);
});

test('retainLast keeps the read position in a partly read first chunk', () => {
  const read = Buffer.alloc(16);
  const d = new FrameDecoder();
  d.push(Buffer.from([0, 0, 0, 3, 1, 2, 3, 0, 0])); // a frame, then half of the next size prefix
  assert.deepEqual([...d.next()!], [0, 0, 0, 3, 1, 2, 3]);
  read.set([0, 2, 8, 9]);
  d.push(read.subarray(0, 4)); // the rest of that frame, in the read buffer
  d.retainLast();
  read.fill(0xee); // reused for the next read
  assert.deepEqual([...d.next()!], [0, 0, 0, 2, 8, 9]);
  assert.equal(d.bufferedBytes, 0);
});

test('the default maximum frame size is 100 MiB; the limit is checked against the size prefix alone', () => {
  assert.equal(DEFAULT_MAX_FRAME_SIZE, 100 * 1024 * 1024);
  const d = new FrameDecoder();
  d.push(rawFrame(DEFAULT_MAX_FRAME_SIZE));
  assert.equal(d.next(), null, 'at the maximum: waits for the bytes');
  const over = new FrameDecoder();
  over.push(rawFrame(DEFAULT_MAX_FRAME_SIZE + 1));
  assert.equal(
    codecError(() => over.next()).message,
    `frame size ${DEFAULT_MAX_FRAME_SIZE + 1} is outside 0..${DEFAULT_MAX_FRAME_SIZE} (max.frame.size); garbage bytes or a non-Kafka client?`,
  );
  const negative = new FrameDecoder();
  negative.push(rawFrame(-2));
  assert.equal(codecError(() => negative.next()).message, 'negative frame size -2; garbage bytes or a non-Kafka client?');
  // Size 0 is a frame (of no header): the decoder returns it, and decoding it reports the problem.
  const empty = new FrameDecoder();
  empty.push(rawFrame(0));
  const f = empty.next();
  assert.deepEqual(f && [...f], [0, 0, 0, 0]);
  assert.equal(codecError(() => decodeRequest(f!)).code, CodecErrorCode.Truncated);
});

test('header versions of APIs that are flexible from version 0', () => {
  assert.equal(apiCodec(ApiKey.ConsumerGroupHeartbeat)?.firstFlexibleVersion, 0);
  assert.equal(requestHeaderVersion(ApiKey.ConsumerGroupHeartbeat, 0), 2);
  assert.equal(responseHeaderVersion(ApiKey.ConsumerGroupHeartbeat, 0), 1);
  assert.equal(requestHeaderVersion(999, 0), 1, 'unknown APIs: the non-flexible header');
  assert.equal(responseHeaderVersion(999, 0), 0);
});

test('the client id is read in place; null, empty and truncated client ids read as empty', () => {
  const f = metadataRequestFrame(1);
  assert.equal(peekRequestClientId(f), 'test-client');
  assert.equal(peekRequestClientId(f.subarray(0, 14 + 'test-client'.length)), 'test-client', 'ends exactly with the client id');
  assert.equal(peekRequestClientId(f.subarray(0, 14 + 'test-client'.length - 1)), '');
  assert.equal(peekRequestClientId(f.subarray(0, 13)), '');
  const withLength = (n: number) => {
    const g = Buffer.from(f);
    g.writeInt16BE(n, 12);
    return g;
  };
  assert.equal(peekRequestClientId(withLength(-1)), '');
  assert.equal(peekRequestClientId(withLength(0)), '');
  assert.equal(peekRequestClientId(withLength(4)), 'test');
});

test('decoding errors say what does not add up, and where', () => {
  const f = metadataRequestFrame(1);
  assert.equal(codecError(() => decodeRequest(rawFrame(1, [0]))).message, 'frame of 5 bytes is too short for a header (at byte 0)');
  const lying = Buffer.from(f);
  lying.writeInt32BE(f.length, 0);
  assert.equal(
    codecError(() => decodeRequest(lying)).message,
    `frame size prefix ${f.length} does not match the ${f.length - 4} bytes that follow (at byte 0)`,
  );
  const unknown = Buffer.from(f);
  unknown.writeInt16BE(999, 4);
  assert.equal(codecError(() => decodeRequest(unknown)).message, 'unknown api key 999');
  const old = Buffer.from(f);
  old.writeInt16BE(ApiKey.Produce, 4);
  old.writeInt16BE(2, 6);
  const e = codecError(() => decodeRequest(old));
  assert.equal(e.code, CodecErrorCode.UnsupportedVersion, 'below the minimum version as well as above the maximum');
  assert.equal(e.message, 'Produce v2 is not supported (versions 3-13)');
  const trailing = Buffer.concat([f, Buffer.from([0, 0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.equal(codecError(() => decodeRequest(trailing)).message, `2 bytes left after the Metadata v12 request (at byte ${f.length})`);
  const response = encodeResponse(ApiKey.Metadata, 12, { correlationId: 9, _unknownTaggedFields: undefined }, defaultMetadataResponse());
  const longer = Buffer.concat([response, Buffer.from([0])]);
  longer.writeInt32BE(longer.length - 4, 0);
  assert.equal(
    codecError(() => decodeResponse(longer, ApiKey.Metadata, 12)).message,
    `1 bytes left after the Metadata v12 response (at byte ${response.length})`,
  );
  const lyingResponse = Buffer.from(response);
  lyingResponse.writeInt32BE(response.length - 5, 0);
  assert.equal(codecError(() => decodeResponse(lyingResponse, ApiKey.Metadata, 12)).code, CodecErrorCode.InvalidLength);
});

test('a decoder failure that is not a CodecError becomes one (Internal), with the original as its cause', () => {
  // Not a Buffer: the decoder's first Buffer method call fails with a TypeError.
  const e = codecError(() => decodeRequest(new Uint8Array(16) as Buffer));
  assert.equal(e.code, CodecErrorCode.Internal);
  assert.match(e.message, /^decoder failed: /);
  assert.ok(e.cause instanceof TypeError);
  assert.ok(e.message.endsWith(e.cause.message));
});

test('encoding a value a version cannot carry, or a null that is not nullable, is refused with the field named', () => {
  const header = (v: number): RequestHeader => ({
    requestApiKey: ApiKey.Metadata,
    requestApiVersion: v,
    correlationId: 1,
    clientId: 'c',
    _unknownTaggedFields: undefined,
  });
  const notCarried = codecError(() => encodeRequest(header(3), { ...defaultMetadataRequest(), allowAutoTopicCreation: false }));
  assert.equal(notCarried.code, CodecErrorCode.FieldNotInVersion);
  assert.equal(
    notCarried.message,
    'MetadataRequest.AllowAutoTopicCreation has a non-default value but version 3 cannot carry it; use a version that has the field or leave it at its default',
  );
  const nullName = codecError(() =>
    encodeRequest(header(9), { ...defaultMetadataRequest(), topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: null, _unknownTaggedFields: undefined }] }),
  );
  assert.equal(nullName.code, CodecErrorCode.UnexpectedNull);
  assert.equal(nullName.message, 'Name is null but is not nullable in version 9');
});

/** A Produce request frame (acks 1) with the given header and transactional id. */
function produceFrame(version: number, transactionalId: string | null, tagged?: RequestHeader['_unknownTaggedFields']): Buffer {
  const codec = apiCodec(ApiKey.Produce)!;
  const body = { ...codec.defaultRequest(), acks: 1, transactionalId, timeoutMs: 30000 };
  return encodeRequest({ requestApiKey: ApiKey.Produce, requestApiVersion: version, correlationId: 7, clientId: 'c', _unknownTaggedFields: tagged }, body);
}

test('acks are found behind long transactional ids (multi-byte varints)', () => {
  const txn = 't'.repeat(300);
  for (const v of [3, 8, 9, 13]) assert.equal(peekProduceAcks(produceFrame(v, txn)), 1, `v${v}, a 300-character transactional id`);
});

// A bug found by mutation testing (docs/mutation-testing.md), fixed: `pos += uvarint()` in
// peekProduceAcks read `pos` before uvarint() moved it past the size varint, so each header
// tagged field was skipped one varint short and the acks were read from the wrong bytes.
test('acks are found behind header tagged fields', () => {
  for (const v of [9, 13]) {
    assert.equal(peekProduceAcks(produceFrame(v, 'txn-1', [{ tag: 3, data: Buffer.from('abc') }])), 1, `v${v}`);
    assert.equal(
      peekProduceAcks(
        produceFrame(v, 'txn-1', [
          { tag: 3, data: Buffer.from('abc') },
          { tag: 200, data: Buffer.alloc(130, 1) },
        ]),
      ),
      1,
      `v${v}`,
    );
  }
});

test('a Produce frame that ends before its acks, or with an overlong varint, is refused with a CodecError', () => {
  for (const v of [3, 8, 9, 13]) {
    const f = produceFrame(v, 'txn-1');
    // Header (client id "c", then a tagged-field count from v9), transactional id "txn-1", acks.
    const acksEnd = 15 + (v >= 9 ? 1 + 1 + 5 : 2 + 5) + 2;
    assert.equal(peekProduceAcks(f.subarray(0, acksEnd)), 1, `v${v}: ends right after acks`);
    // From 8 bytes: a caller learns a frame is a Produce request from its api key and version.
    for (let end = 8; end < acksEnd; end++) {
      const e = codecError(() => peekProduceAcks(f.subarray(0, end)));
      assert.equal(e.code, CodecErrorCode.Truncated, `v${v} cut at ${end}`);
      assert.equal(e.message, `Produce v${v} request of ${end} bytes ends before its acks field (at byte ${e.offset})`);
    }
  }
  // The error names where the field that does not fit would start: here the tagged-field count.
  assert.equal(codecError(() => peekProduceAcks(produceFrame(9, 'txn-1').subarray(0, 15))).offset, 15);
  // A tagged-field count that is a varint of six bytes is refused before anything is read on.
  const f = Buffer.concat([produceFrame(9, null).subarray(0, 15), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0])]);
  const e = codecError(() => peekProduceAcks(f));
  assert.equal(e.code, CodecErrorCode.VarintTooLong);
  assert.equal(e.message, 'varint longer than 5 bytes in a Produce request header (at byte 20)');
});
