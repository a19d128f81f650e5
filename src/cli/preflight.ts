// `turnout preflight ROUTE --to DOMAIN`: what a switch would find right now, without changing
// anything: topics and partitions on both clusters, replication lag, groups and where their
// offsets land on the destination, and what blocks a safe switch. Exit 0 when nothing blocks
// (and lag is within --max-lag when given), 1 when something does, 2 when the gateway could
// not be asked.
import type { PreflightReport } from '../control/switch-controller.ts';
import { type AdminOptions, adminRequest, adminTarget, missingRouteMessage } from './admin-client.ts';

export interface PreflightOptions extends AdminOptions {
  to?: string;
  topics?: string;
  maxLag?: string;
  json?: boolean;
}

export async function runPreflight(route: string | undefined, opts: PreflightOptions): Promise<number> {
  if (route === undefined) {
    process.stderr.write(await missingRouteMessage('preflight', opts));
    return 2;
  }
  if (opts.to === undefined) {
    process.stderr.write(`turnout preflight: missing --to DOMAIN: the streaming domain to check a switch of route "${route}" to\n`);
    return 2;
  }
  const to = opts.to;
  const maxLag = opts.maxLag === undefined ? null : Number(opts.maxLag);
  if (maxLag !== null && (!Number.isInteger(maxLag) || maxLag < 0)) {
    process.stderr.write(`--max-lag must be a whole number of records, not "${opts.maxLag}"\n`);
    return 2;
  }
  let target;
  let answer;
  try {
    target = adminTarget(opts);
    if (target.token === undefined) {
      process.stderr.write('preflight needs the admin token: give --token, set TURNOUT_ADMIN_TOKEN, or -c with a config that has gateway.admin.token\n');
      return 2;
    }
    const q = new URLSearchParams({ to, ...(opts.topics !== undefined ? { topics: opts.topics } : {}) });
    answer = await adminRequest<PreflightReport & { error?: string }>(target, 'GET', `/routes/${encodeURIComponent(route)}/preflight?${q}`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const r = answer.body;
  if (r.error !== undefined) {
    process.stderr.write(`preflight failed at ${target.url} (HTTP ${answer.status}): ${r.error}\n`);
    return answer.status === 401 || answer.status === 403 ? 2 : 1;
  }
  const failures = [...r.blockers];
  if (maxLag !== null) {
    for (const p of r.partitions) {
      if (p.unreadable !== undefined) continue; // already a blocker, with the reason
      if (p.lag === null || p.lag > maxLag) failures.push(`${p.partition} is ${p.lag === null ? 'more than 500' : p.lag} records behind (--max-lag ${maxLag})`);
    }
  }
  if (opts.json === true) process.stdout.write(`${JSON.stringify({ ...r, ok: failures.length === 0, failures }, null, 2)}\n`);
  else process.stdout.write(formatPreflight(r, failures));
  return failures.length === 0 ? 0 : 1;
}

export function formatPreflight(r: PreflightReport, failures: string[]): string {
  const out = [`preflight ${r.route}: ${r.from} -> ${r.to}  replication ${r.replication}  at ${r.at}`, ''];
  out.push('topic                                     partitions (source/destination)  problem');
  for (const t of r.topics)
    out.push(`${t.topic.padEnd(40)}  ${`${t.sourcePartitions ?? '-'}/${t.destPartitions ?? '-'}`.padEnd(31)}  ${t.problem ?? ''}`.trimEnd());
  if (r.topics.length === 0) out.push('(none known)');
  out.push('', 'partition                                 source end  destination end  lag');
  for (const p of r.partitions)
    out.push(
      `${p.partition.padEnd(40)}  ${p.sourceEnd.padStart(10)}  ${(p.destEnd ?? '-').padStart(15)}  ${p.caughtUp ? '0' : p.mismatch !== undefined ? `offsets differ: ${p.mismatch}` : p.waiting !== undefined ? `waiting: ${p.waiting}` : p.unreadable !== undefined ? `unreadable (${p.unreadable.side} offset ${p.unreadable.offset}, ${p.unreadable.codec})` : (p.lag ?? '>500')}`,
    );
  if (r.groups.length > 0) {
    out.push('', 'group / partition                         committed  behind end  -> destination  state (source / destination)');
    for (const g of r.groups) {
      out.push(`${g.groupId.padEnd(40)}  ${''.padStart(9)}  ${''.padStart(10)}     ${''.padStart(11)}  ${g.state} / ${g.destState}`);
      for (const o of g.offsets)
        out.push(
          `  ${o.partition.padEnd(38)}  ${o.source.padStart(9)}  ${String(o.behindEnd ?? '').padStart(10)}  -> ${o.dest.padStart(11)}  ${o.method}${o.method === 'exact' || o.method === 'same' ? '' : `, may re-read ${o.reReadBound ?? 'unknown'}`}`,
        );
    }
  }
  if (r.translation !== undefined) {
    for (const x of r.translation.offsetSyncs)
      out.push(
        `offset syncs: ${x.topic} on ${x.domain} (${x.direction === 'forward' ? `${r.from} -> ${r.to}` : x.direction === 'reverse' ? `${r.to} -> ${r.from}` : 'offsets equal on both sides'}, ${x.syncs} syncs for these partitions)`,
      );
    for (const x of r.translation.checkpoints) out.push(`checkpoints: ${x.topic} on ${r.to} (${x.kept} for these groups)`);
    if (r.translation.readMs !== undefined && (r.translation.offsetSyncs.length > 0 || r.translation.checkpoints.length > 0))
      out.push(`MirrorMaker's topics read in ${r.translation.readMs} ms (a planned switch reads them before its fence)`);
  }
  if (r.fence !== undefined && r.replication !== 'none') {
    const f = r.fence;
    out.push(
      '',
      `planned switch: reads the tails of ${f.partitions} partition(s) on both clusters and the offsets of ${f.groups} group(s) before the fence (${f.preReadMs} ms now, passes ${f.passes.map((x) => `${x.ms} ms`).join(', ')}); ` +
        `expected to hold writes about ${f.expectedFencedMs} ms of the ${f.fenceTimeoutMs} ms fence budget (gateway.switchover.fenceTimeoutMs)`,
    );
  }
  if (r.possibleLoss !== undefined) out.push('', `possible loss: ${r.possibleLoss}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  out.push('', failures.length === 0 ? 'OK: nothing blocks a planned switch' : `NOT SAFE:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  return `${out.join('\n')}\n`;
}
