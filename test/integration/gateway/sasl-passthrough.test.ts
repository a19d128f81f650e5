// SASL passes through the gateway untouched: the broker authenticates the client (the gateway holds
// no client credentials), a wrong password fails with the broker's own error and costs the gateway
// nothing, and the SaslHandshake v0 flow (raw size-prefixed tokens without Kafka headers) is relayed
// correctly. No password ever reaches the gateway's logs or metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import type { SaslAuthenticateResponse } from '../../../src/protocol/generated/messages/sasl-authenticate-response.ts';
import type { SaslHandshakeResponse } from '../../../src/protocol/generated/messages/sasl-handshake-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture } from '../../support/log-capture.ts';
import { RawKafkaClient, scrapeMetrics, sizePrefixed } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROUTE = 'sasl';
const WRONG_PASSWORD = 'wrong-pw-7f3a9c';
const SECRETS = ['kafka-secret', 'admin-secret', WRONG_PASSWORD];

describe('SASL through the gateway (passthrough to the broker)', () => {
  let cluster: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const logs = new LogCapture();

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-three', brokers: 3, nodeIdBase: 101 });
    tools = await bed.tools();
    gw = await startGateway({ domains: [domainFor(cluster)], routes: [{ name: ROUTE, domain: 'k4-three', listener: 'sasl' }], logDestination: asStream(logs) });
  });

  after(async () => {
    await tools?.stopAll();
    await gw?.stop();
  });

  /** Connects through the gateway and authenticates with SaslHandshake v1 + SaslAuthenticate. */
  async function authenticatedClient(password: string): Promise<{ client: RawKafkaClient; auth: SaslAuthenticateResponse }> {
    const client = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
    const hs = await client.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    assert.equal(hs.errorCode, 0);
    const auth = await client.request<SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`\0kafka\0${password}`) });
    return { client, auth };
  }

  function assertGatewayAddresses(md: MetadataResponse): void {
    const route = gw.gateway.routes[0];
    assert.deepEqual(md.brokers.map((b) => b.nodeId).sort(), [101, 102, 103]);
    for (const b of md.brokers) {
      assert.equal(b.host, '127.0.0.1');
      assert.equal(b.port, route.ports.portOf(b.nodeId), `broker ${b.nodeId} must be listed with its gateway port`);
    }
  }

  test('a Java console producer and consumer with the seed client.properties (SASL_PLAINTEXT, PLAIN, kafka/kafka-secret) work through the gateway', async () => {
    const topic = uniqueName('gw-sasl');
    const config = tools.saslClientConfig('kafka', 'kafka-secret');
    const lines = ['one', 'two', 'three'];
    const produced = await tools.run(
      KafkaTool.ConsoleProducer,
      [...tools.connectionArgs(KafkaTool.ConsoleProducer, gw.bootstrap[ROUTE], config), '--topic', topic],
      {
        input: lines.map((l) => `${l}\n`).join(''),
      },
    );
    assert.equal(produced.exitCode, 0, produced.stderr);
    const consumed = await tools.run(KafkaTool.ConsoleConsumer, [
      ...tools.connectionArgs(KafkaTool.ConsoleConsumer, gw.bootstrap[ROUTE], config),
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      '3',
      '--timeout-ms',
      '30000',
    ]);
    assert.equal(consumed.exitCode, 0, consumed.stderr);
    assert.deepEqual(
      consumed.stdout.split('\n').filter((l) => l.length > 0),
      lines,
    );
  });

  test("a wrong password fails in the client with the broker's authentication error, and the gateway serves the next client", async () => {
    const config = tools.saslClientConfig('kafka', WRONG_PASSWORD, { 'max.block.ms': '15000' });
    const r = await tools.run(KafkaTool.Topics, [...tools.connectionArgs(KafkaTool.Topics, gw.bootstrap[ROUTE], config), '--list'], { timeoutMs: 45_000 });
    assert.notEqual(r.exitCode, 0, 'listing topics with a wrong password must fail');
    const output = r.stdout + r.stderr;
    assert.match(output, /SaslAuthenticationException/);
    assert.match(output, /Invalid username or password/);

    // The same error reaches a raw client as SaslAuthenticate's error, straight from the broker.
    const bad = await authenticatedClient(WRONG_PASSWORD);
    assert.equal(bad.auth.errorCode, 58); // SASL_AUTHENTICATION_FAILED
    assert.match(bad.auth.errorMessage ?? '', /Invalid username or password/);
    assert.ok(await bad.client.closedWithin(5000), 'the broker closes the connection after a failed authentication');

    const good = await authenticatedClient('kafka-secret');
    try {
      assert.equal(good.auth.errorCode, 0);
      assertGatewayAddresses(
        await good.client.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false }),
      );
    } finally {
      good.client.destroy();
    }
  });

  test('SaslHandshake v0: the raw PLAIN token and the empty raw response cross the gateway, then normal requests work', async () => {
    const client = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
    try {
      const versions = await client.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, { clientSoftwareName: 'turnout-test', clientSoftwareVersion: '1' });
      assert.equal(versions.errorCode, 0);
      assert.ok(versions.apiKeys.some((k) => k.apiKey === ApiKey.SaslHandshake && k.minVersion === 0));
      const hs = await client.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' });
      assert.equal(hs.errorCode, 0);
      assert.ok(hs.mechanisms.includes('PLAIN'));

      client.sendBytes(sizePrefixed(Buffer.from('\0kafka\0kafka-secret')));
      const token = await client.frame();
      assert.deepEqual([...token], [0, 0, 0, 0], 'PLAIN answers a raw token with an empty raw token');

      const md = await client.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false });
      assertGatewayAddresses(md);
      assert.equal(md.clusterId, gw.gateway.routes.find((r) => r.name === ROUTE)!.config.clusterId, "clients see the route's cluster id, not the upstream's");
    } finally {
      client.destroy();
    }
  });

  test('SaslHandshake v0 with a wrong password: the broker closes the connection and the gateway stays up', async () => {
    const client = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
    const hs = await client.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' });
    assert.equal(hs.errorCode, 0);
    client.sendBytes(sizePrefixed(Buffer.from(`\0kafka\0${WRONG_PASSWORD}`)));
    assert.ok(await client.closedWithin(5000), 'the connection must be closed after a failed v0 authentication');
    assert.equal(client.pendingFrames, 0, 'no token answers a failed v0 authentication');

    const health = await fetch(`${gw.adminUrl}/health`);
    assert.equal(health.status, 200);
    const next = await authenticatedClient('kafka-secret');
    next.client.destroy();
    assert.equal(next.auth.errorCode, 0);
  });

  test("no password appears in the gateway's logs or metrics", async () => {
    const metrics = await scrapeMetrics(gw.adminUrl);
    const text = logs.text();
    assert.ok(logs.lines.length > 0, 'logs were captured');
    assert.match(text, /connection closed/);
    for (const secret of SECRETS) {
      assert.ok(!text.includes(secret), `the logs contain "${secret}"`);
      assert.ok(!metrics.includes(secret), `the metrics contain "${secret}"`);
    }
  });
});
