// What differs between the Kafka lines the test bed runs: main classes of the command line tools,
// the logging backend (and so the slf4j binding Maven must add), and broker configs that only one
// line knows. Everything else about a broker is the same for 3.9 and 4.x.
import { TestBedError, TestBedErrorCode } from './errors.ts';

export const DEFAULT_KAFKA_VERSION = '4.3.1';
/** The versions the runner resolves up front, so that downloads happen before any test starts. */
export const TESTED_KAFKA_VERSIONS = ['4.3.1', '3.9.2'] as const;

/** Tool names follow the bin/kafka-<name>.sh scripts of the Kafka distribution. */
export const KafkaTool = {
  ConsoleProducer: 'console-producer',
  ConsoleConsumer: 'console-consumer',
  ConsumerGroups: 'consumer-groups',
  Topics: 'topics',
  GetOffsets: 'get-offsets',
  VerifiableProducer: 'verifiable-producer',
  VerifiableConsumer: 'verifiable-consumer',
  ProducerPerformance: 'producer-perf-test',
  ConsumerPerformance: 'consumer-perf-test',
  Transactions: 'transactions',
  MetadataQuorum: 'metadata-quorum',
  Acls: 'acls',
} as const;

export type KafkaToolName = (typeof KafkaTool)[keyof typeof KafkaTool];

export const LogBackend = { Log4j2: 'log4j2', Log4j1: 'log4j1' } as const;
export type LogBackend = (typeof LogBackend)[keyof typeof LogBackend];

export interface KafkaLine {
  readonly major: number;
  readonly logBackend: LogBackend;
  /** slf4j binding for the Maven resolution (Kafka's own poms carry slf4j-api but no binding). */
  readonly logBinding: { groupId: string; artifactId: string; version: string };
  readonly brokerMain: string;
  readonly storageToolMain: string;
  readonly mirrorMakerMain: string;
  readonly tools: Readonly<Record<KafkaToolName, string>>;
  /** Flag that passes a client .properties file to each tool (4.x renamed them all --command-config). */
  readonly clientConfigFlag: Readonly<Record<KafkaToolName, string>>;
  /** Whether producer-perf-test takes --bootstrap-server (4.x) or only --producer-props (3.x). */
  readonly perfTestHasBootstrapFlag: boolean;
  /** Broker configs that exist only on this line (unknown ones would just log warnings). */
  readonly brokerExtras: (replicationFactor: number) => Record<string, string>;
}

// Checked with `unzip -l` on kafka_2.13 and kafka-tools of each version. Only the console producer
// moved (Scala kafka.tools in 3.x, Java org.apache.kafka.tools in 4.0); the rest moved earlier.
const sharedTools = {
  'console-consumer': 'org.apache.kafka.tools.consumer.ConsoleConsumer',
  'consumer-groups': 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
  topics: 'org.apache.kafka.tools.TopicCommand',
  'get-offsets': 'org.apache.kafka.tools.GetOffsetShell',
  'verifiable-producer': 'org.apache.kafka.tools.VerifiableProducer',
  'verifiable-consumer': 'org.apache.kafka.tools.VerifiableConsumer',
  'producer-perf-test': 'org.apache.kafka.tools.ProducerPerformance',
  'consumer-perf-test': 'org.apache.kafka.tools.ConsumerPerformance',
  transactions: 'org.apache.kafka.tools.TransactionsCommand',
  'metadata-quorum': 'org.apache.kafka.tools.MetadataQuorumCommand',
  acls: 'org.apache.kafka.tools.AclCommand',
} as const;

const commandConfigEverywhere = Object.fromEntries(
  Object.keys(sharedTools)
    .concat('console-producer')
    .map((tool) => [tool, '--command-config']),
) as Record<KafkaToolName, string>;

const shared = {
  brokerMain: 'kafka.Kafka',
  storageToolMain: 'kafka.tools.StorageTool',
  mirrorMakerMain: 'org.apache.kafka.connect.mirror.MirrorMaker',
};

const LINES: Record<number, KafkaLine> = {
  3: {
    major: 3,
    logBackend: LogBackend.Log4j1,
    logBinding: { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
    ...shared,
    tools: { ...sharedTools, 'console-producer': 'kafka.tools.ConsoleProducer', acls: 'kafka.admin.AclCommand' },
    clientConfigFlag: {
      ...commandConfigEverywhere,
      'console-producer': '--producer.config',
      'verifiable-producer': '--producer.config',
      'producer-perf-test': '--producer.config',
      'console-consumer': '--consumer.config',
      'verifiable-consumer': '--consumer.config',
      'consumer-perf-test': '--consumer.config',
    },
    perfTestHasBootstrapFlag: false,
    brokerExtras: () => ({}),
  },
  4: {
    major: 4,
    logBackend: LogBackend.Log4j2,
    logBinding: { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: '2.25.4' },
    ...shared,
    tools: { ...sharedTools, 'console-producer': 'org.apache.kafka.tools.ConsoleProducer' },
    clientConfigFlag: commandConfigEverywhere,
    perfTestHasBootstrapFlag: true,
    // Share groups (KIP-932) keep their state in an internal topic with replication factor 3 by default.
    brokerExtras: (rf) => ({
      'share.coordinator.state.topic.replication.factor': String(rf),
      'share.coordinator.state.topic.min.isr': '1',
    }),
  },
};

export function kafkaLine(version: string): KafkaLine {
  const major = Number(/^(\d+)\.\d+\.\d+$/.exec(version)?.[1]);
  const line = LINES[major];
  if (!line || (major === 3 && !/^3\.(9)\./.test(version))) {
    throw new TestBedError(
      TestBedErrorCode.UnsupportedVersion,
      `Kafka version "${version}" is not supported by the test bed; use 4.x (e.g. ${DEFAULT_KAFKA_VERSION}) or 3.9.x ` +
        `(KRaft with SASL listeners and the tool class names in src/testbed/versions.ts are only known for those).`,
    );
  }
  return line;
}
