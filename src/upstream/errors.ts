// Errors from Turnout's own connections to upstream clusters.
import { TurnoutError } from '../errors.ts';

export const UpstreamErrorCode = {
  Unreachable: 'TURNOUT_UPSTREAM_UNREACHABLE',
  Timeout: 'TURNOUT_UPSTREAM_TIMEOUT',
  Closed: 'TURNOUT_UPSTREAM_CLOSED',
  AuthenticationFailed: 'TURNOUT_UPSTREAM_AUTHENTICATION_FAILED',
  Protocol: 'TURNOUT_UPSTREAM_PROTOCOL',
  NoBrokerForPort: 'TURNOUT_UPSTREAM_NO_BROKER_FOR_PORT',
} as const;
export type UpstreamErrorCode = (typeof UpstreamErrorCode)[keyof typeof UpstreamErrorCode];

export class UpstreamError extends TurnoutError {
  declare readonly code: UpstreamErrorCode;
  constructor(code: UpstreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
