// The example configs in examples/ load, and what they leave out takes the documented defaults.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, type GatewayConfig, loadConfigFile, Secret, virtualClusterId } from '../../../src/config/index.ts';
import { configOf, MINIMAL } from './support.ts';

const example = (name: string) => fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));

function load(name: string, env: Record<string, string> = {}): GatewayConfig {
  const r = loadConfigFile(example(name), env);
  if ('problems' in r) assert.fail(JSON.stringify(r.problems, null, 2));
  return r.config;
}

test('the seed document (Confluent switchover example) loads as written, with every default applied', () => {
  const config = load('seed-001.yaml');
  assert.match(config.instanceId, /-9190$/, 'the instance id defaults to the host name and admin port');
  assert.deepEqual(config, {
    admin: { host: '127.0.0.1', port: 9190 },
    adminToken: null,
    instanceId: config.instanceId,
    state: { topic: '_turnout_state', signing: { key: null, previousKeys: [], acceptUnsigned: false } },
    switchover: { drainTimeoutMs: 5000, fleetTimeoutMs: 10000, fenceTimeoutMs: 10000, topicIdleMs: 3600000 },
    audit: { file: null },
    log: { level: 'info' },
    limits: {
      maxFrameBytes: 104857600,
      maxBufferedBytesPerConnection: 4194304,
      upstreamConnectTimeoutMs: 10000,
      // The broker's sasl.server.max.receive.size and connections.max.idle.ms; the rest per worker process.
      maxUnauthenticatedFrameBytes: 524288,
      maxBufferedBytes: 268435456,
      maxConnections: 10000,
      maxConnectionsPerAddress: 1000,
      authenticationTimeoutMs: 30000,
      connectionsMaxIdleMs: 600000,
    },
    shutdownTimeoutMs: 10000,
    workers: 'auto',
    streamingDomains: [
      {
        name: 'kafka1-domain',
        type: 'kafka',
        kafkaCluster: {
          name: 'kafka-cluster-1',
          bootstrapServers: [{ id: 'internal-plaintext-listener', endpoints: [{ host: 'kafka-1', port: 44444 }], security: { protocol: 'PLAINTEXT' } }],
        },
      },
      {
        name: 'kafka2-domain',
        type: 'kafka',
        kafkaCluster: {
          name: 'kafka-cluster-2',
          bootstrapServers: [{ id: 'internal-plaintext-listener', endpoints: [{ host: 'kafka-2', port: 22222 }], security: { protocol: 'PLAINTEXT' } }],
        },
      },
    ],
    routes: [
      {
        name: 'switchover-route',
        endpoint: { host: 'host.docker.internal', port: 19092 },
        bindAddress: '0.0.0.0',
        brokerPorts: { base: 19093, count: 16 },
        streamingDomain: { name: 'kafka1-domain', bootstrapServerId: 'internal-plaintext-listener' },
        authentication: { type: 'none' },
        clusterId: virtualClusterId('switchover-route'),
        replication: { type: 'none', topics: null, groups: null, checkpoints: false },
        limits: { maxConnections: null },
      },
    ],
  } satisfies GatewayConfig);
});

test('the blue/green example loads with its SASL listeners, several bootstrap brokers and a passthrough route', () => {
  const config = load('gateway.yaml', { KAFKA_PASSWORD: 'kafka-secret' });
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9190 });
  assert.equal(config.log.level, 'info');
  assert.deepEqual(
    config.streamingDomains.map((d) => d.name),
    ['blue', 'green'],
  );
  const blue = config.streamingDomains[0].kafkaCluster.bootstrapServers[0];
  assert.equal(blue.id, 'sasl-listener');
  assert.deepEqual(blue.endpoints, [
    { host: 'kafka-blue-1', port: 9093 },
    { host: 'kafka-blue-2', port: 9093 },
    { host: 'kafka-blue-3', port: 9093 },
  ]);
  assert.equal(blue.security.protocol, 'SASL_PLAINTEXT');
  assert.ok(blue.security.protocol === 'SASL_PLAINTEXT' && blue.security.sasl !== null);
  assert.equal(blue.security.sasl.username, 'kafka');
  assert.ok(blue.security.sasl.password instanceof Secret);
  assert.equal(blue.security.sasl.password.reveal(), 'kafka-secret');
  assert.deepEqual(config.routes, [
    {
      name: 'switchover-route',
      endpoint: { host: 'localhost', port: 19092 },
      bindAddress: '0.0.0.0',
      brokerPorts: { base: 19093, count: 16 },
      streamingDomain: { name: 'blue', bootstrapServerId: 'sasl-listener' },
      authentication: { type: 'passthrough' },
      clusterId: virtualClusterId('switchover-route'),
      replication: { type: 'mirrormaker2', topics: null, groups: null, checkpoints: false },
      limits: { maxConnections: null },
    },
  ]);
});

test('the blue/green example takes its admin port and log level from the environment when set', () => {
  const config = load('gateway.yaml', { KAFKA_PASSWORD: 'x', TURNOUT_ADMIN_PORT: '0', TURNOUT_LOG_LEVEL: 'debug' });
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 0 });
  assert.equal(config.log.level, 'debug');
});

test('client authentication defaults to passthrough on a SASL listener and none on a PLAINTEXT one', () => {
  const config = configOf(`${MINIMAL}  - name: route-2
    endpoint: "localhost:29092"
    streamingDomain: { name: kafka2-domain, bootstrapServerId: sasl }
`);
  assert.deepEqual(
    config.routes.map((r) => r.authentication.type),
    ['none', 'passthrough'],
  );
  assert.deepEqual(config.streamingDomains[1].kafkaCluster.bootstrapServers[1].security, { protocol: 'SASL_PLAINTEXT', sasl: null });
});

test('every gateway setting written is used instead of its default', () => {
  const config = configOf(`gateway:
  admin: { listen: "[::1]:0" }
  log: { level: warn }
  limits:
    maxFrameBytes: 1024
    maxBufferedBytesPerConnection: 65536
    upstreamConnectTimeoutMs: 500
    maxUnauthenticatedFrameBytes: 2048
    maxBufferedBytes: 8388608
    maxConnections: 50
    maxConnectionsPerAddress: 5
    authenticationTimeoutMs: 1500
    connectionsMaxIdleMs: 60000
  shutdownTimeoutMs: 0
${MINIMAL}`);
  assert.deepEqual(config.admin, { host: '::1', port: 0 });
  assert.deepEqual(config.log, { level: 'warn' });
  assert.deepEqual(config.limits, {
    maxFrameBytes: 1024,
    maxBufferedBytesPerConnection: 65536,
    upstreamConnectTimeoutMs: 500,
    maxUnauthenticatedFrameBytes: 2048,
    maxBufferedBytes: 8388608,
    maxConnections: 50,
    maxConnectionsPerAddress: 5,
    authenticationTimeoutMs: 1500,
    connectionsMaxIdleMs: 60000,
  });
  assert.equal(config.shutdownTimeoutMs, 0);
});

test('admin: null and admin: {enabled: false} disable the admin listener; an empty gateway section keeps the defaults', () => {
  assert.equal(configOf(`gateway:\n  admin: null\n${MINIMAL}`).admin, null);
  assert.equal(configOf(`gateway:\n  admin: { enabled: false }\n${MINIMAL}`).admin, null);
  assert.deepEqual(configOf(`gateway:\n  admin: {}\n${MINIMAL}`).admin, DEFAULTS.admin);
  assert.deepEqual(configOf(`gateway:\n${MINIMAL}`).admin, DEFAULTS.admin);
});

test("a route's bind address, broker ports and authentication are used as written", () => {
  const config = configOf(
    MINIMAL.replace(
      '    endpoint: "localhost:19092"\n',
      `    endpoint: "gw.example.com:9092"
    bindAddress: "[::]"
    brokerPorts: { base: 30000, count: 3 }
    authentication: { type: none }
`,
    ),
  );
  const r = config.routes[0];
  assert.deepEqual(
    [r.endpoint, r.bindAddress, r.brokerPorts, r.authentication],
    [{ host: 'gw.example.com', port: 9092 }, '::', { base: 30000, count: 3 }, { type: 'none' }],
  );
});

test('YAML anchors and merge keys can share settings between routes', () => {
  const config = configOf(`${MINIMAL}    authentication: &auth { type: none }
  - name: route-2
    endpoint: "localhost:29092"
    streamingDomain: { <<: { name: kafka2-domain }, bootstrapServerId: plain }
    authentication: *auth
`);
  assert.deepEqual(config.routes[1].streamingDomain, { name: 'kafka2-domain', bootstrapServerId: 'plain' });
  assert.deepEqual(config.routes[1].authentication, { type: 'none' });
});
