// `turnout switch ROUTE --to DOMAIN`: asks a running gateway to switch a route (on every live
// instance of the fleet) and prints each instance's result. Exit 0 when switched or unchanged,
// 1 when refused or failed, 2 when the gateway could not be asked.
import type { SwitchReport } from '../control/switch-controller.ts';
import { adminRequest, adminTarget, type AdminOptions } from './admin-client.ts';

export interface SwitchOptions extends AdminOptions {
  to: string;
  bootstrapServerId?: string;
  force?: boolean;
  json?: boolean;
  by?: string;
}

export async function runSwitch(route: string, opts: SwitchOptions): Promise<number> {
  let target;
  let answer;
  try {
    target = adminTarget(opts);
    if (target.token === undefined) {
      process.stderr.write('switching needs the admin token: give --token, set TURNOUT_ADMIN_TOKEN, or -c with a config that has gateway.admin.token\n');
      return 2;
    }
    answer = await adminRequest<SwitchReport & { error?: string }>(target, 'POST', `/routes/${encodeURIComponent(route)}/switch`, {
      to: opts.to, bootstrapServerId: opts.bootstrapServerId, force: opts.force === true, by: opts.by ?? `cli:${process.env.USER ?? 'unknown'}`,
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
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
    `route ${r.route}: ${r.outcome.toUpperCase()}${r.forced ? ' (forced)' : ''}  ${r.from} -> ${r.to} (listener ${r.listener})  epoch ${r.epoch}  ${r.durationMs} ms`,
    `  ${r.message}`,
  ];
  if (r.instances.length > 0) {
    lines.push('  instance                          prepared  applied  error');
    for (const i of r.instances) {
      const yn = (v: boolean | null) => (v === null ? 'no answer' : v ? 'yes' : 'NO');
      lines.push(`  ${i.instance.padEnd(32)}  ${yn(i.prepared).padEnd(8)}  ${yn(i.applied).padEnd(7)}  ${i.error ?? ''}`.trimEnd());
    }
  }
  if (r.stateWritten.length > 0 || r.stateNotWritten.length > 0) {
    lines.push(`  state recorded on: ${r.stateWritten.join(', ') || 'none'}${r.stateNotWritten.length > 0 ? `; NOT on: ${r.stateNotWritten.map((f) => `${f.domain} (${f.error})`).join(', ')}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
