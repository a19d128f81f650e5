// Switches that cannot happen (issue 23, failure paths): to a streaming domain whose cluster does
// not answer, and to a domain the gateway does not know. Each must say so, leave the route where
// it was, and leave its clients writing and reading there with nothing acknowledged lost.
//
// Clusters fs-blue / fs-green as in fleet-scope.test.ts (shared by name in a run); the "dead"
// domain points at a port nothing listens on.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { testBed, type ClusterDescriptor } from '../../../src/testbed/index.ts';
import { Secret } from '../../../src/config/index.ts';
import type { StreamingDomainConfig } from '../../../src/config/types.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { defaultProduceRequest, defaultProduceRequestPartitionProduceData, defaultProduceRequestTopicProduceData } from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import type { SwitchReport } from '../../../src/control/switch-controller.ts';
import type { RouteStatus } from '../../../src/admin/server.ts';
import { createTopic } from '../../support/clients/kafkajs.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'failure-paths-token';
const SASL = { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'alice', password: new Secret('alice-secret') } } as const;

/** A port on 127.0.0.1 that nothing listens on (taken, then freed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function deadDomain(port: number): StreamingDomainConfig {
  return {
    name: 'dead',
    type: 'kafka',
    kafkaCluster: {
      name: 'dead',
      bootstrapServers: [{ id: 'sasl', endpoints: [{ host: '127.0.0.1', port }], security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'admin', password: new Secret('admin-secret') } } }],
    },
  };
}

async function switchRoute(gw: TestGateway, body: object): Promise<{ status: number; ms: number; report: Partial<SwitchReport> & { error?: string } }> {
  const started = performance.now();
  const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ by: 'failure-paths test', ...body }),
  });
  return { status: res.status, ms: Math.round(performance.now() - started), report: (await res.json()) as Partial<SwitchReport> & { error?: string } };
}

async function routeStatus(gw: TestGateway): Promise<RouteStatus> {
  const s = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { routes: RouteStatus[] };
  return s.routes.find((r) => r.name === 'orders')!;
}

describe('switches that cannot happen leave the route and its clients where they were', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let gw: TestGateway;
  const topic = uniqueName('fp-orders');

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'fs-blue', brokers: 1, nodeIdBase: 801 }),
      bed.cluster({ name: 'fs-green', brokers: 1, nodeIdBase: 901 }),
    ]);
    await createTopic({ bootstrap: blue.bootstrap() }, topic, { partitions: 1 });
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green'), deadDomain(await deadPort())],
      // Replicated (so that a planned switch is possible at all); nothing copies to "dead".
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', replication: { type: 'mirrormaker2', topics: 'fp-.*', groups: null } }],
      adminToken: TOKEN,
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('to an unreachable cluster (planned and hot) and to an unknown domain: refused with the reason, the route stays, writes go on', { timeout: 120_000 }, async (t) => {
    const [host, port] = gw.bootstrap.orders.split(':');
    const boot = await KafkaConnection.open({ host, port: Number(port) }, SASL);
    const md = await boot.request<MetadataResponse>(ApiKey.Metadata, 12, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    boot.close();
    const leader = md.brokers.find((b) => b.nodeId === md.topics[0].partitions[0].leaderId)!;
    const conn = await KafkaConnection.open({ host: leader.host, port: leader.port }, SASL);
    let written = 0;
    const produce = async (): Promise<number> => {
      const res = await conn.request<ProduceResponse>(ApiKey.Produce, 9, {
        ...defaultProduceRequest(), acks: -1, timeoutMs: 10_000,
        topicData: [{ ...defaultProduceRequestTopicProduceData(), name: topic, partitionData: [{ ...defaultProduceRequestPartitionProduceData(), index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(`r${written}`) }]) }] }],
      });
      const p = res.responses[0].partitionResponses[0];
      if (p.errorCode === 0) written++;
      return p.errorCode;
    };
    try {
      assert.equal(await produce(), 0, 'writes through the route before');

      for (const mode of ['planned', 'hot'] as const) {
        const r = await switchRoute(gw, { to: 'dead', mode });
        t.diagnostic(`${mode} switch to an unreachable cluster: HTTP ${r.status} in ${r.ms} ms: ${JSON.stringify(r.report.message ?? r.report.error)}`);
        assert.notEqual(r.status, 200, `${mode}: not a success (${JSON.stringify(r.report)})`);
        assert.match(String(r.report.message ?? r.report.error), /dead/, `${mode}: the message names the destination`);
        const s = await routeStatus(gw);
        assert.equal(s.domain, 'blue', `${mode}: the route stays on blue`);
        assert.equal(s.epoch, 0, `${mode}: no switch was committed`);
        assert.equal(await produce(), 0, `${mode}: writes through the route go on`);
      }

      const unknown = await switchRoute(gw, { to: 'purple' });
      t.diagnostic(`switch to an unknown domain: HTTP ${unknown.status}: ${JSON.stringify(unknown.report.error ?? unknown.report.message)}`);
      assert.ok(unknown.status >= 400 && unknown.status < 500, `an unknown domain is the caller's mistake (HTTP ${unknown.status})`);
      assert.match(String(unknown.report.error ?? unknown.report.message), /purple/);
      assert.equal((await routeStatus(gw)).domain, 'blue');
      assert.equal(await produce(), 0);
    } finally {
      conn.close();
    }
    // Every acknowledged write is on blue.
    const ends = await (await testBed()).tools().then((tools) => tools.endOffsets(blue.bootstrap(), topic));
    assert.equal(ends.get(0), written, `blue holds the ${written} acknowledged records`);
  });
});
