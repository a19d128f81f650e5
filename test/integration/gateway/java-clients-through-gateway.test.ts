// Kafka's own Java tools and client of the cluster's version work through the gateway as they do
// against the brokers: on Kafka 4.3.1 and 3.9.2, through a route with SASL/PLAIN passthrough and
// the seed's client.properties, the console producer and consumer; a consumer group that
// rebalances when a third member joins, reading every record exactly once, and that
// kafka-consumer-groups describes with gateway addresses only; transactions that commit and abort
// across two topics; the idempotent producer; and (4.x) the KIP-848 consumer group protocol.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KafkaTool, type KafkaTools, SASL_USERS, type ToolProcess } from '../../../src/testbed/index.ts';
import { type ConsumedRecord, kafkajsDriver, type ProduceMessage, stopAllClients } from '../../support/clients/index.ts';
import { consumeGroup, produce, produceIdempotent, readCommitted, readUncommitted, runTransactions } from '../../support/clients/java.ts';
import { eventually } from '../../support/raw-kafka.ts';
import { type ClusterBehindGateway, clustersBehindGateway, THREE_BROKER_CLUSTERS, versionOf } from '../../support/through-gateway.ts';
import { uniqueName } from '../testbed/helpers.ts';

after(stopAllClients);

const keyAndValue = (r: { key?: string; value: string }) => `${r.key ?? '<null>'}=${r.value}`;
const sortedValues = (records: readonly { value: string }[]) => records.map((r) => r.value).sort();

/** One member of a consumer group: a verifiable consumer (--verbose) and what it has printed. */
class GroupMember {
  readonly name: string;
  readonly tool: ToolProcess;
  readonly records: { value: string; partition: number; offset: number }[] = [];
  /** Partitions currently assigned (assigned minus revoked, so eager and cooperative both work). */
  readonly assignment = new Set<number>();
  #parsed = 0;

  constructor(name: string, tool: ToolProcess) {
    this.name = name;
    this.tool = tool;
  }

  /** Reads the events printed since the last call. */
  update(): this {
    const out = this.tool.stdout;
    const end = out.lastIndexOf('\n') + 1;
    for (const line of out.slice(this.#parsed, end).split('\n')) {
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as { name: string; value: string; partition: number; offset: number; partitions?: { partition: number }[] };
      if (e.name === 'record_data') this.records.push({ value: e.value, partition: e.partition, offset: e.offset });
      else if (e.name === 'partitions_assigned') for (const p of e.partitions!) this.assignment.add(p.partition);
      else if (e.name === 'partitions_revoked') for (const p of e.partitions!) this.assignment.delete(p.partition);
    }
    this.#parsed = end;
    return this;
  }
}

/** Every member holds partitions, and together they hold each of `partitions` exactly once. */
function balanced(members: readonly GroupMember[], partitions: number): boolean {
  const held = members.flatMap((m) => [...m.update().assignment]);
  return members.every((m) => m.assignment.size > 0) && held.length === partitions && new Set(held).size === partitions;
}

/** The rows of a kafka-consumer-groups table whose first cell is `group`, as column -> cell. */
function groupRows(stdout: string, group: string): Record<string, string>[] {
  const rows: Record<string, string>[] = [];
  let header: string[] | undefined;
  for (const line of stdout.split('\n')) {
    // "COORDINATOR (ID)" is one column whose cells look like "127.0.0.1:10123 (101)".
    const cells = line
      .trim()
      .replace('COORDINATOR (ID)', 'COORDINATOR')
      .replace(/(\S+:\d+)\s+(\(\d+\))/, '$1$2')
      .split(/\s+/);
    if (cells[0] === 'GROUP') header = cells;
    else if (header && cells[0] === group) rows.push(Object.fromEntries(header.map((h, i) => [h, cells[i]])));
  }
  return rows;
}

const setups = clustersBehindGateway(THREE_BROKER_CLUSTERS);

for (const spec of THREE_BROKER_CLUSTERS) {
  const version = versionOf(spec);

  describe(`Kafka ${version} Java tools and client through the gateway to ${spec.name} (SASL/PLAIN passthrough)`, { concurrency: true }, () => {
    let c: ClusterBehindGateway;
    let tools: KafkaTools;
    const target = () => c.target;
    before(async () => {
      c = await setups.get(spec.name)!;
      tools = c.tools;
    });

    async function consumerGroups(group: string, ...args: string[]): Promise<string> {
      const r = await tools.run(
        KafkaTool.ConsumerGroups,
        [...tools.connectionArgs(KafkaTool.ConsumerGroups, c.bootstrap, c.clientConfig), '--describe', '--group', group, ...args],
        { timeoutMs: 45_000 },
      );
      assert.equal(r.exitCode, 0, `consumer-groups --describe ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
      c.assertNoUpstreamAddress(`consumer-groups --describe ${args.join(' ')}`, r.stdout + r.stderr);
      return r.stdout;
    }

    test('the console producer and a console consumer in a group, with the seed client.properties', async () => {
      const topic = uniqueName('gw-console');
      await c.createTopic(topic, 3);
      const lines = Array.from({ length: 10 }, (_, i) => `line-${i}`);
      const produced = await tools.run(
        KafkaTool.ConsoleProducer,
        [...tools.connectionArgs(KafkaTool.ConsoleProducer, c.bootstrap, c.clientConfig), '--topic', topic],
        {
          input: lines.map((l) => `${l}\n`).join(''),
        },
      );
      assert.equal(produced.exitCode, 0, produced.stderr);
      const consumed = await tools.run(KafkaTool.ConsoleConsumer, [
        ...tools.connectionArgs(KafkaTool.ConsoleConsumer, c.bootstrap, c.clientConfig),
        '--topic',
        topic,
        '--group',
        `${topic}-group`,
        '--from-beginning',
        '--max-messages',
        String(lines.length),
        '--timeout-ms',
        '30000',
      ]);
      assert.equal(consumed.exitCode, 0, consumed.stderr);
      assert.deepEqual(
        consumed.stdout
          .split('\n')
          .filter((l) => l.length > 0)
          .sort(),
        lines.sort(),
      );
    });

    test('a consumer group rebalances when a third member joins; every record is read exactly once, and consumer-groups describes members, assignments and coordinator at gateway addresses', async () => {
      const topic = uniqueName('gw-group');
      const group = `${topic}-group`;
      const PARTITIONS = 6;
      await c.createTopic(topic, PARTITIONS);
      // Members notice a rebalance at their next heartbeat: 500 ms instead of 3 s.
      const config = tools.saslClientConfig('kafka', SASL_USERS.kafka, { 'heartbeat.interval.ms': '500' });
      const join = (name: string) =>
        new GroupMember(
          name,
          tools.spawn(KafkaTool.VerifiableConsumer, [
            ...tools.connectionArgs(KafkaTool.VerifiableConsumer, c.bootstrap, config),
            '--topic',
            topic,
            '--group-id',
            group,
            '--reset-policy',
            'earliest',
            '--verbose',
            '--session-timeout',
            '10000',
          ]),
        );
      const batch = (phase: string): ProduceMessage[] => Array.from({ length: 30 }, (_, i) => ({ key: `${phase}-key-${i}`, value: `${phase}-value-${i}` }));
      const members = [join('first'), join('second')];
      try {
        await eventually('two members to share the 6 partitions', () => balanced(members, PARTITIONS), 45_000);
        const before = batch('before');
        await produce(target(), topic, before, { version });
        const total = () => members.reduce((n, m) => n + m.update().records.length, 0);
        await eventually(`the two members to read ${before.length} records`, () => total() >= before.length, 30_000);

        members.push(join('third'));
        await eventually('three members to share the 6 partitions after the rebalance', () => balanced(members, PARTITIONS), 45_000);
        const afterJoin = batch('after');
        const [, membersTable, stateTable] = await Promise.all([
          produce(target(), topic, afterJoin, { version }),
          consumerGroups(group, '--members', '--verbose'),
          consumerGroups(group, '--state'),
        ]);
        await eventually(`the three members to read ${before.length + afterJoin.length} records`, () => total() >= before.length + afterJoin.length, 30_000);

        // Exactly once across members: every value once, no partition offset twice.
        const all = members.flatMap((m) => m.records);
        assert.deepEqual(sortedValues(all), sortedValues([...before, ...afterJoin]));
        assert.equal(new Set(all.map((r) => `${r.partition}@${r.offset}`)).size, all.length, 'a record was read twice');
        assert.ok(members[2].records.length > 0, 'the member that joined read nothing');

        const rows = groupRows(membersTable, group);
        assert.equal(rows.length, 3, `members:\n${membersTable}`);
        assert.deepEqual(rows.map((r) => Number(r['#PARTITIONS'])).sort(), [2, 2, 2], `members:\n${membersTable}`);
        const [state] = groupRows(stateTable, group);
        assert.equal(state?.STATE, 'Stable', `state:\n${stateTable}`);
        assert.equal(state['#MEMBERS'], '3', `state:\n${stateTable}`);
        const coordinator = /^127\.0\.0\.1:(\d+)\((\d+)\)$/.exec(state.COORDINATOR);
        assert.ok(coordinator, `coordinator ${state.COORDINATOR} is not a gateway address:\n${stateTable}`);
        assert.equal(Number(coordinator[1]), c.gatewayPortOf(Number(coordinator[2])), `coordinator ${state.COORDINATOR}`);

        const offsets = groupRows(await consumerGroups(group), group);
        assert.equal(offsets.length, PARTITIONS, 'one row per partition');
        assert.equal(
          offsets.reduce((n, r) => n + Number(r['LOG-END-OFFSET']), 0),
          before.length + afterJoin.length,
        );
        assert.ok(
          offsets.every((r) => r['CONSUMER-ID'] !== '-'),
          'every partition is assigned to a member',
        );
      } finally {
        await Promise.all(members.map((m) => m.tool.stop()));
      }
    });

    test('a transactional producer commits and aborts across two topics; read_committed sees only the committed records, read_uncommitted sees both', async () => {
      const [topicA, topicB] = [uniqueName('gw-txn-a'), uniqueName('gw-txn-b')];
      await Promise.all([c.createTopic(topicA, 2), c.createTopic(topicB, 1)]);
      const result = await runTransactions(target(), version, topicA, topicB, 2);
      assert.deepEqual(
        result.transactions.map((t) => `${t.round}:${t.outcome}`),
        ['1:committed', '1:aborted', '2:committed', '2:aborted'],
      );
      await Promise.all(
        [topicA, topicB].map(async (topic) => {
          const committed = sortedValues(result.committed.filter((r) => r.topic === topic));
          const aborted = sortedValues(result.aborted.filter((r) => r.topic === topic));
          assert.equal(committed.length, 2);
          const [readC, readU] = await Promise.all([readCommitted(target(), version, topic), readUncommitted(target(), version, topic)]);
          assert.deepEqual(sortedValues(readC), committed, `read_committed of ${topic}`);
          assert.deepEqual(sortedValues(readU), [...committed, ...aborted].sort(), `read_uncommitted of ${topic}`);
        }),
      );
    });

    test('the idempotent producer writes each record exactly once', async () => {
      const topic = uniqueName('gw-idempotent');
      await c.createTopic(topic, 2);
      const messages = Array.from({ length: 20 }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` }));
      await produceIdempotent(target(), version, topic, messages);
      const read: ConsumedRecord[] = await readCommitted(target(), version, topic);
      assert.deepEqual(read.map(keyAndValue).sort(), messages.map(keyAndValue).sort());
    });

    if (Number(version.split('.')[0]) >= 4) {
      test('a consumer using the KIP-848 consumer group protocol (group.protocol=consumer) reads every record in a group', async () => {
        const topic = uniqueName('gw-kip848');
        await c.createTopic(topic, 3);
        const messages = Array.from({ length: 20 }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` }));
        await kafkajsDriver.produce(target(), topic, messages);
        const consumed = await consumeGroup(target(), topic, `${topic}-group`, messages.length, 30_000, { version, config: { 'group.protocol': 'consumer' } });
        assert.deepEqual(consumed.map(keyAndValue).sort(), messages.map(keyAndValue).sort());
      });
    }
  });
}
