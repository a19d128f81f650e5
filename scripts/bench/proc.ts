// What Linux says about a process (CPU time, resident memory, file descriptors) and about the
// machine, read from /proc. The gateway runs as its own process so these numbers are its alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

let clockTicks: number | undefined;

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcessSample {
  /** user + system CPU time so far, in seconds. */
  readonly cpuSeconds: number;
  /** Resident set size now (VmRSS). */
  readonly rssBytes: number;
  /** Peak resident set size over the process's life (VmHWM). */
  readonly peakRssBytes: number;
  readonly openFds: number;
  /** performance.now() when sampled. */
  readonly at: number;
}

export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14 of the whole line
  const stime = Number(fields[12]); // field 15
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return {
    cpuSeconds: (utime + stime) / ticksPerSecond(),
    rssBytes: kib('VmRSS'),
    peakRssBytes: kib('VmHWM'),
    openFds: readdirSync(`/proc/${pid}/fd`).length,
    at: performance.now(),
  };
}

/** A process and its descendants (the gateway's primary and its workers), from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const visit = (pid: number): void => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return out;
}

/** sampleProcess summed over a process tree; processes that vanish meanwhile are left out. */
export function sampleProcessTree(root: number): ProcessSample {
  let cpuSeconds = 0;
  let rssBytes = 0;
  let peakRssBytes = 0;
  let openFds = 0;
  for (const pid of processTree(root)) {
    try {
      const s = sampleProcess(pid);
      cpuSeconds += s.cpuSeconds;
      rssBytes += s.rssBytes;
      peakRssBytes += s.peakRssBytes;
      openFds += s.openFds;
    } catch {
      if (pid === root) throw new Error(`the gateway process ${root} is gone`);
    }
  }
  return { cpuSeconds, rssBytes, peakRssBytes, openFds, at: performance.now() };
}

/** Soft and hard limit on open files of a process ("Max open files" in /proc/<pid>/limits). */
export function fdLimits(pid: number | 'self'): { soft: number; hard: number } {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const num = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: num(line?.[1]), hard: num(line?.[2]) };
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly nproc: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly java: string;
  readonly node: string;
  readonly ephemeralPorts: string;
  readonly fdLimit: { soft: number; hard: number };
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const run = (cmd: string, args: string[]): string => {
    // `java -version` prints to stderr, so both streams are read.
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  };
  return {
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    nproc: Number(run('nproc', [])) || cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: run('uname', ['-sr']),
    java: run('java', ['-version']).split('\n').slice(0, 2).join('; '),
    node: process.version,
    ephemeralPorts: readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().replace(/\s+/, '-'),
    fdLimit: fdLimits('self'),
  };
}

/** Busy CPU seconds of the whole machine so far (all cores; /proc/stat without idle and iowait). */
function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / ticksPerSecond();
}

/** CPU seconds of this process, its reaped children (the Kafka tools that ran to completion) and
 *  every live descendant (brokers, the gateway, a running tool). */
function benchmarkCpuSeconds(): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(pid, Number(f[1]));
      // utime stime, plus cutime cstime for this process (children it has waited for)
      cpu.set(pid, Number(f[11]) + Number(f[12]) + (pid === process.pid ? Number(f[13]) + Number(f[14]) : 0));
    } catch {
      // exited while we looked
    }
  }
  let ticks = 0;
  for (const [pid, t] of cpu) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) {
      if (p === process.pid) {
        ticks += t;
        break;
      }
    }
  }
  return ticks / ticksPerSecond();
}

export interface LoadSample {
  readonly machineBusy: number;
  readonly ours: number;
  readonly at: number;
}

export function sampleLoad(): LoadSample {
  return { machineBusy: machineBusySeconds(), ours: benchmarkCpuSeconds(), at: performance.now() };
}

/** Share of the machine's CPU capacity used by processes outside the benchmark between two
 *  samples: how noisy the shared machine was during a run (0 = quiet, 1 = every core busy). */
export function foreignCpuShare(a: LoadSample, b: LoadSample): number {
  const wall = (b.at - a.at) / 1000;
  if (wall <= 0) return 0;
  const foreign = b.machineBusy - a.machineBusy - (b.ours - a.ours);
  return Math.max(0, Math.min(1, foreign / (wall * cpus().length)));
}

/** Waits until processes outside the benchmark use less than `share` of the CPU over a 3 s window,
 *  or `maxSeconds` have passed; returns the seconds waited. */
export async function waitForQuiet(maxSeconds: number, share: number): Promise<number> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  while (maxSeconds > 0) {
    const a = sampleLoad();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    if (foreignCpuShare(a, sampleLoad()) < share || elapsed() >= maxSeconds) break;
  }
  return elapsed();
}
