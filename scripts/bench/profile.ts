// Summarises a V8 CPU profile (node --cpu-prof): self time per function and per area of the code,
// as a table for the report. The profile file itself stays out of the repository.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  readonly name: string;
  /** File (relative to the repository, node:internal, or a package) and 1-based line. */
  readonly where: string;
  readonly area: string;
  readonly selfMs: number;
  /** Share of the time the gateway was busy (idle samples excluded). */
  readonly share: number;
}

export interface ProfileSummary {
  readonly sampledMs: number;
  readonly busyMs: number;
  readonly top: FunctionTime[];
  /** The gateway's own functions (src/) by total time: their own plus everything they called. */
  readonly inclusive: FunctionTime[];
  readonly areas: { area: string; selfMs: number; share: number }[];
}

function location(url: string): string {
  if (url === '') return '';
  if (url.startsWith('file://')) {
    const path = relative(ROOT, fileURLToPath(url));
    return path.replace(/^node_modules\//, '');
  }
  return url;
}

/** Which part of the gateway (or of Node) a function belongs to. */
function areaOf(name: string, where: string): string {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'V8/native (program)';
  if (name === '(idle)') return 'idle';
  if (where.startsWith('wasm://')) return 'WebAssembly (type stripping of the sources at start-up)';
  if (where.startsWith('src/protocol/')) return 'gateway: protocol codec';
  if (where.startsWith('src/proxy/')) return 'gateway: data path';
  if (where.startsWith('src/observability/')) return 'gateway: metrics/logs';
  if (where.startsWith('src/')) return 'gateway: other';
  if (where.startsWith('node:') || where === '') return 'Node.js core (net, streams, buffers) and natives';
  const pkg = /^(@[^/]+\/[^/]+|[^/]+)\//.exec(where)?.[1];
  return pkg ? `package ${pkg}` : where;
}

/** Summarises the samples of the last `windowMs` of the profile (all when omitted), which leaves
 *  the gateway's start-up (module loading, type stripping) out when the window covers the workload. */
export function summariseProfile(file: string, windowMs?: number, topN = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const from = windowMs === undefined ? -Infinity : profile.endTime - windowMs * 1000;
  // timeDeltas[i] is the time between sample i-1 and sample i; it is charged to sample i.
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const describe = (node: ProfileNode) => {
    const name = node.callFrame.functionName || '(anonymous)';
    const file = location(node.callFrame.url);
    const where = file === '' ? '' : `${file}:${node.callFrame.lineNumber + 1}`;
    return { key: `${name}\u0000${where}`, name, where, area: areaOf(name, file) };
  };
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fns = new Map<string, { name: string; where: string; area: string; us: number }>();
  const inclusive = new Map<string, { name: string; where: string; area: string; us: number }>();
  let sampledUs = 0;
  let idleUs = 0;
  for (const [id, us] of self) {
    const d = describe(byId.get(id)!);
    sampledUs += us;
    if (d.area === 'idle') {
      idleUs += us;
      continue;
    }
    const entry = fns.get(d.key) ?? { ...d, us: 0 };
    entry.us += us;
    fns.set(d.key, entry);
    // Charge every gateway function on the stack once (recursion would count twice otherwise).
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const a = describe(byId.get(n)!);
      if (!a.where.startsWith('src/') || seen.has(a.key)) continue;
      seen.add(a.key);
      const inc = inclusive.get(a.key) ?? { ...a, us: 0 };
      inc.us += us;
      inclusive.set(a.key, inc);
    }
  }
  const busyUs = sampledUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  const rank = (m: Map<string, { name: string; where: string; area: string; us: number }>, n: number) =>
    [...m.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, n)
      .map((f) => ({ name: f.name, where: f.where, area: f.area, selfMs: f.us / 1000, share: share(f.us) }));
  const top = rank(fns, topN);
  const areaUs = new Map<string, number>();
  for (const f of fns.values()) areaUs.set(f.area, (areaUs.get(f.area) ?? 0) + f.us);
  const areas = [...areaUs].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000, share: share(us) }));
  return { sampledMs: sampledUs / 1000, busyMs: busyUs / 1000, top, inclusive: rank(inclusive, 12), areas };
}
