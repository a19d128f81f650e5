// The control plane's state log against real brokers (Kafka 4.x and 3.9, single node): the topic
// is created compacted and only once, appends come back in order with keys, values and
// tombstones, reads from the middle of a batch or past the end behave, an idle read returns after
// its wait, and both PLAINTEXT and SASL listeners work. Errors name the domain and the topic and
// never carry a password.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BootstrapServerConfig, Secret, type StreamingDomainConfig } from '../../../src/config/index.ts';
import { StateLog, StateLogError, StateLogErrorCode } from '../../../src/control/state-log.ts';
import { silentLogger } from '../../../src/observability/log.ts';
import type { DescribeConfigsResponse } from '../../../src/protocol/generated/messages/describe-configs-response.ts';
import { defaultMetadataRequest, defaultMetadataRequestTopic } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import { domainFor } from '../../support/gateway.ts';

const TIMEOUT_MS = 15_000;
let counter = 0;
const uniqueTopic = () => `__turnout_state_test_${Date.now().toString(36)}_${process.pid}_${counter++}`;

function listener(domain: StreamingDomainConfig, id: 'plaintext' | 'sasl'): BootstrapServerConfig {
  return domain.kafkaCluster.bootstrapServers.find((l) => l.id === id)!;
}

/** The topic's configs and partition count, asked for with a connection of the test's own. */
async function describeTopic(
  cluster: ClusterDescriptor,
  topic: string,
): Promise<{ configs: Map<string, string | null>; partitions: number; replicas: number }> {
  const b = cluster.brokers[0];
  const conn = await KafkaConnection.open({ host: b.host, port: b.plaintextPort }, { protocol: 'PLAINTEXT' });
  try {
    const dc = await conn.request<DescribeConfigsResponse>(ApiKey.DescribeConfigs, 4, {
      resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['cleanup.policy', 'min.insync.replicas'] }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    assert.equal(dc.results[0].errorCode, 0, dc.results[0].errorMessage ?? 'DescribeConfigs failed');
    const md = await conn.request<MetadataResponse>(ApiKey.Metadata, 12, {
      ...defaultMetadataRequest(),
      allowAutoTopicCreation: false,
      topics: [{ ...defaultMetadataRequestTopic(), name: topic }],
    });
    return {
      configs: new Map(dc.results[0].configs.map((c) => [c.name, c.value])),
      partitions: md.topics[0].partitions.length,
      replicas: md.topics[0].partitions[0].replicaNodes.length,
    };
  } finally {
    conn.close();
  }
}

for (const [kafkaVersion, clusterName] of [
  ['4.3.1', 'k4-single'],
  ['3.9.2', 'k3-single'],
] as const) {
  describe(`state log on Kafka ${kafkaVersion} (${clusterName})`, () => {
    let cluster: ClusterDescriptor;
    let domain: StreamingDomainConfig;
    const open: StateLog[] = [];
    const stateLog = (id: 'plaintext' | 'sasl', topic: string, d: StreamingDomainConfig = domain) => {
      const s = new StateLog({ domain: d, listener: listener(d, id), topic, log: silentLogger(), timeoutMs: TIMEOUT_MS });
      open.push(s);
      return s;
    };

    before(async () => {
      const bed = await testBed();
      cluster = await bed.cluster({ name: clusterName, brokers: 1, kafkaVersion });
      domain = domainFor(cluster, 'blue');
    });

    after(() => {
      for (const s of open) s.close();
    });

    test('ensureTopic creates a compacted single-partition topic, and again is a no-op', async () => {
      const topic = uniqueTopic();
      const log = stateLog('plaintext', topic);
      await log.ensureTopic();
      await log.ensureTopic();
      // A second gateway instance racing for the same topic.
      await Promise.all([stateLog('plaintext', topic).ensureTopic(), stateLog('sasl', topic).ensureTopic()]);
      const d = await describeTopic(cluster, topic);
      assert.equal(d.configs.get('cleanup.policy'), 'compact');
      assert.equal(d.configs.get('min.insync.replicas'), '1', 'replication factor 1 < 3, so min.insync.replicas 1');
      assert.equal(d.partitions, 1);
      assert.equal(d.replicas, 1, 'replication factor min(3, one broker)');
    });

    test('appended records read back in order with keys, values and tombstones; readAll sees them all', async () => {
      const topic = uniqueTopic();
      const log = stateLog('plaintext', topic);
      await log.ensureTopic();
      const before = Date.now();
      const first = await log.append([
        { key: 'route/orders', value: '{"active":"blue"}' },
        { key: 'route/payments', value: 'grün ✓' },
      ]);
      assert.equal(first, 0n);
      const second = await log.append([
        { key: 'route/orders', value: '{"active":"green"}' },
        { key: 'route/payments', value: null },
      ]);
      assert.equal(second, 2n);
      assert.equal(await log.append([{ key: 'route/audit', value: '' }]), 4n);

      const expected = [
        { offset: 0n, key: 'route/orders', value: '{"active":"blue"}' },
        { offset: 1n, key: 'route/payments', value: 'grün ✓' },
        { offset: 2n, key: 'route/orders', value: '{"active":"green"}' },
        { offset: 3n, key: 'route/payments', value: null },
        { offset: 4n, key: 'route/audit', value: '' },
      ];
      const r = await log.read(0n, 1000);
      assert.deepEqual(
        r.records.map(({ offset, key, value }) => ({ offset, key, value })),
        expected,
      );
      assert.equal(r.nextOffset, 5n);
      for (const rec of r.records) assert.ok(rec.timestamp >= before - 1000 && rec.timestamp <= Date.now() + 1000, `timestamp ${rec.timestamp}`);

      const fromMiddle = await log.read(1n, 0);
      assert.deepEqual(
        fromMiddle.records.map((x) => x.offset),
        [1n, 2n, 3n, 4n],
        'a read from inside a batch starts at the offset asked for',
      );

      const all = await log.readAll();
      assert.deepEqual(
        all.map(({ offset, key, value }) => ({ offset, key, value })),
        expected,
      );
      // Another instance (a restarting gateway) reads the same through the SASL listener.
      const viaSasl = await stateLog('sasl', topic).readAll();
      assert.deepEqual(
        viaSasl.map(({ offset, key, value }) => ({ offset, key, value })),
        expected,
      );
    });

    test('a read at the end returns nothing after its wait, and a long read returns as soon as a record lands', async () => {
      const topic = uniqueTopic();
      const log = stateLog('plaintext', topic);
      await log.ensureTopic();
      assert.deepEqual(await log.readAll(), [], 'a new topic is empty');
      await log.append([{ key: 'k', value: 'v1' }]);

      let started = Date.now();
      const idle = await log.read(1n, 300);
      const took = Date.now() - started;
      assert.deepEqual(idle, { records: [], nextOffset: 1n });
      assert.ok(took >= 250 && took < 3000, `an idle read took ${took} ms (maxWaitMs 300)`);

      const writer = stateLog('plaintext', topic);
      started = Date.now();
      const waiting = log.read(1n, 10_000);
      await new Promise((r) => setTimeout(r, 200));
      await writer.append([{ key: 'k', value: 'v2' }]);
      const woke = await waiting;
      assert.deepEqual(
        woke.records.map((x) => [x.offset, x.value]),
        [[1n, 'v2']],
      );
      assert.ok(Date.now() - started < 5000, 'the long read returned when the record arrived, not at maxWaitMs');
    });

    test('a read past the end of the log (e.g. the topic was recreated) restarts at the log start', async () => {
      const topic = uniqueTopic();
      const log = stateLog('plaintext', topic);
      await log.ensureTopic();
      await log.append([
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ]);
      const r = await log.read(1000n, 0);
      assert.deepEqual(
        r.records.map((x) => [x.offset, x.key]),
        [
          [0n, 'a'],
          [1n, 'b'],
        ],
      );
      assert.equal(r.nextOffset, 2n);
    });

    test('append to a topic that does not exist fails after the timeout with an error naming domain and topic', async () => {
      const topic = uniqueTopic();
      const log = new StateLog({ domain, listener: listener(domain, 'plaintext'), topic, log: silentLogger(), timeoutMs: 1500 });
      open.push(log);
      const err = await log.append([{ key: 'k', value: 'v' }]).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof StateLogError, String(err));
      assert.equal(err.code, StateLogErrorCode.Unavailable);
      assert.match(err.message, new RegExp(`^state topic "${topic}" on streaming domain "blue": cannot append within \\d+ ms .*does not exist`));
    });

    test('wrong service credentials fail with a clear error that does not contain the password', async () => {
      const password = 'not-the-admin-secret-4711';
      const bad = domainFor(cluster, 'blue');
      const sasl = listener(bad, 'sasl');
      sasl.security = { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'admin', password: new Secret(password) } };
      const log = stateLog('sasl', uniqueTopic(), bad);
      const err = await log.ensureTopic().then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof StateLogError, String(err));
      assert.equal(err.code, StateLogErrorCode.Rejected);
      assert.match(err.message, /^state topic "[^"]+" on streaming domain "blue": .*rejected Turnout's service credentials for user "admin"/);
      assert.ok(!err.message.includes(password) && !String(err.cause).includes(password), 'no password in the error');
    });

    test('a SASL listener without service credentials is refused up front; close() ends later calls', async () => {
      const noCreds = domainFor(cluster, 'blue', false);
      assert.throws(
        () => new StateLog({ domain: noCreds, listener: listener(noCreds, 'sasl'), topic: 't', log: silentLogger(), timeoutMs: 1000 }),
        (e: unknown) => {
          return (
            e instanceof StateLogError &&
            e.code === StateLogErrorCode.Config &&
            /^state topic "t" on streaming domain "blue": listener "sasl" uses SASL_PLAINTEXT but has no service credentials/.test(e.message)
          );
        },
      );
      const log = stateLog('plaintext', uniqueTopic());
      await log.ensureTopic();
      log.close();
      await assert.rejects(log.append([{ key: 'k', value: 'v' }]), (e: unknown) => e instanceof StateLogError && e.code === StateLogErrorCode.Closed);
    });
  });
}
