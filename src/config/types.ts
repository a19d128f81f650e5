// The gateway's configuration after loading, env substitution and validation. Everything in the
// data path and control plane consumes these types, never raw YAML.

/** A secret from the config (a password). Prints as *** so it cannot leak into logs or errors. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(***)';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export type UpstreamSecurity =
  | { protocol: 'PLAINTEXT' }
  | {
      protocol: 'SASL_PLAINTEXT';
      /** Turnout's own service credentials for this listener (metadata discovery, readiness). */
      sasl: { mechanism: 'PLAIN'; username: string; password: Secret } | null;
    };

export interface BootstrapServerConfig {
  /** Name of this listener of the cluster, referenced by routes (e.g. internal-sasl-listener). */
  id: string;
  /** One or more host:port of the cluster's brokers on this listener, tried in order. */
  endpoints: HostPort[];
  security: UpstreamSecurity;
}

export interface StreamingDomainConfig {
  name: string;
  type: 'kafka';
  kafkaCluster: {
    name: string;
    bootstrapServers: BootstrapServerConfig[];
  };
}

export type ClientAuthentication =
  /** Clients authenticate with their own credentials; Turnout relays the SASL exchange. */
  | { type: 'passthrough' }
  /** No client authentication (upstream listener must be PLAINTEXT). */
  | { type: 'none' };

export interface RouteConfig {
  name: string;
  /** Address clients bootstrap from; its host is also the host advertised for every broker. */
  endpoint: HostPort;
  /** Local address the route's listeners bind to. */
  bindAddress: string;
  /** Broker n (node id) is served on port base + (n mod count). */
  brokerPorts: { base: number; count: number };
  streamingDomain: { name: string; bootstrapServerId: string };
  authentication: ClientAuthentication;
  /** The cluster id clients see through this route (stable across switches). */
  clusterId: string;
  replication: ReplicationConfig;
  /** Limits of this route alone (gateway.limits apply to every route). */
  limits?: { maxConnections: number | null };
}

export type ReplicationType = 'mirrormaker2' | 'offset-preserving' | 'none';

/** How the route's topics reach its other clusters; a planned switch needs mirrormaker2 or offset-preserving. */
export interface ReplicationConfig {
  type: ReplicationType;
  /** Topics a planned switch and preflight cover besides those clients used through the route (anchored regex source). */
  topics: string | null;
  /** Consumer groups whose offsets are moved (anchored regex source; null: every group with offsets on the topics). */
  groups: string | null;
  /**
   * Use MirrorMaker 2's checkpoints (`<source alias>.checkpoints.internal`) as lower bounds where
   * offset syncs do not reach a group's offset. Off by default: only MirrorMaker 3.5 and later
   * write conservative checkpoints, and a checkpoint cannot be checked against the records.
   */
  checkpoints?: boolean;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * What a starting instance does when it can read no streaming domain's state topic: `wait` (up to
 * `timeoutMs`, then fail to start) or `serve` the domains in the file with the epoch unknown until
 * a state topic is read (no switch is accepted meanwhile). Absent: wait, 60 s.
 */
export interface StateStartup {
  mode: 'wait' | 'serve';
  timeoutMs: number;
}

/** Worker processes of `turnout start`: a count, or "auto" (one per CPU; one when the state log is off). */
export type WorkerCount = number | 'auto';

/** The fleet key that signs state records (src/control/state-signing.ts). */
export interface StateSigningConfig {
  /** Signs what this instance writes and verifies what it reads; null: records are neither signed nor checked. */
  key: Secret | null;
  /** Accepted when reading, never used to sign: keys being rotated out. */
  previousKeys: readonly Secret[];
  /** Accept records without a signature (rolling a key out on a fleet whose state was written unsigned). */
  acceptUnsigned: boolean;
}

export interface GatewayConfig {
  /** Admin HTTP listener; null disables it. Port 0 picks a free port. */
  admin: HostPort | null;
  /** Bearer token that admin endpoints changing routing require; null refuses those endpoints. */
  adminToken: Secret | null;
  /** This instance's name in the fleet (heartbeats, switch acknowledgements, audit). */
  instanceId: string;
  /** The compacted topic, written to every streaming domain, that holds switch state; null: local only. */
  state: { topic: string; signing?: StateSigningConfig; startup?: StateStartup } | null;
  switchover: {
    /** How long connections of the old cluster get for in-flight requests before they are closed. */
    drainTimeoutMs: number;
    /** How long a fleet switch waits for every live instance to prepare and to apply. */
    fleetTimeoutMs: number;
    /** A planned switch's budget from fencing to release: past it, the switch aborts and traffic resumes on the source. */
    fenceTimeoutMs: number;
    /** A topic no client produced to, fetched from or committed offsets for in this long stops
     *  counting as in use (preflight, planned switch). Set by normalize; absent means the default. */
    topicIdleMs?: number;
  };
  /** Audit log of switches: JSON lines appended to this file (also logged). */
  audit: { file: string | null };
  log: { level: LogLevel };
  limits: {
    /** Largest frame accepted from a client or broker (Kafka's socket.request.max.bytes). */
    maxFrameBytes: number;
    /** Bytes a connection may buffer towards a slow peer before reads from the other side pause. */
    maxBufferedBytesPerConnection: number;
    /** Timeout for opening a connection to an upstream broker. */
    upstreamConnectTimeoutMs: number;
    /** Largest frame accepted before a passthrough route's client has authenticated (a broker's sasl.server.max.receive.size). */
    maxUnauthenticatedFrameBytes?: number;
    /** Bytes all connections of one process may buffer together; past it, reads pause until it drains. */
    maxBufferedBytes?: number;
    /** Open client connections per process; more are refused at accept. */
    maxConnections?: number;
    /** Open client connections per client IP address and process. */
    maxConnectionsPerAddress?: number;
    /** A passthrough connection not authenticated this long after it opened is closed. */
    authenticationTimeoutMs?: number;
    /** A connection with nothing in flight and nothing received this long is closed (a broker's connections.max.idle.ms). */
    connectionsMaxIdleMs?: number;
  };
  /** On SIGTERM, how long in-flight requests may take before connections are closed. */
  shutdownTimeoutMs: number;
  /**
   * Worker processes `turnout start` runs, sharing the listeners (src/cluster). Always set by the
   * config loader; absent (configs built in code for one in-process Gateway) means "auto".
   */
  workers?: WorkerCount;
  streamingDomains: StreamingDomainConfig[];
  routes: RouteConfig[];
}
