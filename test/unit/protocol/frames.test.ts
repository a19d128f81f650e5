// Frame splitting and header rules: frames split across chunks or packed into one chunk,
// size limits, header versions (including the ApiVersions exception), peeking, and the
// errors decoding returns for frames that do not add up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiKey, CodecError, CodecErrorCode, FrameDecoder, decodeRequest, decodeRequestHeader, decodeResponse,
  encodeRequest, encodeResponse, peekApiKey, peekApiVersion, peekRequestCorrelationId, peekResponseCorrelationId,
  requestHeaderVersion, responseHeaderVersion,
} from '../../../src/protocol/index.ts';
import { defaultMetadataRequest, type MetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import { defaultApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import { defaultMetadataResponse, type MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';

function metadataRequestFrame(correlationId: number, version = 12): Buffer {
  const body: MetadataRequest = { ...defaultMetadataRequest(), topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'orders', _unknownTaggedFields: undefined }] };
  return encodeRequest({ requestApiKey: ApiKey.Metadata, requestApiVersion: version, correlationId, clientId: 'test-client', _unknownTaggedFields: undefined }, body);
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
    assert.deepEqual(got.map((f) => peekRequestCorrelationId(f)), [1, 2, 3], `cut at ${cut}`);
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
  assert.throws(() => d.next(), (e: unknown) => e instanceof CodecError && e.code === CodecErrorCode.FrameTooLarge);
  const n = new FrameDecoder(100);
  n.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2]));
  assert.throws(() => n.next(), (e: unknown) => e instanceof CodecError && e.code === CodecErrorCode.InvalidLength);
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
  const body: MetadataResponse = { ...defaultMetadataResponse(), clusterId: 'abc', brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: null, _unknownTaggedFields: undefined }] };
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
  assert.equal(code(() => decodeRequest(unknown)), CodecErrorCode.UnknownApi);
  const badVersion = Buffer.from(f);
  badVersion.writeInt16BE(99, 6);
  assert.equal(code(() => decodeRequest(badVersion)), CodecErrorCode.UnsupportedVersion);
  const trailing = Buffer.concat([f, Buffer.from([0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.equal(code(() => decodeRequest(trailing)), CodecErrorCode.TrailingBytes);
  const lying = Buffer.from(f);
  lying.writeInt32BE(f.length, 0);
  assert.equal(code(() => decodeRequest(lying)), CodecErrorCode.InvalidLength);
  assert.equal(code(() => decodeRequest(Buffer.from([0, 0, 0, 1, 0]))), CodecErrorCode.Truncated);
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
    for (let pos = 0; pos < stream.length;) {
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
