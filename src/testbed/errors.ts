// The test bed's one error type. Callers (tests, the runner, the demo) branch on `code`, never on
// the message; messages say what failed, where, and what to do about it.

import { TurnoutError } from '../errors.ts';

export const TestBedErrorCode = {
  JavaMissing: 'TESTBED_JAVA_MISSING',
  MavenMissing: 'TESTBED_MAVEN_MISSING',
  ResolveFailed: 'TESTBED_RESOLVE_FAILED',
  UnsupportedVersion: 'TESTBED_UNSUPPORTED_VERSION',
  ProcessExited: 'TESTBED_PROCESS_EXITED',
  StartTimeout: 'TESTBED_START_TIMEOUT',
  ToolTimeout: 'TESTBED_TOOL_TIMEOUT',
  NoFreePort: 'TESTBED_NO_FREE_PORT',
  UnknownCluster: 'TESTBED_UNKNOWN_CLUSTER',
  UnknownBroker: 'TESTBED_UNKNOWN_BROKER',
  SpecConflict: 'TESTBED_SPEC_CONFLICT',
  ServiceFailed: 'TESTBED_SERVICE_FAILED',
  Stopped: 'TESTBED_STOPPED',
} as const;

export type TestBedErrorCode = (typeof TestBedErrorCode)[keyof typeof TestBedErrorCode];

export class TestBedError extends TurnoutError {
  declare readonly code: TestBedErrorCode;

  constructor(code: TestBedErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
