// The real-client drivers (test/support/clients) work against the test bed's brokers directly, so
// that a gateway test failing with the same driver points at the gateway, not at the driver: every
// client produces, consumes in a group with committed offsets, and lists metadata over SASL/PLAIN
// on Kafka 4.3.1; every client reads metadata over PLAINTEXT on Kafka 3.9.2; and the Java
// transactional producer's committed records, and only those, are visible to read_committed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ClusterDescriptor, type ClusterSpec, type ListenerKind, SASL_USERS, testBed } from '../../../src/testbed/index.ts';
import {
  CLIENT_DRIVERS,
  type ClientDriver,
  type ClientTarget,
  type ClusterMetadata,
  type ConsumedRecord,
  stopAllClients,
} from '../../support/clients/index.ts';
import { produceIdempotent, readCommitted, readUncommitted, runTransactions } from '../../support/clients/java.ts';
import { createTopic } from '../../support/clients/kafkajs.ts';
import { uniqueName } from '../testbed/helpers.ts';

after(stopAllClients);

const K4_THREE: ClusterSpec = { name: 'k4-three', brokers: 3, nodeIdBase: 101 };
const K3_SINGLE: ClusterSpec = { name: 'k3-single', brokers: 1, kafkaVersion: '3.9.2' };

// Both clusters start at once (each describe waits for its own); shared by name with other tests.
let k4Three: Promise<ClusterDescriptor>;
let k3Single: Promise<ClusterDescriptor>;
before(() => {
  const bed = testBed();
  k4Three = bed.then((b) => b.cluster(K4_THREE));
  k3Single = bed.then((b) => b.cluster(K3_SINGLE));
  // Observed by the describe that needs it; never an unhandled rejection here.
  k4Three.catch(() => {});
  k3Single.catch(() => {});
});

const CONSUME_TIMEOUT_MS = 30_000;
const keyAndValue = (r: { key?: string; value: string }) => `${r.key ?? '<null>'}=${r.value}`;

/** The client lists each broker of the cluster, with its node id and this listener's address, and
 *  no other (no test stops brokers of the shared clusters). */
async function assertListsBrokers(driver: ClientDriver, target: ClientTarget, spec: ClusterSpec, listener: ListenerKind): Promise<ClusterMetadata> {
  const bed = await testBed();
  const metadata = await driver.listMetadata(target);
  const cluster = await bed.cluster(spec);
  const expected = cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: listener === 'sasl' ? b.saslPort : b.plaintextPort }));
  assert.deepEqual(
    [...metadata.brokers].sort((a, b) => a.nodeId - b.nodeId),
    expected,
    `${driver.name} lists every broker of ${spec.name}`,
  );
  return metadata;
}

/** Within each partition the records come in offset order, without gaps or repeats. */
function assertOffsetOrder(records: readonly ConsumedRecord[]): void {
  const byPartition = new Map<number, bigint[]>();
  for (const r of records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset]);
  for (const [partition, offsets] of byPartition) {
    for (let i = 1; i < offsets.length; i++) assert.equal(offsets[i], offsets[i - 1] + 1n, `partition ${partition} offsets ${offsets.join(',')}`);
  }
}

describe('client drivers against a 3-broker Kafka 4.3.1 cluster over SASL_PLAINTEXT (PLAIN)', () => {
  let target: ClientTarget;

  before(async () => {
    target = { bootstrap: (await k4Three).bootstrap('sasl'), sasl: { username: 'kafka', password: SASL_USERS.kafka } };
  });

  for (const driver of CLIENT_DRIVERS) {
    test(`${driver.name} produces 20 records with acks=all, consumes them in a group that commits, and lists brokers and topics`, async () => {
      const topic = uniqueName(`drivers-${driver.name}`);
      const group = `${topic}-group`;
      await createTopic(target, topic, { partitions: 3, replicationFactor: 3 });
      const messages = Array.from({ length: 20 }, (_, i) => (i % 2 ? { key: `key-${i}`, value: `value-${i}` } : { value: `value-${i}` }));

      await driver.produce(target, topic, messages);
      const consumed = await driver.consumeGroup(target, topic, group, messages.length, CONSUME_TIMEOUT_MS);
      assert.deepEqual(consumed.map(keyAndValue).sort(), messages.map(keyAndValue).sort());
      assertOffsetOrder(consumed);

      // The group committed what it read: the next member of the group starts after it.
      await driver.produce(target, topic, [{ key: 'late', value: 'after-the-commit' }]);
      const next = await driver.consumeGroup(target, topic, group, 1, CONSUME_TIMEOUT_MS);
      assert.deepEqual(next.map(keyAndValue), ['late=after-the-commit']);

      const metadata = await assertListsBrokers(driver, target, K4_THREE, 'sasl');
      assert.ok(metadata.topics.includes(topic), `${topic} missing from ${metadata.topics.join(', ')}`);
    });
  }
});

describe('client drivers against a single-node Kafka 3.9.2 cluster over PLAINTEXT', () => {
  let target: ClientTarget;

  before(async () => {
    target = { bootstrap: (await k3Single).bootstrap('plaintext') };
  });

  test('every client lists the broker and topics', async () => {
    const topic = uniqueName('drivers-plain');
    await createTopic(target, topic);
    for (const driver of CLIENT_DRIVERS) {
      const metadata = await assertListsBrokers(driver, target, K3_SINGLE, 'plaintext');
      assert.ok(metadata.topics.includes(topic), `${driver.name}: ${topic} missing from ${metadata.topics.join(', ')}`);
    }
  });

  test('the Java 3.9.2 transactional producer commits and aborts in rounds, and read_committed sees only the committed records', async () => {
    const [topicA, topicB] = [uniqueName('txn-a'), uniqueName('txn-b')];
    await createTopic(target, topicA, { partitions: 2 });
    await createTopic(target, topicB);

    const result = await runTransactions(target, '3.9.2', topicA, topicB, 3);
    assert.deepEqual(
      result.transactions.map((t) => `${t.round}:${t.outcome}`),
      ['1:committed', '1:aborted', '2:committed', '2:aborted', '3:committed', '3:aborted'],
    );
    for (const topic of [topicA, topicB]) {
      const values = (records: readonly { topic?: string; value: string }[]) => records.map((r) => r.value).sort();
      const committed = values(result.committed.filter((r) => r.topic === topic));
      const aborted = values(result.aborted.filter((r) => r.topic === topic));
      assert.equal(committed.length, 3);
      assert.deepEqual(values(await readCommitted(target, '3.9.2', topic)), committed, `read_committed of ${topic}`);
      // The aborted records are in the log: read_uncommitted sees them, so the filtering above is real.
      assert.deepEqual(values(await readUncommitted(target, '3.9.2', topic)), [...committed, ...aborted].sort(), `read_uncommitted of ${topic}`);
    }
  });

  test('the idempotent Java producer writes each record exactly once', async () => {
    const topic = uniqueName('idempotent');
    await createTopic(target, topic, { partitions: 2 });
    const messages = Array.from({ length: 20 }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` }));
    await produceIdempotent(target, '3.9.2', topic, messages);
    const read = await readCommitted(target, '3.9.2', topic);
    assert.deepEqual(read.map(keyAndValue).sort(), messages.map(keyAndValue).sort());
  });
});
