// Bad input costs one connection, never the gateway: garbage, oversized, negative and truncated
// frames, unknown API keys, clients that vanish mid-frame or with requests in flight, and a route
// whose cluster is unreachable each close that connection with one logged reason and a counted
// error, and the next client is served normally.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StreamingDomainConfig } from '../../../src/config/types.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { domainFor, freePortBlock, startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture } from '../../support/log-capture.ts';
import { createTopic, eventually, longPollFetch, metricValue, parseAddress, RawKafkaClient, scrapeMetrics, sizePrefixed } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROUTE = 'plain';
const DEAD = 'dead';
const MAX_FRAME = 1024 * 1024;

describe('bad input through the gateway', () => {
  let cluster: ClusterDescriptor;
  let gw: TestGateway;
  const logs = new LogCapture();

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    // A streaming domain whose only endpoint is a port nobody listens on.
    const closedPort = await freePortBlock(1);
    const nowhere: StreamingDomainConfig = {
      name: 'nowhere',
      type: 'kafka',
      kafkaCluster: {
        name: 'nowhere',
        bootstrapServers: [{ id: 'plaintext', endpoints: [{ host: '127.0.0.1', port: closedPort }], security: { protocol: 'PLAINTEXT' } }],
      },
    };
    gw = await startGateway({
      domains: [domainFor(cluster), nowhere],
      routes: [
        { name: ROUTE, domain: 'k4-single', listener: 'plaintext' },
        { name: DEAD, domain: 'nowhere', listener: 'plaintext' },
      ],
      limits: { maxFrameBytes: MAX_FRAME },
      logDestination: asStream(logs),
      waitForReady: false,
    });
    await eventually('the working route to be ready', () => gw.gateway.routes.find((r) => r.name === ROUTE)!.ready, 15_000);
  });

  after(async () => {
    await gw?.stop();
  });

  const errors = async (route: string, reason: string) => metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_connection_errors_total', { route, reason });

  /** A normal client still gets Metadata with gateway broker addresses. */
  async function assertServesNormalClient(): Promise<void> {
    const { host, port } = parseAddress(gw.bootstrap[ROUTE]);
    const md = await sendRequest<MetadataResponse>(
      host,
      port,
      ApiKey.Metadata,
      12,
      { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false },
      5000,
    );
    assert.equal(md.clusterId, gw.gateway.routes.find((r) => r.name === ROUTE)!.config.clusterId, "clients see the route's cluster id, not the upstream's");
    assert.deepEqual(
      md.brokers.map((b) => [b.host, b.port]),
      [['127.0.0.1', gw.gateway.routes[0].ports.portOf(cluster.brokers[0].nodeId)]],
    );
  }

  /**
   * Runs one bad client against `route` and checks what every bad connection must cause: the
   * connection is closed (by the gateway when `gatewayCloses`), exactly one "connection closed"
   * line with `reason` is logged for it, the error counter of that reason goes up by one, and the
   * gateway goes on serving a normal client.
   */
  async function badClient(
    reason: string | string[],
    misbehave: (c: RawKafkaClient) => Promise<void> | void,
    options: { gatewayCloses?: boolean; route?: string } = {},
  ): Promise<RawKafkaClient> {
    const route = options.route ?? ROUTE;
    const reasons = Array.isArray(reason) ? reason : [reason];
    const before = new Map<string, number>();
    for (const r of reasons) before.set(r, await errors(route, r));
    const client = await RawKafkaClient.connect(gw.bootstrap[route]);
    const port = client.socket.localPort!;
    try {
      await misbehave(client);
      if (options.gatewayCloses !== false) assert.ok(await client.closedWithin(5000), 'the gateway must close the connection');
      const closes = await eventually('the close to be logged', () => (logs.closesOf(port).length > 0 ? logs.closesOf(port) : undefined), 5000);
      await new Promise((r) => setTimeout(r, 100)); // a second line would show up by now
      assert.equal(logs.closesOf(port).length, 1, `one close line per connection: ${JSON.stringify(logs.closesOf(port))}`);
      const logged = closes[0].reason as string;
      assert.ok(reasons.includes(logged), `logged reason ${logged}, expected ${reasons.join(' or ')}`);
      // The first close of a reason is a warning; more of the same reason within the aggregation
      // window are logged at debug and summed up in one line per window (client-limits.test.ts).
      assert.ok(closes[0].level === 'warn' || (closes[0].level === 'debug' && closes[0].aggregated === `${route}/${logged}`), JSON.stringify(closes[0]));
      assert.equal(await errors(route, logged), before.get(logged)! + 1, `turnout_connection_errors_total{reason="${logged}"} counts it`);
    } finally {
      client.destroy();
    }
    await assertServesNormalClient();
    return client;
  }

  test('garbage bytes (an HTTP request line) close the connection as a frame of impossible size', async () => {
    await badClient('frame_too_large', (c) => c.sendBytes('GET / HTTP/1.1\r\nHost: kafka\r\n\r\n'));
  });

  test('a size prefix above maxFrameBytes closes the connection before the body arrives', async () => {
    const header = Buffer.alloc(4);
    header.writeInt32BE(MAX_FRAME + 1);
    await badClient('frame_too_large', (c) => c.sendBytes(header));
  });

  test('a negative size prefix closes the connection', async () => {
    // The frame decoder reports a negative size as FrameTooLarge; malformed_frame would be the apter reason.
    await badClient(['malformed_frame', 'frame_too_large'], (c) => c.sendBytes(Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2, 3])));
  });

  test('a frame too short for a request header closes the connection', async () => {
    await badClient('malformed_frame', (c) => c.sendBytes(sizePrefixed(Buffer.from([0, 3, 0, 12, 0, 0]))));
    await badClient('malformed_frame', (c) => c.sendBytes(sizePrefixed(Buffer.alloc(0))));
  });

  test('Fetch and Produce above the versions the gateway advertises (v13+: topic ids, broker endpoints it would have to translate) close the connection; nothing reaches the broker', async () => {
    for (const [apiKey, version] of [
      [ApiKey.Fetch, 16],
      [ApiKey.Fetch, 13],
      [ApiKey.Produce, 13],
    ] as const) {
      // Header v2 (flexible): api key, api version, correlation id, client id, no tagged fields; a body never read.
      const payload = Buffer.alloc(2 + 2 + 4 + 2 + 4 + 1 + 16);
      payload.writeInt16BE(apiKey, 0);
      payload.writeInt16BE(version, 2);
      payload.writeInt32BE(9, 4);
      payload.writeInt16BE(4, 8);
      payload.write('test', 10);
      const before = metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_requests_total', {
        route: ROUTE,
        api: apiKey === ApiKey.Fetch ? 'Fetch' : 'Produce',
      });
      let port = 0;
      await badClient('malformed_frame', (client) => {
        port = client.socket.localPort!;
        return client.sendBytes(sizePrefixed(payload));
      });
      const closes = logs.closesOf(port);
      assert.match(String(closes[0]?.detail), new RegExp(`v${version} is above v12, the highest the gateway offers`), JSON.stringify(closes));
      assert.equal(
        metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_requests_total', { route: ROUTE, api: apiKey === ApiKey.Fetch ? 'Fetch' : 'Produce' }),
        before,
        'not forwarded',
      );
    }
  });

  test('a corrupt body in a request the gateway decodes (group, offset, producer id, metadata APIs) closes that connection only', async () => {
    // Header v1 (api key, version, correlation id, client id "test"), then a body whose first
    // field claims more bytes than follow: a string of 32767 bytes, or an array of ~2^31 entries.
    const corrupt = (apiKey: number, version: number) => {
      const body = Buffer.from([0x7f, 0xff, 0x01, 0x02]);
      const payload = Buffer.alloc(2 + 2 + 4 + 2 + 4 + body.length);
      payload.writeInt16BE(apiKey, 0);
      payload.writeInt16BE(version, 2);
      payload.writeInt32BE(11, 4);
      payload.writeInt16BE(4, 8);
      payload.write('test', 10);
      body.copy(payload, 14);
      return sizePrefixed(payload);
    };
    const cases: [string, number, number][] = [
      ['JoinGroup', ApiKey.JoinGroup, 5],
      ['SyncGroup', ApiKey.SyncGroup, 3],
      ['OffsetCommit', ApiKey.OffsetCommit, 7],
      ['FindCoordinator', ApiKey.FindCoordinator, 2],
      ['InitProducerId', ApiKey.InitProducerId, 1],
      ['Metadata', ApiKey.Metadata, 8],
      ['LeaveGroup', ApiKey.LeaveGroup, 3],
      ['OffsetFetch', ApiKey.OffsetFetch, 5],
    ];
    for (const [name, apiKey, version] of cases) {
      // The gateway closes it as malformed when it reads the body; a request it forwards unread is
      // closed by the broker, and the gateway closes the client's side.
      await badClient(['malformed_frame', 'upstream_closed'], (c) => c.sendBytes(corrupt(apiKey, version))).catch((err: Error) => {
        throw new Error(`${name} v${version}: ${err.message}`);
      });
    }
  });

  test('an unknown API key (9999) is forwarded opaque; the broker closes the connection and the gateway stays up', async () => {
    // Unknown api keys are counted under an "Unknown..." api label.
    const unknown = /^Unknown/;
    const before = metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_requests_total', { route: ROUTE, api: unknown });
    // Header v1: api key, api version, correlation id, client id; then a body the broker never reads.
    const payload = Buffer.alloc(2 + 2 + 4 + 2 + 4 + 4);
    payload.writeInt16BE(9999, 0);
    payload.writeInt16BE(0, 2);
    payload.writeInt32BE(7, 4);
    payload.writeInt16BE(4, 8);
    payload.write('test', 10);
    await badClient('upstream_closed', (c) => c.sendBytes(sizePrefixed(payload)));
    const metrics = await scrapeMetrics(gw.adminUrl);
    assert.equal(metricValue(metrics, 'turnout_requests_total', { route: ROUTE, api: unknown }), before + 1);
    assert.ok(metricValue(metrics, 'turnout_request_errors_total', { route: ROUTE, api: unknown, reason: 'upstream_closed' }) >= 1);
  });

  test('a client that disconnects in the middle of a frame', async () => {
    await badClient(
      'client_closed_mid_request',
      (c) => {
        const header = Buffer.alloc(12);
        header.writeInt32BE(100, 0); // promises 100 bytes, sends 8
        header.writeInt16BE(ApiKey.Metadata, 4);
        header.writeInt16BE(12, 6);
        c.socket.end(header);
      },
      { gatewayCloses: false },
    );
  });

  test('a client that disconnects with requests in flight', async () => {
    const topic = uniqueName('gw-bad-inflight');
    await createTopic(cluster.bootstrap(), topic);
    await badClient(
      'client_closed_with_requests_in_flight',
      async (c) => {
        // A long-poll Fetch on an empty partition: the broker holds it for 5 s.
        c.send(ApiKey.Fetch, 12, longPollFetch(topic, 5000));
        await eventually('the Fetch to be in flight', () => gw.gateway.connections(ROUTE).some((conn) => conn.stats().inFlight === 1), 5000);
        c.socket.end();
      },
      { gatewayCloses: false },
    );
  });

  test('a route whose cluster is unreachable closes client connections, counts the failures, and is reported not ready', async () => {
    await eventually('discovery of the dead route to fail', () => gw.gateway.routes.find((r) => r.name === DEAD)!.upstream.lastError !== null, 15_000);
    const failuresBefore = metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_upstream_connect_failures_total', { route: DEAD, domain: 'nowhere' });
    const client = await badClient('upstream_unreachable', () => {}, { route: DEAD });
    assert.equal(client.pendingFrames, 0);
    const metrics = await scrapeMetrics(gw.adminUrl);
    assert.equal(metricValue(metrics, 'turnout_upstream_connect_failures_total', { route: DEAD, domain: 'nowhere' }), failuresBefore + 1);
    assert.equal(metricValue(metrics, 'turnout_route_ready', { route: DEAD }), 0);

    const ready = await fetch(`${gw.adminUrl}/ready`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { ready: boolean; routes: { name: string; ready: boolean; error?: string }[] };
    assert.equal(body.ready, false);
    const dead = body.routes.find((r) => r.name === DEAD);
    assert.equal(dead?.ready, false);
    assert.match(dead?.error ?? '', /nowhere/);
    assert.equal(body.routes.find((r) => r.name === ROUTE)?.ready, true);
    assert.equal((await fetch(`${gw.adminUrl}/health`)).status, 200);
  });
});
