// `turnout switch ROUTE --to DOMAIN`: asks a running gateway to switch a route (on every live
// instance of the fleet) and prints each instance's result. Exit 0 when switched or unchanged,
// 1 when refused or failed, 2 when the gateway could not be asked, 3 when the connection dropped
// after the request was sent: the switch may or may not have happened.

import { hostname, userInfo } from 'node:os';
import type { SwitchPhase } from '../control/records.ts';
import type { SwitchReport } from '../control/switch-controller.ts';
import { TurnoutError } from '../errors.ts';
import { type AdminOptions, type AdminTarget, adminTarget, missingRouteMessage } from './admin-client.ts';

export interface SwitchOptions extends AdminOptions {
  to?: string;
  bootstrapServerId?: string;
  force?: boolean;
  json?: boolean;
  by?: string;
  mode?: string;
  topics?: string;
}

export const SwitchExit = { Done: 0, NotSwitched: 1, NotAsked: 2, OutcomeUnknown: 3 } as const;

/** Who switched, for the audit log, when --by is not given: the login name, never "undefined". */
export function defaultSwitchedBy(env: NodeJS.ProcessEnv = process.env, user: () => string = () => userInfo().username, host: () => string = hostname): string {
  let name = env.USER ?? env.LOGNAME;
  if (name === undefined || name === '') {
    try {
      name = user(); // throws when the uid has no passwd entry (some containers)
    } catch {
      name = '';
    }
  }
  if (name === '') name = `uid ${process.getuid?.() ?? '?'}`;
  return `cli:${name}@${host()}`;
}

export async function runSwitch(route: string | undefined, opts: SwitchOptions): Promise<number> {
  if (route === undefined) {
    process.stderr.write(await missingRouteMessage('switch', opts));
    return SwitchExit.NotAsked;
  }
  if (opts.to === undefined) {
    process.stderr.write(`turnout switch: missing --to DOMAIN: the streaming domain to switch route "${route}" to\n`);
    return SwitchExit.NotAsked;
  }
  const to = opts.to;
  let target;
  let answer;
  try {
    target = adminTarget(opts);
    if (target.token === undefined) {
      process.stderr.write('switching needs the admin token: give --token, set TURNOUT_ADMIN_TOKEN, or -c with a config that has gateway.admin.token\n');
      return 2;
    }
    if (opts.mode !== undefined && opts.mode !== 'planned' && opts.mode !== 'hot') {
      process.stderr.write(`--mode must be planned or hot, not "${opts.mode}"\n`);
      return 2;
    }
    const topics = opts.topics
      ?.split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    answer = await streamSwitch(
      target,
      route,
      {
        to,
        bootstrapServerId: opts.bootstrapServerId,
        force: opts.force === true,
        by: opts.by ?? defaultSwitchedBy(),
        mode: opts.mode,
        topics,
        progress: true,
      },
      opts.json === true ? () => {} : (p) => process.stdout.write(formatPhase(p)),
    );
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return (err as TurnoutError).code === OUTCOME_UNKNOWN ? SwitchExit.OutcomeUnknown : SwitchExit.NotAsked;
  }
  const r = answer.body;
  if (r.error !== undefined) {
    process.stderr.write(`switch refused by ${target.url} (HTTP ${answer.status}): ${r.error}\n`);
    return answer.status === 401 || answer.status === 403 ? 2 : 1;
  }
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    process.stdout.write(formatReport(r));
  }
  return r.outcome === 'switched' || r.outcome === 'unchanged' ? 0 : 1;
}

export function formatReport(r: SwitchReport): string {
  const lines = [
    `route ${r.route}: ${r.outcome.toUpperCase()}${r.forced ? ' (forced)' : ''}  ${r.from} -> ${r.to} (listener ${r.listener})  epoch ${r.epoch}  ${r.mode}  ${r.durationMs} ms`,
    `  ${r.message}`,
  ];
  if (r.instances.length > 0) {
    lines.push('  instance                          prepared  applied  error');
    for (const i of r.instances) {
      const yn = (v: boolean | null) => (v === null ? 'no answer' : v ? 'yes' : 'NO');
      lines.push(`  ${i.instance.padEnd(32)}  ${yn(i.prepared).padEnd(8)}  ${yn(i.applied).padEnd(7)}  ${i.error ?? ''}`.trimEnd());
    }
  }
  if (r.partitions !== undefined && r.partitions.length > 0) {
    const behind = r.partitions.filter((p) => !p.caughtUp);
    lines.push(
      `  partitions: ${r.partitions.length} at the cut, ${behind.length} behind${behind.length > 0 ? `: ${behind.map((p) => `${p.partition} (${p.lag ?? '>500'})`).join(', ')}` : ''}`,
    );
  }
  if (r.groups !== undefined && r.groups.length > 0) {
    lines.push('  group                             installed  offsets (source -> destination, method, may re-read)');
    for (const g of r.groups) {
      const how = (o: { method: string; reReadBound: string | null }) =>
        o.method === 'exact' || o.method === 'same' ? '' : ` ${o.method} <=${o.reReadBound ?? '?'}`;
      const offs =
        g.offsets
          .slice(0, 6)
          .map((o) => `${o.partition} ${o.source}->${o.dest}${how(o)}`)
          .join(', ') + (g.offsets.length > 6 ? ', ...' : '');
      lines.push(`  ${g.groupId.padEnd(32)}  ${(g.installed ? 'yes' : 'NO').padEnd(9)}  ${g.error ?? offs}`);
    }
  }
  if (r.possibleLoss !== undefined) lines.push(`  possible loss: ${r.possibleLoss}`);
  if (r.stateWritten.length > 0 || r.stateNotWritten.length > 0) {
    lines.push(
      `  state recorded on: ${r.stateWritten.join(', ') || 'none'}${r.stateNotWritten.length > 0 ? `; NOT on: ${r.stateNotWritten.map((f) => `${f.domain} (${f.error})`).join(', ')}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function formatPhase(p: SwitchPhase): string {
  return `${`  ${`${p.ms} ms`.padStart(9)}  ${p.phase.padEnd(17)} ${p.detail ?? ''}`.trimEnd()}\n`;
}

/** POSTs the switch with progress streaming; calls onPhase per step; resolves with the report. */
async function streamSwitch(
  target: AdminTarget,
  route: string,
  body: object,
  onPhase: (p: SwitchPhase) => void,
): Promise<{ status: number; body: SwitchReport & { error?: string } }> {
  let res: Response;
  try {
    res = await fetch(`${target.url}/routes/${encodeURIComponent(route)}/switch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(target.token !== undefined ? { authorization: `Bearer ${target.token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(300_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (!NOT_SENT.has(cause?.code ?? '')) throw outcomeUnknown(target, err);
    const why =
      cause?.code === 'ECONNREFUSED'
        ? 'connection refused (is the gateway running, and is this its admin address?)'
        : (cause?.message ?? (err as Error).message);
    throw new TurnoutError('TURNOUT_ADMIN_UNREACHABLE', `cannot reach the gateway admin API at ${target.url}: ${why}. Give --admin URL or -c CONFIG`);
  }
  try {
    return await readSwitchAnswer(target, res, onPhase);
  } catch (err) {
    // A client error (404 from a wrong URL, 401) was not a switch; anything else may have been one.
    throw err instanceof TurnoutError && err.code === 'TURNOUT_ADMIN_BAD_ANSWER' && res.status >= 400 && res.status < 500 ? err : outcomeUnknown(target, err);
  }
}

const OUTCOME_UNKNOWN = 'TURNOUT_SWITCH_OUTCOME_UNKNOWN';

/** Connection errors that mean the request never left: the switch certainly did not start. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL']);

function outcomeUnknown(target: AdminTarget, err: unknown): TurnoutError {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const why = e.cause?.message ?? e.cause?.code ?? e.message ?? String(err);
  return new TurnoutError(
    OUTCOME_UNKNOWN,
    `outcome unknown: the connection to the gateway admin API at ${target.url} broke after the switch request was sent (${why}). ` +
      'The switch may or may not have happened: check with `turnout status` (and the audit log) before switching again.',
  );
}

async function readSwitchAnswer(
  target: AdminTarget,
  res: Response,
  onPhase: (p: SwitchPhase) => void,
): Promise<{ status: number; body: SwitchReport & { error?: string } }> {
  if (!(res.headers.get('content-type') ?? '').includes('ndjson')) {
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as SwitchReport & { error?: string } };
    } catch {
      throw new TurnoutError('TURNOUT_ADMIN_BAD_ANSWER', `${target.url} answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }
  let buffered = '';
  let last: (SwitchReport & { error?: string }) | null = null;
  const decoder = new TextDecoder();
  const onLine = (line: string) => {
    if (line.trim() === '') return;
    const m = JSON.parse(line) as { progress?: SwitchPhase; report?: SwitchReport; error?: string };
    if (m.progress !== undefined) onPhase(m.progress);
    else if (m.report !== undefined) last = m.report;
    else if (m.error !== undefined) last = { error: m.error } as SwitchReport & { error?: string };
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
    }
  }
  onLine(buffered);
  if (last === null) throw new TurnoutError('TURNOUT_ADMIN_BAD_ANSWER', `${target.url} ended the switch stream without a report`);
  return { status: res.status, body: last };
}
