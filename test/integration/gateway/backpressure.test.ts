// Backpressure: a slow side costs the gateway a bounded buffer, not memory without end. A client
// that does not read makes the gateway stop reading from its broker connection (TCP then pushes
// back on the broker); a client that writes faster than its broker reads makes the gateway stop
// reading from the client. Either way every response arrives, in order, once the slow side moves.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, decodeResponse, peekResponseCorrelationId } from '../../../src/protocol/index.ts';
import type { ConnectionStats, ProxyConnection } from '../../../src/proxy/connection.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { createTopic, eventually, fetchRequest, longPollFetch, RawKafkaClient } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROUTE = 'plain';
const CAP = 256 * 1024;
const RECORDS = 20_000;
const RECORD_SIZE = 1000;
const CHUNK = 64 * 1024; // the most a socket read hands the gateway at once

describe('backpressure through the gateway', () => {
  let cluster: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const clients: RawKafkaClient[] = [];

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    tools = await bed.tools();
    gw = await startGateway({
      domains: [domainFor(cluster)],
      routes: [{ name: ROUTE, domain: 'k4-single', listener: 'plaintext' }],
      limits: { maxBufferedBytesPerConnection: CAP },
    });
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await tools?.stopAll();
    await gw?.stop();
  });

  async function connect(): Promise<{ client: RawKafkaClient; conn: ProxyConnection }> {
    const client = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
    clients.push(client);
    const port = client.socket.localPort;
    // The gateway's side of this client's connection.
    const conn = await eventually('the gateway connection', () => gw.gateway.connections(ROUTE).find((c) => c.log.bindings().client === `127.0.0.1:${port}`));
    return { client, conn };
  }

  /** Samples stats every 5 ms until `until` holds (and `holdMs` more), keeping the maximum of `field`. */
  async function watch(
    conn: ProxyConnection,
    field: 'bufferedToClient' | 'bufferedToUpstream',
    until: (s: ConnectionStats) => boolean,
    holdMs: number,
    timeoutMs: number,
  ): Promise<{ max: number; last: ConnectionStats }> {
    let max = 0;
    let reachedAt = 0;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = conn.stats();
      max = Math.max(max, s[field]);
      if (reachedAt === 0 && until(s)) reachedAt = Date.now();
      if (reachedAt !== 0 && Date.now() - reachedAt >= holdMs) return { max, last: s };
      if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms; last stats ${JSON.stringify(s)}, max ${field} ${max}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  test('a client that does not read: the gateway pauses its broker reads, stays bounded, and delivers every response in order later', async (t) => {
    const topic = uniqueName('gw-backpressure');
    const filled = await tools.run(KafkaTool.ProducerPerformance, [
      ...tools.connectionArgs(KafkaTool.ProducerPerformance, cluster.bootstrap()),
      '--topic',
      topic,
      '--num-records',
      String(RECORDS),
      '--record-size',
      String(RECORD_SIZE),
      '--throughput',
      '-1',
      '--producer-props',
      'acks=1',
      'linger.ms=20',
      'batch.size=131072',
    ]);
    assert.equal(filled.exitCode, 0, filled.stderr);

    const { client, conn } = await connect();
    client.socket.pause();
    // 40 Fetches of up to 1 MB each: twice the topic, far more than socket buffers hold.
    const offsets: bigint[] = [];
    for (let i = 0; i < 40; i++) {
      const offset = BigInt((i % 20) * 1000);
      offsets.push(offset);
      client.send(ApiKey.Fetch, 12, fetchRequest(topic, offset, { maxBytes: 1024 * 1024 }));
    }

    const paused = await watch(conn, 'bufferedToClient', (s) => s.upstreamReadsPaused, 500, 20_000);
    assert.equal(paused.last.upstreamReadsPaused, true, 'broker reads stay paused while the client does not read');
    const bytesWhilePaused = paused.last.bufferedToClient;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(conn.stats().bufferedToClient, bytesWhilePaused, 'nothing more is written towards the client while paused');

    client.socket.resume();
    let largest = 0;
    for (let i = 0; i < offsets.length; i++) {
      const frame = await client.frame(20_000);
      largest = Math.max(largest, frame.length);
      assert.equal(peekResponseCorrelationId(frame), i + 1, 'responses arrive in request order');
      const body = decodeResponse<FetchResponse>(frame, ApiKey.Fetch, 12).body;
      const p = body.responses[0].partitions[0];
      assert.equal(p.errorCode, 0);
      assert.ok(p.records !== null && p.records.length > 900_000, `response ${i + 1} carries about a megabyte (${p.records?.length})`);
      const baseOffset = Buffer.from(p.records.buffer, p.records.byteOffset, 8).readBigInt64BE(0);
      assert.ok(baseOffset <= offsets[i] && baseOffset > offsets[i] - 1000n, `response ${i + 1} starts at offset ${offsets[i]} (batch base ${baseOffset})`);
    }
    t.diagnostic(`max buffered towards the client ${paused.max} bytes (cap ${CAP}, largest frame ${largest})`);
    assert.ok(paused.max > CAP, 'the client side buffer did fill up to the cap');
    assert.ok(paused.max <= CAP + largest + CHUNK, `buffered towards the client ${paused.max} > cap ${CAP} + largest frame ${largest}`);
    const end = await eventually('the connection to settle', () => (conn.stats().bufferedToClient === 0 ? conn.stats() : undefined));
    assert.deepEqual([end.inFlight, end.upstreamReadsPaused], [0, false]);
  });

  test('a client that writes faster than its broker reads: the gateway pauses client reads, stays bounded, and answers everything in order', async (t) => {
    const topic = uniqueName('gw-backpressure-idle');
    await createTopic(cluster.bootstrap(), topic);
    const { client, conn } = await connect();
    // A broker handles one request per connection at a time: while this Fetch waits 4 s, the
    // broker reads nothing more from the gateway's upstream connection.
    const fetchId = client.send(ApiKey.Fetch, 12, longPollFetch(topic, 4000));
    await eventually('the Fetch to be in flight', () => conn.stats().inFlight === 1);
    // ~18 MB of Metadata requests (30 KB client ids): more than the socket buffers on the way hold.
    const clientId = 'x'.repeat(30_000);
    const metadataIds: number[] = [];
    for (let i = 0; i < 600; i++)
      metadataIds.push(client.send(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false }, clientId));
    const requestFrame = 30_000 + 40;

    const paused = await watch(conn, 'bufferedToUpstream', (s) => s.clientReadsPaused, 300, 4000);
    assert.equal(paused.last.clientReadsPaused, true);
    t.diagnostic(`max buffered towards the broker ${paused.max} bytes (cap ${CAP})`);
    assert.ok(paused.max > CAP, 'the broker side buffer did fill up to the cap');
    assert.ok(paused.max <= CAP + CHUNK + requestFrame, `buffered towards the broker ${paused.max} > cap ${CAP} + one read`);

    const fetched = await client.response<FetchResponse>(fetchId, ApiKey.Fetch, 12, 10_000);
    assert.equal(fetched.responses[0].partitions[0].errorCode, 0);
    for (const id of metadataIds) {
      const md = await client.response<MetadataResponse>(id, ApiKey.Metadata, 12, 10_000);
      assert.equal(md.clusterId, gw.gateway.routes.find((r) => r.name === ROUTE)!.config.clusterId, "clients see the route's cluster id, not the upstream's");
    }
    const end = await eventually('the connection to settle', () => (conn.stats().inFlight === 0 ? conn.stats() : undefined));
    assert.deepEqual([end.bufferedToUpstream, end.clientReadsPaused], [0, false]);
  });
});
