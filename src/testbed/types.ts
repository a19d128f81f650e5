// What callers of the test bed ask for (specs) and get back (descriptors). Descriptors are plain
// JSON so the test bed service can send them between processes; describeCluster() adds the helpers.

export const ListenerKind = { Plaintext: 'plaintext', Sasl: 'sasl' } as const;
export type ListenerKind = (typeof ListenerKind)[keyof typeof ListenerKind];

/** SASL/PLAIN users every broker's SASL_PLAINTEXT listener accepts (user name -> password). */
export const SASL_USERS = {
  admin: 'admin-secret',
  alice: 'alice-secret',
  kafka: 'kafka-secret',
} as const;

export interface ClusterSpec {
  /** Clusters are shared by name: the first request starts it, later ones get the same cluster. */
  readonly name: string;
  /** Number of brokers; each node is a combined broker+controller (default 1). */
  readonly brokers?: number;
  /** Default DEFAULT_KAFKA_VERSION (4.3.1). */
  readonly kafkaVersion?: string;
  /** Node ids are nodeIdBase, nodeIdBase+1, ... (default 1); lets two clusters differ in broker ids. */
  readonly nodeIdBase?: number;
  /** Extra or overriding server.properties entries for every broker. */
  readonly brokerConfig?: Readonly<Record<string, string>>;
}

export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly plaintextPort: number;
  readonly saslPort: number;
  readonly controllerPort: number;
  readonly running: boolean;
  /** Folder holding this broker's server.properties, server.log and data. */
  readonly dir: string;
}

export interface ClusterInfo {
  readonly name: string;
  readonly version: string;
  readonly clusterId: string;
  readonly brokers: readonly BrokerInfo[];
  /** Folder holding every broker folder of this cluster. */
  readonly logDir: string;
  /** Time from the start request to all brokers serving Metadata, in milliseconds. */
  readonly startupMs: number;
}

export interface ClusterDescriptor extends ClusterInfo {
  /** Comma-separated host:port list of every broker's listener of that kind. */
  bootstrap(listener?: ListenerKind): string;
}

export function describeCluster(info: ClusterInfo): ClusterDescriptor {
  return {
    ...info,
    bootstrap(listener: ListenerKind = ListenerKind.Plaintext): string {
      return info.brokers.map((b) => `${b.host}:${listener === ListenerKind.Sasl ? b.saslPort : b.plaintextPort}`).join(',');
    },
  };
}

export interface MirrorMakerSpec {
  /** MirrorMaker instances are shared by name, like clusters. */
  readonly name: string;
  /** Names of clusters already started through the same test bed. */
  readonly source: string;
  readonly target: string;
  /** Default: the target cluster's version. */
  readonly kafkaVersion?: string;
  /** Regex of topics to replicate (default ".*"; MirrorMaker's own topics are always excluded). */
  readonly topics?: string;
  /** Regex of consumer groups whose offsets are checkpointed and synced (default ".*"). */
  readonly groups?: string;
  /** Marks copies with a header and skips marked records, so that an opposite instance (target ->
   *  source, also with bothWays) can run at the same time without records bouncing between the two. */
  readonly bothWays?: boolean;
  /** Extra or overriding mm2.properties entries. */
  readonly config?: Readonly<Record<string, string>>;
}

export interface MirrorMakerInfo {
  readonly name: string;
  readonly source: string;
  readonly target: string;
  readonly version: string;
  readonly running: boolean;
  /** Connectors seen starting in the MirrorMaker log (MirrorSourceConnector, ...). */
  readonly connectors: readonly string[];
  /** Folder holding mm2.properties and mirror-maker.log. */
  readonly logDir: string;
  readonly startupMs: number;
}
