// Public surface of the Kafka test bed: real Apache Kafka brokers, MirrorMaker 2 and Kafka's own
// command line tools, started from jars on Maven Central, for integration tests and the demo.

export { type StartupTiming, TestBed } from './bed.ts';
export { type TestBedApi, testBed } from './client.ts';
export { KafkaCluster } from './cluster.ts';
export { TestBedError, TestBedErrorCode } from './errors.ts';
export { cacheDir, checkJava, isKafkaCached, type KafkaJars, resolveKafka } from './jars.ts';
export { MirrorMaker, mirrorMakerConfig } from './mirror-maker.ts';
export { waitForGroupOffsets, waitForReplication } from './replication.ts';
export { startTestBedService, TESTBED_URL_ENV, type TestBedService } from './service.ts';
export { KafkaTools, kafkaTools, type RunOptions, ToolProcess, type ToolResult, writeSaslClientProperties } from './tools.ts';
export {
  type BrokerInfo,
  type ClusterDescriptor,
  type ClusterInfo,
  type ClusterSpec,
  describeCluster,
  ListenerKind,
  type MirrorMakerInfo,
  type MirrorMakerSpec,
  SASL_USERS,
} from './types.ts';
export { DEFAULT_KAFKA_VERSION, KafkaTool, type KafkaToolName, kafkaLine, TESTED_KAFKA_VERSIONS } from './versions.ts';
