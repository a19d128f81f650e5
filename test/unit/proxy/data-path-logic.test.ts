// Pure pieces of the data path: broker port assignment, ApiVersions intersection, reading acks
// from Produce frames in place, and the filter chain's decode decisions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey, apiCodec, encodeRequest, peekProduceAcks } from '../../../src/protocol/index.ts';
import type { FilterContext } from '../../../src/proxy/filter.ts';
import { intersect } from '../../../src/proxy/filters/api-versions.ts';
import { builtInFilterChain, gatewayApiSupport } from '../../../src/proxy/filters/index.ts';
import { BrokerPorts } from '../../../src/routing/broker-ports.ts';

test('broker ports are a pure function of the node id, the same in every process', () => {
  const p = new BrokerPorts(19093, 16);
  assert.deepEqual(
    [0, 1, 2, 101, 102, 103].map((n) => p.portOf(n)),
    [19093, 19094, 19095, 19098, 19099, 19100],
  );
  assert.equal(p.slotOfPort(19093 + 15), 15);
  assert.equal(p.slotOfPort(19093 + 16), -1);
  assert.equal(p.slotOfPort(19092), -1);
  assert.equal(p.ports().length, 16);
});

test('a gateway port maps back to its slot; ports outside the range (above or below) to -1', () => {
  const p = new BrokerPorts(19093, 4);
  assert.deepEqual(p.ports(), [19093, 19094, 19095, 19096]);
  assert.deepEqual(
    p.ports().map((port) => p.slotOfPort(port)),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    [19092, 19000, 0, 19097].map((port) => p.slotOfPort(port)),
    [-1, -1, -1, -1],
  );
  assert.deepEqual(
    [-1, -4, -5].map((n) => p.portOf(n)),
    [19096, 19093, 19096],
    'negative ids still land in the range',
  );
});

test('ApiVersions keeps only versions both the broker and the gateway handle', () => {
  const broker = [
    { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 99 },
    { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 99 },
    { apiKey: 9999, minVersion: 0, maxVersion: 1 },
  ].map((k) => ({ ...k, _unknownTaggedFields: undefined }));
  const out = intersect(broker, gatewayApiSupport);
  const metadata = apiCodec(ApiKey.Metadata)!;
  assert.deepEqual(
    out.map((k) => [k.apiKey, k.minVersion, k.maxVersion]),
    [
      // Produce crosses opaque below v10, so old versions the broker keeps stay advertised; it
      // stops at v12, the last version that names topics (see VERSION_CAPS).
      [ApiKey.Produce, 0, 12],
      [ApiKey.Metadata, metadata.minVersion, metadata.maxVersion],
      // An api key the codec does not know is not advertised.
    ],
  );
});

test('controller-only APIs are never advertised to clients', () => {
  assert.equal(gatewayApiSupport(ApiKey.Vote), null);
  assert.equal(gatewayApiSupport(ApiKey.BrokerHeartbeat), null);
});

test('acks is read in place from Produce frames of every version', () => {
  const codec = apiCodec(ApiKey.Produce)!;
  for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
    for (const acks of [0, 1, -1]) {
      for (const transactionalId of [null, 'txn-1']) {
        const body = { ...codec.defaultRequest(), acks, transactionalId, timeoutMs: 30000 };
        const frame = encodeRequest(
          { requestApiKey: ApiKey.Produce, requestApiVersion: v, correlationId: 7, clientId: 'c'.repeat(200), _unknownTaggedFields: undefined },
          body,
        );
        assert.equal(peekProduceAcks(frame), acks, `v${v} acks=${acks} txn=${transactionalId}`);
      }
    }
  }
  // v0-2 (no transactional id), which the codec does not model: header, then acks.
  const header = Buffer.alloc(4 + 2 + 2 + 4 + 2 + 1);
  header.writeInt32BE(header.length - 4 + 2, 0);
  header.writeInt16BE(ApiKey.Produce, 4);
  header.writeInt16BE(2, 6);
  header.writeInt32BE(1, 8);
  header.writeInt16BE(1, 12);
  header.write('x', 14);
  const acks = Buffer.alloc(2);
  acks.writeInt16BE(0);
  assert.equal(peekProduceAcks(Buffer.concat([header, acks])), 0);
});

test('a Produce frame cut before acks is reported, not misread', () => {
  const frame = Buffer.alloc(14);
  frame.writeInt16BE(ApiKey.Produce, 4);
  frame.writeInt16BE(9, 6);
  frame.writeInt16BE(-1, 12);
  assert.throws(() => peekProduceAcks(frame), { code: 'TURNOUT_CODEC_TRUNCATED' });
});

test('only responses that carry broker addresses, topic ids, producer ids or topics a client may be refused, ApiVersions and SaslHandshake v0 are decoded', () => {
  const chain = builtInFilterChain();
  const decoded = (k: number, v: number) => chain.responseFilters(k, v) !== null;
  // Produce answers take back the refusals of protected topics (proxy/protected-topics.ts): every
  // version the codec reads (v3+); older ones cross opaque and are refused by closing.
  assert.equal(decoded(ApiKey.Produce, 2), false);
  assert.equal(decoded(ApiKey.Produce, 9), true);
  assert.equal(decoded(ApiKey.Produce, 10), true);
  // Fetch answers are never decoded below v16 (a Fetch with a refused topic is answered by the gateway).
  assert.equal(decoded(ApiKey.Fetch, 12), false);
  assert.equal(decoded(ApiKey.Fetch, 15), false);
  assert.equal(decoded(ApiKey.Fetch, 16), true);
  assert.equal(decoded(ApiKey.Metadata, 0), true);
  assert.equal(decoded(ApiKey.OffsetCommit, 9), true);
  assert.equal(decoded(ApiKey.ApiVersions, 3), true);
  assert.equal(decoded(ApiKey.SaslHandshake, 0), true);
  assert.equal(decoded(ApiKey.SaslHandshake, 1), false);
  assert.notEqual(chain.requestFilters(ApiKey.ApiVersions), null);
  // Topic ids: Metadata from v10, KIP-848 heartbeats, InitProducerId (producer ids).
  assert.equal(decoded(ApiKey.Metadata, 10), true);
  assert.equal(decoded(ApiKey.ConsumerGroupHeartbeat, 0), true);
  assert.equal(decoded(ApiKey.InitProducerId, 4), true);
  // OffsetFetch of all of a group's topics lists them: the gateway's own are taken out.
  assert.equal(decoded(ApiKey.OffsetFetch, 9), true);
  assert.equal(decoded(ApiKey.OffsetFetch, 10), true);
  // Group coordination and other topic-free answers stay opaque.
  for (const k of [ApiKey.Heartbeat, ApiKey.ListGroups, ApiKey.DescribeGroups, ApiKey.EndTxn, ApiKey.AddOffsetsToTxn, ApiKey.DescribeCluster]) {
    assert.equal(decoded(k, apiCodec(k)!.maxVersion), k === ApiKey.DescribeCluster, `api key ${k}`);
  }
  // Fetch requests: protected topics (decoded only when their bytes name one) and topics in use
  // (at most once a second per connection).
  assert.deepEqual(
    chain.requestFilters(ApiKey.Fetch)?.map((f) => f.name),
    ['protected-topics', 'topic-usage'],
  );
  // Produce requests: protected topics, producer ids and topics in use; all let a known producer's
  // requests cut through.
  assert.deepEqual(
    chain.requestFilters(ApiKey.Produce)?.map((f) => f.name),
    ['protected-topics', 'producer-ids', 'topic-usage'],
  );
});

test('per request, a Produce or OffsetCommit answer is decoded only when part of the request was refused; listings always are', () => {
  const chain = builtInFilterChain();
  const ctx = { state: new Map<string, unknown>() } as unknown as FilterContext;
  assert.equal(chain.responseFiltersFor(ctx, ApiKey.Produce, 9, 7), null, 'a Produce answer crosses opaque');
  assert.equal(chain.responseFiltersFor(ctx, ApiKey.OffsetCommit, 9, 7), null);
  assert.notEqual(chain.responseFiltersFor(ctx, ApiKey.Produce, 10, 7), null, 'v10+ answers carry broker addresses');
  assert.notEqual(chain.responseFiltersFor(ctx, ApiKey.Metadata, 12, 7), null);
  assert.notEqual(chain.responseFiltersFor(ctx, ApiKey.OffsetFetch, 9, 7), null);
  // A request with a refused part leaves a pending refusal for its answer.
  ctx.state.set('protected-topics', { pending: new Map([[7, { apiKey: ApiKey.Produce, refusal: {} }]]) });
  assert.notEqual(chain.responseFiltersFor(ctx, ApiKey.Produce, 9, 7), null);
  assert.equal(chain.responseFiltersFor(ctx, ApiKey.Produce, 9, 8), null);
});

test('Fetch and Produce are advertised up to v12, the last versions that name topics instead of using topic ids', () => {
  assert.equal(gatewayApiSupport(ApiKey.Fetch)?.max, 12);
  assert.equal(gatewayApiSupport(ApiKey.Produce)?.max, 12);
  assert.ok((gatewayApiSupport(ApiKey.Metadata)?.max ?? 0) >= 12, 'other APIs are not capped');
});
