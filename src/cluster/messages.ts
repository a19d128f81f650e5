// What the primary process and its workers say to each other over the node:cluster IPC channel
// (JSON). The primary asks, a worker answers the call with the same id; a switch's steps come as
// progress messages before its answer. Configs travel as the file's text, which each worker parses
// with the same environment: the parsed config holds Secret objects that JSON would flatten.
import type { Registry } from 'prom-client';
import type { RouteStatus } from '../admin/server.ts';
import type { SwitchPhase } from '../control/records.ts';
import type { FleetInstance, PreflightReport, SwitchReport, SwitchRequest } from '../control/switch-controller.ts';
import { isTurnoutErrorCode, TurnoutError } from '../errors.ts';
import type { RejoinEvent } from '../routing/route.ts';

/** Every message of ours carries one of these kinds (node's own cluster messages never do). */
export const Kind = {
  /** worker → primary: ready to be told what to run. */
  Hello: 'turnout:hello',
  /** primary → worker: the config and who the worker is. */
  Start: 'turnout:start',
  /** worker → primary: its Gateway serves (listeners open). */
  Ready: 'turnout:ready',
  /** worker → primary: its Gateway could not start; the worker exits next. */
  Failed: 'turnout:failed',
  Call: 'turnout:call',
  Reply: 'turnout:reply',
  Progress: 'turnout:progress',
  /** worker → primary → the other workers: a group member's rejoin expected or completed (see Route.rejoinRelay). */
  Rejoin: 'turnout:rejoin',
  /** primary → worker: stop gracefully, then exit. */
  Stop: 'turnout:stop',
} as const;

export interface StartMessage {
  kind: typeof Kind.Start;
  /** 1..N; a replacement for a worker that died gets the same slot. */
  worker: number;
  /** The worker's fleet instance id. */
  instanceId: string;
  /** The primary's admin address, named in the worker's heartbeats. */
  adminAddress: string | null;
  configFile: string;
  configText: string;
}

export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The calls a worker answers: their arguments and results. */
export interface Calls {
  routes: { args: null; result: RouteStatus[] };
  fleet: { args: null; result: FleetInstance[] };
  /** The worker's registry as prom-client's getMetricsAsJSON gives it, for AggregatorRegistry.aggregate. */
  metrics: { args: null; result: MetricsJson };
  switch: { args: { request: Omit<SwitchRequest, 'onProgress'>; progress: boolean }; result: SwitchReport };
  preflight: { args: { route: string; to: string; topics: string[] }; result: PreflightReport };
  /** switchRoutes false: take the new streaming domains only (see Gateway.reload). */
  reload: { args: { configFile: string; configText: string; by: string; switchRoutes: boolean }; result: ReloadReport[] };
}

export type CallName = keyof Calls;

export interface ReloadReport {
  route: string;
  outcome: string;
  epoch: number;
  message: string;
}

export interface CallMessage<C extends CallName = CallName> {
  kind: typeof Kind.Call;
  id: number;
  call: C;
  args: Calls[C]['args'];
}

export interface WireError {
  message: string;
  code?: string;
}

export type ReplyMessage =
  | { kind: typeof Kind.Reply; id: number; ok: true; value: unknown }
  | { kind: typeof Kind.Reply; id: number; ok: false; error: WireError };

export interface ProgressMessage {
  kind: typeof Kind.Progress;
  id: number;
  phase: SwitchPhase;
}

export interface RejoinMessage {
  kind: typeof Kind.Rejoin;
  event: RejoinEvent;
}

export type ToWorker = StartMessage | CallMessage | RejoinMessage | { kind: typeof Kind.Stop };
export type ToPrimary =
  | { kind: typeof Kind.Hello }
  | { kind: typeof Kind.Ready }
  | { kind: typeof Kind.Failed; error: WireError }
  | ReplyMessage
  | ProgressMessage
  | RejoinMessage;

export function isOurs<T extends { kind: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { kind?: unknown }).kind === 'string' && (m as { kind: string }).kind.startsWith('turnout:');
}

/** An error as it crosses the channel: message and stable code, nothing else (no stack, no cause). */
export function toWire(err: unknown): WireError {
  const code = (err as { code?: unknown }).code;
  return { message: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) };
}

export function fromWire(e: WireError): TurnoutError {
  return new TurnoutError(isTurnoutErrorCode(e.code) ? e.code : 'TURNOUT_WORKER_ERROR', e.message);
}
