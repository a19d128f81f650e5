// A worker process of `turnout start`: one Gateway without an admin listener, serving the route
// listeners it shares with the other workers (node:cluster hands each accepted connection to one
// worker), and answering the primary's calls. Each worker is a member of the fleet under its own
// instance id, so a switch reaches every worker through the state log, like any other instance.
//
// When the primary goes away, node:cluster ends the worker at once (an unexpected 'disconnect'
// exits the process), so no worker outlives a killed primary.
import { formatProblems, type GatewayConfig, parseConfig } from '../config/index.ts';
import { TurnoutError } from '../errors.ts';
import { Gateway } from '../gateway.ts';
import { createLogger, type Logger } from '../observability/log.ts';
import type { RejoinEvent } from '../routing/route.ts';
import {
  type CallMessage,
  type CallName,
  type Calls,
  isOurs,
  Kind,
  type ReloadReport,
  type StartMessage,
  type ToPrimary,
  type ToWorker,
  toWire,
} from './messages.ts';

let gateway: Gateway | null = null;
let start: StartMessage | null = null;
let log: Logger = createLogger('info');
let stopping = false;

function send(m: ToPrimary): void {
  process.send?.(m);
}

/** The worker's own config: the file's, without the admin listener (the primary serves it), under the worker's instance id. */
function workerConfig(s: StartMessage, text: string): GatewayConfig {
  const r = parseConfig(text, { file: s.configFile, env: process.env });
  if (!('config' in r))
    throw new TurnoutError('TURNOUT_CONFIG_INVALID', `the config the primary checked has problems in the worker: ${formatProblems(s.configFile, r.problems)}`);
  return { ...r.config, admin: null, instanceId: s.instanceId };
}

export function runWorker(): void {
  // A bug in one connection's handling must not take every other connection down with it.
  process.on('uncaughtException', (err) => log.error({ err }, 'unexpected error; the worker keeps running'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unexpected rejected promise; the worker keeps running'));
  // Signals meant for the whole process group (a terminal's Ctrl-C, systemd stopping the unit)
  // reach workers too: they stop as the primary would have told them to. Reloads are the primary's.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {});
  process.on('message', (m: unknown) => {
    if (!isOurs<ToWorker>(m)) return;
    if (m.kind === Kind.Start) void begin(m);
    else if (m.kind === Kind.Call) void answer(m);
    else if (m.kind === Kind.Rejoin) relayedRejoin(m.event);
    else if (m.kind === Kind.Stop) stop('primary');
  });
  send({ kind: Kind.Hello });
}

async function begin(s: StartMessage): Promise<void> {
  if (start !== null) return;
  start = s;
  let config: GatewayConfig;
  try {
    config = workerConfig(s, s.configText);
  } catch (err) {
    fail(err);
    return;
  }
  log = createLogger(config.log.level).child({ worker: s.worker });
  const g = new Gateway(config, { log, ...(s.adminAddress !== null ? { adminAddress: s.adminAddress } : {}) });
  try {
    await g.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message, code: (err as { code?: string }).code }, 'worker failed to start');
    fail(err);
    return;
  }
  gateway = g;
  for (const route of g.routes) route.rejoinRelay = (event) => send({ kind: Kind.Rejoin, event });
  if (stopping) {
    await g.stop();
    process.exit(0);
  }
  log.info({ pid: process.pid, instance: s.instanceId }, 'worker serving');
  send({ kind: Kind.Ready });
}

/** Another worker expects a member of this route to rejoin, or saw it rejoin. */
function relayedRejoin(e: RejoinEvent): void {
  const route = gateway?.routes.find((r) => r.name === e.route);
  if (route === undefined) return;
  if (e.holdMs !== null) route.expectRejoin(e.key, e.holdMs, true);
  else route.rejoined(e.key, true);
}

function fail(err: unknown): void {
  // Exit once the message is out: the primary reports it and decides about a replacement.
  const m: ToPrimary = { kind: Kind.Failed, error: toWire(err) };
  if (process.send === undefined) process.exit(1);
  process.send(m, () => process.exit(1));
}

function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  if (gateway === null) {
    if (start === null) process.exit(0);
    return; // still starting: begin() stops it once started
  }
  log.info({ why }, 'worker stopping');
  gateway.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    },
  );
}

async function answer(m: CallMessage): Promise<void> {
  try {
    if (gateway === null || start === null) throw new TurnoutError('TURNOUT_NO_WORKER', 'this worker is not serving yet');
    const value = await run(gateway, start, m.id, m.call, m.args);
    send({ kind: Kind.Reply, id: m.id, ok: true, value });
  } catch (err) {
    send({ kind: Kind.Reply, id: m.id, ok: false, error: toWire(err) });
  }
}

async function run<C extends CallName>(g: Gateway, s: StartMessage, id: number, call: C, args: Calls[C]['args']): Promise<Calls[CallName]['result']> {
  switch (call) {
    case 'routes':
      return g.routeStatus();
    case 'fleet':
      return g.switches.fleet();
    case 'metrics':
      return g.metrics.registry.getMetricsAsJSON();
    case 'switch': {
      const a = args as Calls['switch']['args'];
      return g.switchRoute({ ...a.request, ...(a.progress ? { onProgress: (phase) => send({ kind: Kind.Progress, id, phase }) } : {}) });
    }
    case 'preflight': {
      const a = args as Calls['preflight']['args'];
      return g.switches.preflight(a.route, a.to, a.topics);
    }
    case 'reload': {
      const a = args as Calls['reload']['args'];
      const reports = await g.reload(workerConfig({ ...s, configFile: a.configFile }, a.configText), a.by, { switchRoutes: a.switchRoutes });
      return reports.map((r): ReloadReport => ({ route: r.route, outcome: r.outcome, epoch: r.epoch, message: r.message }));
    }
    default:
      throw new TurnoutError('TURNOUT_WORKER_ERROR', `unknown call "${String(call)}"`);
  }
}
