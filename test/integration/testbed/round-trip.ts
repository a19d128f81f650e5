// The round-trip checks every supported Kafka version must pass; each version's test file calls
// this with its version, so a failure names the version in the file and test names.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { consumeLines, produceLines, uniqueName } from './helpers.ts';

export function roundTripTests(kafkaVersion: string, clusterName: string): void {
  describe(`a single-node Kafka ${kafkaVersion} cluster`, () => {
    let cluster: ClusterDescriptor;
    let tools: KafkaTools;

    before(async () => {
      const bed = await testBed();
      cluster = await bed.cluster({ name: clusterName, brokers: 1, kafkaVersion });
      tools = await bed.tools(kafkaVersion);
    });

    test('starts with one broker that has the requested version and PLAINTEXT and SASL listeners', () => {
      assert.equal(cluster.version, kafkaVersion);
      assert.equal(cluster.brokers.length, 1);
      assert.ok(cluster.brokers[0].running);
      assert.match(cluster.bootstrap('plaintext'), /^127\.0\.0\.1:\d+$/);
      assert.match(cluster.bootstrap('sasl'), /^127\.0\.0\.1:\d+$/);
      assert.notEqual(cluster.bootstrap('plaintext'), cluster.bootstrap('sasl'));
    });

    test('round-trips records through the Java console producer and consumer over PLAINTEXT', async () => {
      const topic = uniqueName('plain');
      const lines = ['one', 'two', 'three'];
      const produced = await produceLines(tools, cluster, topic, lines);
      assert.equal(produced.exitCode, 0, produced.stderr);
      assert.deepEqual(await consumeLines(tools, cluster, topic, lines.length), lines);
    });

    test('round-trips records over SASL_PLAINTEXT with SASL/PLAIN user alice', async () => {
      const topic = uniqueName('sasl');
      const lines = ['alpha', 'beta'];
      const produced = await produceLines(tools, cluster, topic, lines, { listener: 'sasl', user: 'alice' });
      assert.equal(produced.exitCode, 0, produced.stderr);
      assert.deepEqual(await consumeLines(tools, cluster, topic, lines.length, { listener: 'sasl', user: 'kafka' }), lines);
    });

    test('rejects a wrong SASL password with an authentication error and stores nothing', async () => {
      const topic = uniqueName('badpw');
      const wrong = tools.saslClientConfig('alice', 'not-the-password');
      const listed = await tools.run(KafkaTool.Topics, [...tools.connectionArgs(KafkaTool.Topics, cluster.bootstrap('sasl'), wrong), '--list']);
      assert.notEqual(listed.exitCode, 0);
      assert.match(listed.stdout + listed.stderr, /Authentication failed: Invalid username or password/);

      const produced = await produceLines(tools, cluster, topic, ['lost'], { listener: 'sasl', user: 'alice', password: 'not-the-password' });
      assert.match(produced.stderr, /SaslAuthenticationException/);
      // Nothing stored: the producer never got past authentication, so it could not even have the
      // topic created. A failed listing fails the test (it used to read as "nothing stored").
      const all = await tools.run(KafkaTool.Topics, [...tools.connectionArgs(KafkaTool.Topics, cluster.bootstrap()), '--list']);
      assert.equal(all.exitCode, 0, all.stderr);
      assert.ok(
        !all.stdout
          .split('\n')
          .map((l) => l.trim())
          .includes(topic),
        `topic ${topic} was created`,
      );
    });
  });
}
