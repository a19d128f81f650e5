// server.properties of one node of a test cluster: a combined KRaft broker+controller with a
// static voter set, a PLAINTEXT listener (also used between brokers), a SASL_PLAINTEXT listener
// with SASL/PLAIN users, and settings that make a small cluster behave well under tests.
import { SASL_USERS } from './types.ts';
import { kafkaLine } from './versions.ts';

export interface NodeAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly plaintextPort: number;
  readonly saslPort: number;
  readonly controllerPort: number;
}

export interface BrokerConfigInput {
  readonly version: string;
  readonly node: NodeAddress;
  /** Every node of the cluster, this one included: they form the static controller quorum. */
  readonly voters: readonly NodeAddress[];
  readonly dataDir: string;
  readonly overrides?: Readonly<Record<string, string>>;
}

function jaasConfig(): string {
  const users = Object.entries(SASL_USERS).map(([user, password]) => `user_${user}="${password}"`);
  return `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${SASL_USERS.admin}" ${users.join(' ')};`;
}

export function brokerConfig(input: BrokerConfigInput): Record<string, string> {
  const { node, voters } = input;
  // Replicate internal and auto-created topics on up to 3 brokers so that stopping one broker of
  // a 3-broker cluster loses nothing, but let one replica suffice so such a cluster keeps working.
  const rf = String(Math.min(3, voters.length));
  const h = node.host;
  return {
    'process.roles': 'broker,controller',
    'node.id': String(node.nodeId),
    // A static voter set works on 3.9 and 4.x alike and needs no --standalone/--initial-controllers.
    'controller.quorum.voters': voters.map((v) => `${v.nodeId}@${v.host}:${v.controllerPort}`).join(','),
    listeners: `PLAINTEXT://${h}:${node.plaintextPort},SASL_PLAINTEXT://${h}:${node.saslPort},CONTROLLER://${h}:${node.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${h}:${node.plaintextPort},SASL_PLAINTEXT://${h}:${node.saslPort}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': jaasConfig(),
    'log.dirs': input.dataDir,

    'auto.create.topics.enable': 'true',
    'num.partitions': '1',
    'default.replication.factor': rf,
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': rf,
    // 50 partitions (the default) make the first group coordinator lookup slow; 10 still spread
    // coordinators over 3 brokers.
    'offsets.topic.num.partitions': '10',
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '10',
    ...kafkaLine(input.version).brokerExtras(Number(rf)),

    // Short timeouts that keep tests fast: no rebalance delay, tests may use short client sessions,
    // a killed broker is fenced (and its leaders moved) after 4 s instead of 9 s, and a starting
    // broker is unfenced after its first 500 ms heartbeat instead of 2 s.
    'group.initial.rebalance.delay.ms': '0',
    'group.min.session.timeout.ms': '1000',
    'group.consumer.min.session.timeout.ms': '1000',
    'group.consumer.session.timeout.ms': '10000',
    'group.consumer.min.heartbeat.interval.ms': '500',
    'group.consumer.heartbeat.interval.ms': '1000',
    'broker.heartbeat.interval.ms': '500',
    'broker.session.timeout.ms': '4000',
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': '5000',
    'replica.lag.time.max.ms': '10000',

    // Few threads and a small log-cleaner buffer (128 MB by default, allocated on the heap at
    // start-up) keep a broker inside a 384 MB heap and leave the 2 cores to the tests.
    'num.network.threads': '2',
    'num.io.threads': '4',
    'background.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
    'num.replica.fetchers': '1',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': String(8 * 1024 * 1024),
    ...input.overrides,
  };
}

/** Renders a properties map; values are written verbatim (none of ours need escaping). */
export function renderProperties(props: Readonly<Record<string, string>>): string {
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}
