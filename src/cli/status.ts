// `turnout status`: each route's active streaming domain, switch epoch, connections per domain
// and last switch, and the fleet's instances as the asked gateway sees them.
import type { RouteStatus } from '../admin/server.ts';
import type { FleetInstance } from '../control/switch-controller.ts';
import { type AdminOptions, adminRequest, adminTarget } from './admin-client.ts';

export interface StatusOptions extends AdminOptions {
  json?: boolean;
}

interface StatusAnswer {
  instance: string;
  routes: RouteStatus[];
  instances: FleetInstance[];
}

export async function runStatus(opts: StatusOptions): Promise<number> {
  let answer;
  try {
    answer = await adminRequest<StatusAnswer>(adminTarget(opts), 'GET', '/status');
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const s = answer.body;
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return 0;
  }
  const out: string[] = [`instance ${s.instance}`];
  for (const r of s.routes) {
    const conns =
      Object.entries(r.connectionsByDomain)
        .map(([d, n]) => `${d}=${n}`)
        .join(' ') || 'none';
    out.push(
      `route ${r.name}  ${r.endpoint}  -> ${r.domain} (listener ${r.listener})  epoch ${r.epoch}  ${r.ready ? 'ready' : `NOT READY: ${r.lastError ?? 'not reached yet'}`}`,
    );
    out.push(`  connections: ${conns}`);
    out.push(
      r.lastSwitch === null
        ? '  last switch: none (on its configured domain)'
        : `  last switch: ${r.lastSwitch.at} by ${r.lastSwitch.by}: ${r.lastSwitch.from} -> ${r.lastSwitch.to} (epoch ${r.lastSwitch.epoch})`,
    );
  }
  if (s.instances.length > 0) {
    out.push('fleet:');
    for (const i of s.instances) {
      const routes = Object.entries(i.routes)
        .map(([n, v]) => `${n}@${v.domain}#${v.epoch}`)
        .join(' ');
      out.push(`  ${i.self ? '*' : ' '} ${i.instance.padEnd(32)} ${i.live ? 'live' : 'GONE'}  last seen ${i.lastSeen}  ${routes}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
