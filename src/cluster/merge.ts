// One view of each route out of every worker's own: what /routes, /status and /ready show when
// several worker processes serve the listeners. Connections add up; the route is ready only if it
// is on every worker; its domain, epoch and brokers are those of the worker on the highest epoch
// (the others follow it through the fleet protocol), and a difference between workers is said.
import type { RouteStatus, WorkerRouteStatus } from '../admin/server.ts';

/** A worker's answer to "routes", or why it gave none. */
export interface WorkerAnswer {
  worker: number;
  instance: string;
  pid: number;
  routes: RouteStatus[] | null;
  error?: string;
}

export function mergeRouteStatus(answers: readonly WorkerAnswer[]): RouteStatus[] {
  const answered = answers.filter((a): a is WorkerAnswer & { routes: RouteStatus[] } => a.routes !== null);
  const names: string[] = [];
  for (const a of answered) for (const r of a.routes) if (!names.includes(r.name)) names.push(r.name);
  const several = answers.length > 1;
  return names.map((name) => {
    const per: WorkerRouteStatus[] = [];
    let leader: RouteStatus | undefined;
    let firstError: string | null = null;
    const connectionsByDomain: Record<string, number> = {};
    let connections = 0;
    const topicsInUse = new Map<string, string>();
    for (const a of answers) {
      const r = a.routes?.find((x) => x.name === name);
      if (r === undefined) {
        const error = a.routes === null ? `did not answer: ${a.error ?? 'no reason given'}` : `has no route "${name}"`;
        per.push({ worker: a.worker, instance: a.instance, pid: a.pid, domain: null, epoch: null, ready: false, connections: 0, error });
        firstError ??= several ? `worker ${a.worker} ${error}` : error;
        continue;
      }
      per.push({
        worker: a.worker,
        instance: a.instance,
        pid: a.pid,
        domain: r.domain,
        epoch: r.epoch,
        ready: r.ready,
        connections: r.connections,
        ...(r.lastError !== null ? { error: r.lastError } : {}),
      });
      if (leader === undefined || r.epoch > leader.epoch) leader = r;
      connections += r.connections;
      for (const t of r.topicsInUse ?? []) if ((topicsInUse.get(t.topic) ?? '') < t.lastUsed) topicsInUse.set(t.topic, t.lastUsed);
      for (const [d, n] of Object.entries(r.connectionsByDomain)) connectionsByDomain[d] = (connectionsByDomain[d] ?? 0) + n;
      if (!r.ready && r.lastError !== null) firstError ??= several ? `worker ${a.worker}: ${r.lastError}` : r.lastError;
    }
    const base = leader!; // every name comes from some answer
    const ready = per.every((w) => w.ready);
    const views = new Set(per.filter((w) => w.domain !== null).map((w) => `${w.domain}#${w.epoch}`));
    const merged: RouteStatus = {
      ...base,
      connections,
      connectionsByDomain,
      ...(answered.some((a) => a.routes.some((r) => r.name === name && r.topicsInUse !== undefined))
        ? { topicsInUse: [...topicsInUse].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([topic, lastUsed]) => ({ topic, lastUsed })) }
        : {}),
      ready,
      lastError: base.lastError ?? (ready ? null : (firstError ?? (several ? 'not ready on every worker' : null))),
      workers: per,
    };
    if (views.size > 1) {
      merged.disagreement = `workers are on different domains or epochs (the fleet protocol brings them together): ${per
        .filter((w) => w.domain !== null)
        .map((w) => `worker ${w.worker} ${w.domain}#${w.epoch}`)
        .join(', ')}`;
    }
    return merged;
  });
}
