// Broker address rewriting, response by response: every upstream host:port becomes the gateway
// address that serves that broker, the upstream address is recorded for the gateway port, "no node"
// (-1) is left alone, and the filter says whether it changed the response (so an unchanged one
// can be forwarded as it came).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey, type DecodedResponse } from '../../../src/protocol/index.ts';
import type { FilterContext } from '../../../src/proxy/filter.ts';
import { BrokerAddressFilter } from '../../../src/proxy/filters/broker-addresses.ts';
import type { Route } from '../../../src/routing/route.ts';

const GATEWAY = 'gw.example';
/** Controller 99 is not a broker the gateway serves. */
const CONTROLLER = 99;

function context() {
  const learned: [number, string, number][] = [];
  const route = {
    learnBroker: (nodeId: number, host: string, port: number) => learned.push([nodeId, host, port]),
    gatewayAddress: (nodeId: number) => ({ host: GATEWAY, port: 19_000 + nodeId }),
    knowsBroker: (nodeId: number) => nodeId !== CONTROLLER,
  } as unknown as Route;
  const ctx = { id: 1, route, state: new Map(), clientHost: '10.0.0.1', epoch: 0, domain: 'blue' } as unknown as FilterContext;
  return { ctx, learned };
}

function rewrite(apiKey: number, apiVersion: number, body: object): { changed: boolean; learned: [number, string, number][] } {
  const { ctx, learned } = context();
  const response: DecodedResponse = { header: { correlationId: 1, _unknownTaggedFields: undefined }, headerVersion: 1, body };
  const changed = new BrokerAddressFilter().onResponse(ctx, apiKey, apiVersion, response);
  return { changed, learned };
}

const node = (nodeId: number, host = `kafka-${nodeId}`, port = 9092) => ({ nodeId, host, port, rack: null });

test('Metadata: every broker gets the gateway address of its port; the upstream address is recorded', () => {
  const body = { brokers: [node(0), node(1, 'kafka-1', 9093)] };
  const r = rewrite(ApiKey.Metadata, 12, body);
  assert.equal(r.changed, true);
  assert.deepEqual(
    body.brokers.map((b) => [b.nodeId, b.host, b.port]),
    [
      [0, GATEWAY, 19_000],
      [1, GATEWAY, 19_001],
    ],
  );
  assert.deepEqual(r.learned, [
    [0, 'kafka-0', 9092],
    [1, 'kafka-1', 9093],
  ]);
  assert.deepEqual(rewrite(ApiKey.Metadata, 12, { brokers: [] }), { changed: false, learned: [] });
});

test('FindCoordinator: v0-3 answer at the top level, v4+ in the coordinators list; "no coordinator" (-1) stays as it is', () => {
  const v3 = { nodeId: 2, host: 'kafka-2', port: 9092, coordinators: [] };
  assert.deepEqual(rewrite(ApiKey.FindCoordinator, 3, v3), { changed: true, learned: [[2, 'kafka-2', 9092]] });
  assert.deepEqual([v3.host, v3.port], [GATEWAY, 19_002]);

  // v4+: the top-level fields are not part of the version and are left alone.
  const v4 = {
    nodeId: 7,
    host: 'unused',
    port: 1,
    coordinators: [
      { key: 'g1', ...node(3) },
      { key: 'g2', ...node(-1, '', -1) },
    ],
  };
  const r = rewrite(ApiKey.FindCoordinator, 4, v4);
  assert.equal(r.changed, true, 'a coordinator before a "no coordinator" still counts');
  assert.deepEqual(r.learned, [[3, 'kafka-3', 9092]]);
  assert.deepEqual([v4.host, v4.port], ['unused', 1]);
  assert.deepEqual(
    v4.coordinators.map((c) => [c.host, c.port]),
    [
      [GATEWAY, 19_003],
      ['', -1],
    ],
  );

  assert.deepEqual(rewrite(ApiKey.FindCoordinator, 4, { coordinators: [{ key: 'g', ...node(-1, '', -1) }] }), { changed: false, learned: [] });
  assert.deepEqual(rewrite(ApiKey.FindCoordinator, 0, { nodeId: -1, host: '', port: -1, coordinators: [] }), { changed: false, learned: [] });
});

test('DescribeCluster: brokers (named by broker id) are rewritten and recorded', () => {
  const body = {
    brokers: [
      { brokerId: 0, host: 'kafka-0', port: 9092, rack: null },
      { brokerId: 4, host: 'kafka-4', port: 9094, rack: 'r1' },
    ],
  };
  const r = rewrite(ApiKey.DescribeCluster, 1, body);
  assert.equal(r.changed, true);
  assert.deepEqual(
    body.brokers.map((b) => [b.brokerId, b.host, b.port, b.rack]),
    [
      [0, GATEWAY, 19_000, null],
      [4, GATEWAY, 19_004, 'r1'],
    ],
  );
  assert.deepEqual(r.learned, [
    [0, 'kafka-0', 9092],
    [4, 'kafka-4', 9094],
  ]);
  assert.deepEqual(rewrite(ApiKey.DescribeCluster, 1, { brokers: [] }), { changed: false, learned: [] });
  const absent = { brokers: [{ brokerId: -1, host: 'x', port: 1, rack: null }] };
  assert.deepEqual(rewrite(ApiKey.DescribeCluster, 1, absent), { changed: false, learned: [] });
  assert.deepEqual([absent.brokers[0].host, absent.brokers[0].port], ['x', 1]);
});

test('DescribeQuorum: controllers are masked (gateway host, port 0) unless the id is a broker the gateway serves', () => {
  const body = {
    nodes: [
      {
        nodeId: 1,
        listeners: [
          { name: 'CONTROLLER', host: 'kafka-1', port: 9093 },
          { name: 'OTHER', host: 'kafka-1', port: 9095 },
        ],
      },
      { nodeId: CONTROLLER, listeners: [{ name: 'CONTROLLER', host: 'ctl', port: 9093 }] },
    ],
  };
  const r = rewrite(ApiKey.DescribeQuorum, 2, body);
  assert.equal(r.changed, true);
  assert.deepEqual(r.learned, [], 'controller addresses are not broker addresses');
  assert.deepEqual(
    body.nodes.flatMap((n) => n.listeners.map((l) => [n.nodeId, l.host, l.port])),
    [
      [1, GATEWAY, 19_001],
      [1, GATEWAY, 19_001],
      [CONTROLLER, GATEWAY, 0],
    ],
  );
  assert.equal(rewrite(ApiKey.DescribeQuorum, 2, { nodes: [] }).changed, false);
  assert.equal(rewrite(ApiKey.DescribeQuorum, 2, { nodes: [{ nodeId: 1, listeners: [] }] }).changed, false);
});

test('Produce, Fetch, ShareFetch and ShareAcknowledge: the KIP-951 node endpoints are rewritten', () => {
  for (const [apiKey, version] of [
    [ApiKey.Produce, 10],
    [ApiKey.Fetch, 16],
    [ApiKey.ShareFetch, 0],
    [ApiKey.ShareAcknowledge, 0],
  ]) {
    const body = { nodeEndpoints: [node(5), node(-1)] };
    const r = rewrite(apiKey, version, body);
    assert.equal(r.changed, true, `api ${apiKey}`);
    assert.deepEqual(r.learned, [[5, 'kafka-5', 9092]]);
    assert.deepEqual(
      body.nodeEndpoints.map((n) => [n.host, n.port]),
      [
        [GATEWAY, 19_005],
        ['kafka--1', 9092],
      ],
    );
    assert.deepEqual(rewrite(apiKey, version, { nodeEndpoints: [] }), { changed: false, learned: [] });
  }
  assert.deepEqual(rewrite(ApiKey.Produce, 10, {}), { changed: false, learned: [] }, 'no node endpoints at all');
});

test('only responses that can carry an address are asked for, from the first version that can', () => {
  const f = new BrokerAddressFilter();
  assert.equal(f.wantsResponse(ApiKey.Metadata, 0), true);
  assert.equal(f.wantsResponse(ApiKey.Produce, 9), false);
  assert.equal(f.wantsResponse(ApiKey.Produce, 10), true);
  assert.equal(f.wantsResponse(ApiKey.DescribeQuorum, 1), false);
  assert.equal(f.wantsResponse(ApiKey.DescribeQuorum, 2), true);
  assert.equal(f.wantsResponse(ApiKey.Heartbeat, 4), false);
});
