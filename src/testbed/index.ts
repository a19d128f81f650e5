// Public surface of the Kafka test bed: real Apache Kafka brokers, MirrorMaker 2 and Kafka's own
// command line tools, started from jars on Maven Central, for integration tests and the demo.
export { testBed, type TestBedApi } from './client.ts';
export { TestBed, type StartupTiming } from './bed.ts';
export { startTestBedService, TESTBED_URL_ENV, type TestBedService } from './service.ts';
export { KafkaCluster } from './cluster.ts';
export { MirrorMaker, mirrorMakerConfig } from './mirror-maker.ts';
export { kafkaTools, KafkaTools, ToolProcess, writeSaslClientProperties, type RunOptions, type ToolResult } from './tools.ts';
export { waitForGroupOffsets, waitForReplication } from './replication.ts';
export { cacheDir, checkJava, isKafkaCached, resolveKafka, type KafkaJars } from './jars.ts';
export { TestBedError, TestBedErrorCode } from './errors.ts';
export { DEFAULT_KAFKA_VERSION, KafkaTool, TESTED_KAFKA_VERSIONS, kafkaLine, type KafkaToolName } from './versions.ts';
export {
  describeCluster,
  ListenerKind,
  SASL_USERS,
  type BrokerInfo,
  type ClusterDescriptor,
  type ClusterInfo,
  type ClusterSpec,
  type MirrorMakerInfo,
  type MirrorMakerSpec,
} from './types.ts';
