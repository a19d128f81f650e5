// One error family for all of Turnout, with stable string codes that callers branch on
// (undici's style). Messages say what went wrong, where, and what to do about it.
//
// Every code the gateway raises is registered here, with what it means: the compiler refuses a
// TurnoutError whose code is not (module-level code tables such as CodecErrorCode are checked
// through their error classes' constructors), and test/unit/errors.test.ts refuses a registered
// code nothing raises. The admin API and the CLI answer with { code, message } (errorReport), so
// that scripts can act on the code and people can read the message.

export const TURNOUT_ERRORS = {
  // configuration
  TURNOUT_CONFIG_INVALID: 'the configuration file was read but has problems; each names its path and line',
  TURNOUT_CONFIG_UNREADABLE: 'the configuration file could not be read (missing, a directory, no permission)',
  // listening and processes
  TURNOUT_LISTEN_FAILED: 'a route endpoint, broker port or the admin listener could not be bound',
  TURNOUT_NO_WORKER: 'no worker process could serve the request (none running, or all starting)',
  TURNOUT_WORKER_ERROR: 'a worker process failed to start or answered with an error',
  TURNOUT_WORKER_EXITED: 'a worker process exited while a request to it was pending',
  TURNOUT_WORKER_TIMEOUT: 'a worker process did not answer in time',
  // the Kafka protocol codec
  TURNOUT_CODEC_TRUNCATED: 'bytes end before the structure they encode does',
  TURNOUT_CODEC_INVALID_LENGTH: 'a length or count is negative where not allowed, or larger than the bytes left',
  TURNOUT_CODEC_VARINT_TOO_LONG: 'a varint runs longer than its type allows',
  TURNOUT_CODEC_UNEXPECTED_NULL: 'a null where the field is not nullable in this version',
  TURNOUT_CODEC_INVALID_TAGGED_FIELD: 'a tagged field whose declared size does not match its content',
  TURNOUT_CODEC_TRAILING_BYTES: 'bytes left over after a message ended',
  TURNOUT_CODEC_UNKNOWN_API: 'an api key the codec does not know',
  TURNOUT_CODEC_UNSUPPORTED_VERSION: 'a version of an API the codec (or the gateway) does not offer',
  TURNOUT_CODEC_FIELD_NOT_IN_VERSION: 'a field set to a non-default value in a version that cannot carry it',
  TURNOUT_CODEC_FRAME_TOO_LARGE: 'a frame whose size prefix is above the frame limit',
  TURNOUT_CODEC_INTERNAL: 'the codec was used in a way it does not support (a bug)',
  TURNOUT_COMPRESSION_UNKNOWN_CODEC: 'a compression codec Kafka does not define, or that this Node.js cannot decompress',
  TURNOUT_COMPRESSION_TOO_LARGE: 'compressed data would decompress past the allowed size',
  TURNOUT_COMPRESSION_CORRUPT: 'compressed data is not valid for its codec',
  TURNOUT_RECORDS_CORRUPT: 'a record batch fails its CRC, has records that do not fit it, or cannot be decompressed',
  TURNOUT_RECORDS_UNSUPPORTED: 'a record batch of a magic other than 2, or with a codec Kafka does not define',
  TURNOUT_RECORDS_TOO_LARGE: 'a record batch decompresses past the allowed size',
  // upstream clusters
  TURNOUT_UPSTREAM_UNREACHABLE: 'a broker could not be connected to',
  TURNOUT_UPSTREAM_TIMEOUT: 'a broker did not accept the connection or answer a request in time',
  TURNOUT_UPSTREAM_CLOSED: 'a connection to a broker closed',
  TURNOUT_UPSTREAM_AUTHENTICATION_FAILED: "a broker refused the streaming domain's service credentials",
  TURNOUT_UPSTREAM_PROTOCOL: 'a broker sent a response the gateway cannot read',
  TURNOUT_UPSTREAM_NO_BROKER_FOR_PORT: 'no broker of the current cluster is served on a gateway broker port',
  TURNOUT_CLUSTER_ADMIN: 'an admin operation of a switch or preflight failed on a cluster (after its retries)',
  TURNOUT_UNREADABLE_RECORDS: 'records of a partition cannot be read to compare clusters (corrupt, unknown codec, too large)',
  // the switch state log
  TURNOUT_STATE_LOG_UNAVAILABLE: 'the state topic could not be served before the timeout (unreachable, no leader)',
  TURNOUT_STATE_LOG_REJECTED: 'the cluster refused a state topic request for good (authorization, configuration)',
  TURNOUT_STATE_LOG_CONFIG: 'the state topic cannot be used on this listener (SASL without service credentials)',
  TURNOUT_STATE_LOG_CLOSED: 'the state log was closed',
  TURNOUT_STATE_UNREADABLE: 'at startup, no state topic could be read within gateway.state.startup',
  // switches
  TURNOUT_UNKNOWN_ROUTE: 'no route of that name',
  TURNOUT_UNKNOWN_DOMAIN: 'no streaming domain of that name',
  TURNOUT_UNKNOWN_LISTENER: 'the streaming domain has no bootstrap server of that id',
  TURNOUT_INCOMPATIBLE_LISTENER: "the destination listener's security does not suit the route's authentication",
  TURNOUT_DESTINATION_UNREACHABLE: 'the destination cluster could not be reached',
  TURNOUT_DESTINATION_UNUSABLE: 'the destination cluster answered but cannot serve the route',
  TURNOUT_FENCE_NOT_DRAINED: 'writes forwarded before a fence were not answered within the fence budget',
  TURNOUT_NO_ADMIN_LISTENER: 'a fleet switch needs the admin listener, which is disabled',
  // the CLI
  TURNOUT_NO_ADMIN: 'the configuration disables the admin listener and no --admin URL was given',
  TURNOUT_ADMIN_UNREACHABLE: 'the admin API could not be reached',
  TURNOUT_ADMIN_BAD_ANSWER: 'the admin API answered something that is not what the CLI expects',
  TURNOUT_SWITCH_OUTCOME_UNKNOWN: 'the connection to the admin API dropped during a switch: check turnout status',
  // the test bed (tests and the demo)
  TURNOUT_TESTBED_URL: 'the test bed service URL is missing or wrong',
  TESTBED_JAVA_MISSING: 'no java executable',
  TESTBED_MAVEN_MISSING: 'no mvn executable to resolve Kafka',
  TESTBED_RESOLVE_FAILED: 'Maven could not resolve the Kafka jars',
  TESTBED_UNSUPPORTED_VERSION: 'a Kafka version the test bed does not run',
  TESTBED_PROCESS_EXITED: 'a broker, MirrorMaker or tool process exited unexpectedly',
  TESTBED_START_TIMEOUT: 'a process did not become ready in time',
  TESTBED_TOOL_TIMEOUT: 'a Kafka tool did not finish in time',
  TESTBED_NO_FREE_PORT: 'no free port block for a cluster',
  TESTBED_UNKNOWN_CLUSTER: 'no test bed cluster of that name',
  TESTBED_UNKNOWN_BROKER: 'no broker of that node id in the cluster',
  TESTBED_SPEC_CONFLICT: 'a cluster of that name exists with another specification',
  TESTBED_SERVICE_FAILED: 'the shared test bed service failed a request',
  TESTBED_STOPPED: 'the test bed was stopped',
  // anything else
  TURNOUT_INTERNAL: 'an error the gateway did not expect (a bug): the message says where',
} as const satisfies Record<string, string>;

export type TurnoutErrorCode = keyof typeof TURNOUT_ERRORS;

export class TurnoutError extends Error {
  readonly code: TurnoutErrorCode;

  constructor(code: TurnoutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Whether `code` is a registered code (one that crossed a process boundary as a string, say). */
export function isTurnoutErrorCode(code: unknown): code is TurnoutErrorCode {
  return typeof code === 'string' && Object.hasOwn(TURNOUT_ERRORS, code);
}

/** What the admin API and the CLI report for an error: its code (TURNOUT_INTERNAL for one that is not Turnout's) and message. */
export function errorReport(err: unknown): { code: TurnoutErrorCode; message: string } {
  if (err instanceof TurnoutError) return { code: err.code, message: err.message };
  return { code: 'TURNOUT_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
