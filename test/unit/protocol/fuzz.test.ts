// Decoders fed random and mutated frames: every failure is a CodecError with a code other
// than Internal (which would mean an unguarded bug), nothing hangs, and huge lengths or
// counts are rejected before allocation. TURNOUT_FUZZ_ITERATIONS raises the count on demand.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  API_CODECS,
  CodecError,
  CodecErrorCode,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  FrameDecoder,
  requestHeaderVersion,
  Writer,
} from '../../../src/protocol/index.ts';
import { allMessageVersions, loadMessage, populate, prng } from '../../support/messages.ts';

const ITERATIONS = Number(process.env.TURNOUT_FUZZ_ITERATIONS ?? 20000);

interface Seed {
  apiKey: number;
  version: number;
  request: Buffer;
  responseBody: Buffer;
}

async function seeds(): Promise<Seed[]> {
  const out: Seed[] = [];
  let s = 1;
  for (const { name, version } of allMessageVersions()) {
    const m = await loadMessage(name);
    if (m.schema.type !== 'request') continue;
    const res = await loadMessage(name.replace(/Request$/, 'Response'));
    const req = populate(m, version, prng(s++));
    const apiKey = m.schema.apiKey as number;
    const request = encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: version, correlationId: s, clientId: 'fuzz', _unknownTaggedFields: undefined },
      req,
    );
    const w = new Writer();
    res.write(w, version, populate(res, version, prng(s++)));
    out.push({ apiKey, version, request, responseBody: w.toBuffer() });
  }
  return out;
}

function responseFrame(seed: Seed, body: Buffer): Buffer {
  // Response header: correlation id, plus an empty tagged-field section when flexible (not for ApiVersions).
  const flexibleHeader = seed.apiKey !== 18 && requestHeaderVersion(seed.apiKey, seed.version) === 2;
  const head = Buffer.alloc(flexibleHeader ? 9 : 8);
  head.writeInt32BE(4 + (flexibleHeader ? 1 : 0) + body.length, 0);
  head.writeInt32BE(1, 4);
  return Buffer.concat([head, body]);
}

function mutate(buf: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(buf);
  const at = (): number => Math.floor(rand() * b.length);
  switch (Math.floor(rand() * 7)) {
    case 0: // flip a few bytes
      for (let i = 0; i < 1 + rand() * 4; i++) if (b.length > 4) b[4 + (at() % (b.length - 4))] = Math.floor(rand() * 256);
      return b;
    case 1: {
      // truncate (and keep the size prefix honest so the body decoder sees it)
      const t = b.subarray(0, Math.max(4, at()));
      const c = Buffer.from(t);
      c.writeInt32BE(c.length - 4, 0);
      return c;
    }
    case 2: {
      // huge int32 length or count somewhere
      if (b.length >= 12) b.writeInt32BE(rand() < 0.5 ? 0x7fffffff : -2 - Math.floor(rand() * 1000), 8 + (at() % (b.length - 11)));
      return b;
    }
    case 3: {
      // a run of 0xff: varints that never end, negative lengths
      const p = 4 + (at() % Math.max(1, b.length - 4));
      for (let i = p; i < Math.min(b.length, p + 6); i++) b[i] = 0xff;
      return b;
    }
    case 4: {
      // random bytes appended
      const extra = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)));
      const c = Buffer.concat([b, extra]);
      c.writeInt32BE(c.length - 4, 0);
      return c;
    }
    case 5: {
      // pure garbage with a plausible prefix
      const n = Math.floor(rand() * 64);
      const g = Buffer.from(Array.from({ length: n + 8 }, () => Math.floor(rand() * 256)));
      g.writeInt32BE(g.length - 4, 0);
      return g;
    }
    default: {
      // huge int16 string length
      if (b.length >= 10) b.writeInt16BE(0x7fff, 4 + (at() % (b.length - 5)));
      return b;
    }
  }
}

function expectCodecErrorOnly(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CodecError)) throw new assert.AssertionError({ message: `${what}: threw ${String(e)} instead of a CodecError` });
    if (e.code === CodecErrorCode.Internal) throw new assert.AssertionError({ message: `${what}: internal decoder error: ${String(e.cause)}` });
  }
}

test(`decoders fail only with CodecError on ${ITERATIONS} random and mutated frames`, async () => {
  const all = await seeds();
  const rand = prng(20261120);
  const codes = new Map<string, number>();
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = all[Math.floor(rand() * all.length)];
    const req = mutate(seed.request, rand);
    expectCodecErrorOnly(() => decodeRequest(req), `request mutation ${i} of api ${seed.apiKey} v${seed.version}`);
    const res = mutate(responseFrame(seed, seed.responseBody), rand);
    try {
      decodeResponse(res, seed.apiKey, seed.version);
    } catch (e) {
      expectCodecErrorOnly(() => {
        throw e;
      }, `response mutation ${i} of api ${seed.apiKey} v${seed.version}`);
      const c = (e as CodecError).code;
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
  }
  assert.ok(codes.size >= 3, `mutations should hit several error kinds, got ${[...codes.keys()]}`);
});

test('every API decodes its own unmutated seed frames (the fuzz corpus is valid)', async () => {
  for (const seed of await seeds()) {
    decodeRequest(seed.request);
    decodeResponse(responseFrame(seed, seed.responseBody), seed.apiKey, seed.version);
  }
  assert.ok(API_CODECS.length > 80);
});

test('a count of 2^31-1 elements is rejected at once without allocating', () => {
  // Metadata v12 request body: topics as a compact array with a huge count.
  const head = encodeRequest(
    { requestApiKey: 3, requestApiVersion: 12, correlationId: 1, clientId: 'x', _unknownTaggedFields: undefined },
    {
      topics: [],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
      _unknownTaggedFields: undefined,
    },
  );
  const bodyStart = head.length - 4; // topics (1 byte) + 2 bools + tagged count
  const frame = Buffer.concat([head.subarray(0, bodyStart), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]), Buffer.from([1, 0, 0, 0])]);
  frame.writeInt32BE(frame.length - 4, 0);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => decodeRequest(frame),
    (e: unknown) => e instanceof CodecError && e.code === CodecErrorCode.InvalidLength,
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
});

test('a varint longer than five bytes is rejected', () => {
  const head = encodeRequest(
    { requestApiKey: 3, requestApiVersion: 12, correlationId: 1, clientId: 'x', _unknownTaggedFields: undefined },
    {
      topics: [],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
      _unknownTaggedFields: undefined,
    },
  );
  const frame = Buffer.concat([head.subarray(0, head.length - 4), Buffer.alloc(8, 0xff)]);
  frame.writeInt32BE(frame.length - 4, 0);
  assert.throws(
    () => decodeRequest(frame),
    (e: unknown) => e instanceof CodecError && e.code === CodecErrorCode.VarintTooLong,
  );
});

test('the frame decoder never buffers a frame it will reject', () => {
  const rand = prng(99);
  for (let i = 0; i < 2000; i++) {
    const d = new FrameDecoder(4096);
    const g = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 32) }, () => Math.floor(rand() * 256)));
    d.push(g);
    try {
      while (d.next() !== null) {
        /* drain */
      }
    } catch (e) {
      assert.ok(e instanceof CodecError && (e.code === CodecErrorCode.FrameTooLarge || e.code === CodecErrorCode.InvalidLength));
    }
    assert.ok(d.bufferedBytes <= g.length);
  }
});
