// The gateway under test, run as its own process (`bin/turnout.js start -c <generated yaml>`), so
// that /proc shows its CPU time and memory alone. It is put in its own process group and
// registered with the test bed's reaper, so it dies with the benchmark even on a crash or Ctrl-C.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterDescriptor } from '../../src/testbed/index.ts';
import { GroupProcess } from '../../src/testbed/processes.ts';
import { freePortBlock } from '../../test/support/gateway.ts';
import { fdLimits, type ProcessSample, processTree, sampleProcessTree } from './proc.ts';

const TURNOUT = fileURLToPath(new URL('../../bin/turnout.js', import.meta.url));
/** Open files wanted for the idle-connection test: 2 per client connection (client + upstream). */
const WANTED_FDS = 65_536;

export interface GatewayStartOptions {
  readonly cluster: ClusterDescriptor;
  /** Folder for the generated config, the log and CPU profiles. */
  readonly dir: string;
  readonly name: string;
  /** Write a V8 CPU profile into `dir` when the gateway exits (node --cpu-prof). */
  readonly cpuProfile?: boolean;
  /** Run the gateway on this CPU only (taskset). */
  readonly cpu?: number;
  /** gateway.workers */
  readonly workers: number | 'auto';
}

export interface GcStats {
  /** V8's kind: minor (scavenge), major (mark-compact), incremental, weakcb. */
  readonly kind: string;
  readonly count: number;
  readonly seconds: number;
  readonly over1ms: number;
  readonly over10ms: number;
}

export interface ByteCounts {
  readonly in: number;
  readonly out: number;
}

export class GatewayProcess {
  readonly name: string;
  readonly bootstrap: string;
  readonly adminUrl: string;
  readonly configFile: string;
  readonly logFile: string;
  /** The exact command line, for the report. */
  readonly command: string;
  readonly #process: GroupProcess;

  private constructor(name: string, bootstrap: string, adminUrl: string, configFile: string, logFile: string, command: string, process: GroupProcess) {
    this.name = name;
    this.bootstrap = bootstrap;
    this.adminUrl = adminUrl;
    this.configFile = configFile;
    this.logFile = logFile;
    this.command = command;
    this.#process = process;
  }

  static async start(o: GatewayStartOptions): Promise<GatewayProcess> {
    const brokerSlots = 8;
    const base = await freePortBlock(brokerSlots + 2);
    const admin = base + brokerSlots + 1;
    mkdirSync(o.dir, { recursive: true });
    const configFile = join(o.dir, `${o.name}.yaml`);
    const logFile = join(o.dir, `${o.name}.log`);
    writeFileSync(configFile, gatewayYaml(o.cluster, base, brokerSlots, admin, o.workers));
    const nodeArgs = o.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${o.dir}`] : [];
    // A shell raises the open-files limit as far as it is allowed, then execs Node (same pid).
    const script =
      `h=$(ulimit -Hn); if [ "$h" != unlimited ] && [ "$h" -lt ${WANTED_FDS} ]; then ulimit -Hn ${WANTED_FDS} 2>/dev/null; fi; ` +
      'ulimit -Sn "$(ulimit -Hn)"; exec "$@"';
    const args = ['-c', script, 'turnout-gateway', process.execPath, ...nodeArgs, TURNOUT, 'start', '-c', configFile];
    const pin = o.cpu === undefined ? [] : ['taskset', '-c', String(o.cpu)];
    const [command0, ...args0] = [...pin, '/bin/sh', ...args];
    const child = new GroupProcess(command0, args0, { outputFile: logFile, env: process.env });
    const command = `${pin.join(' ')}${pin.length ? ' ' : ''}node ${nodeArgs.join(' ')}${nodeArgs.length ? ' ' : ''}bin/turnout.js start -c ${o.name}.yaml`;
    const gw = new GatewayProcess(o.name, `127.0.0.1:${base}`, `http://127.0.0.1:${admin}`, configFile, logFile, command, child);
    try {
      await gw.#waitReady();
    } catch (err) {
      await gw.stop();
      throw err;
    }
    return gw;
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** The primary and its worker processes, summed (peak RSS: the sum of each one's peak). */
  sample(): ProcessSample {
    return sampleProcessTree(this.pid);
  }

  /** How many processes the gateway runs (the primary and its workers). */
  processCount(): number {
    return processTree(this.pid).length;
  }

  fdLimit(): { soft: number; hard: number } {
    return fdLimits(this.pid);
  }

  async metricsText(): Promise<string> {
    const res = await fetch(`${this.adminUrl}/metrics`);
    return res.text();
  }

  /** Client-side bytes of the route so far: in = from clients, out = to clients. */
  async bytes(): Promise<ByteCounts> {
    const text = await this.metricsText();
    const value = (direction: string) => Number(new RegExp(`^turnout_bytes_total\\{[^}]*direction="${direction}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return { in: value('in'), out: value('out') };
  }

  /** Garbage collections so far, from prom-client's nodejs_gc_duration_seconds histogram. */
  async gcStats(): Promise<GcStats[]> {
    const text = await this.metricsText();
    const kinds = new Set([...text.matchAll(/^turnout_nodejs_gc_duration_seconds_count\{kind="([^"]+)"\}/gm)].map((m) => m[1]));
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    return [...kinds].map((kind) => {
      const count = value(new RegExp(`^turnout_nodejs_gc_duration_seconds_count\\{kind="${kind}"\\} (\\S+)$`, 'm'));
      const bucket = (le: string) => value(new RegExp(`^turnout_nodejs_gc_duration_seconds_bucket\\{le="${le}",kind="${kind}"\\} (\\S+)$`, 'm'));
      return {
        kind,
        count,
        seconds: value(new RegExp(`^turnout_nodejs_gc_duration_seconds_sum\\{kind="${kind}"\\} (\\S+)$`, 'm')),
        over1ms: count - bucket('0.001'),
        over10ms: count - bucket('0.01'),
      };
    });
  }

  /** A gauge or counter of /metrics, summed over its label sets. */
  async metric(name: string): Promise<number> {
    const text = await this.metricsText();
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  }

  isRunning(): boolean {
    return this.#process.isRunning();
  }

  /** SIGTERM (graceful: the CPU profile is written on exit), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await this.#process.stop('SIGTERM', 15_000);
  }

  async #waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    const exit = this.#process.exited.then(() => {
      exited = true;
    });
    for (;;) {
      if (exited) throw new Error(`the gateway exited during start-up; see ${this.logFile}`);
      try {
        const res = await fetch(`${this.adminUrl}/ready`);
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the gateway was not ready within ${timeoutMs} ms; see ${this.logFile}`);
      await Promise.race([new Promise((r) => setTimeout(r, 100)), exit]);
    }
  }
}

/** One route in front of the cluster's PLAINTEXT listener; what `turnout start` reads. */
export function gatewayYaml(cluster: ClusterDescriptor, base: number, brokerSlots: number, adminPort: number, workers: number | 'auto'): string {
  const endpoints = cluster.brokers.map((b) => `${b.host}:${b.plaintextPort}`).join(',');
  return [
    "# Generated by scripts/bench.ts: one route in front of the benchmark cluster's PLAINTEXT listener.",
    'gateway:',
    `  admin: { listen: "127.0.0.1:${adminPort}" }`,
    '  log: { level: info }',
    `  workers: ${workers}`,
    'streamingDomains:',
    '  - name: bench',
    '    type: kafka',
    '    kafkaCluster:',
    `      name: ${cluster.name}`,
    '      bootstrapServers:',
    '        - id: plaintext',
    `          endpoint: "${endpoints}"`,
    '          security: { protocol: PLAINTEXT }',
    'routes:',
    '  - name: bench',
    `    endpoint: "127.0.0.1:${base}"`,
    '    bindAddress: "127.0.0.1"',
    `    brokerPorts: { base: ${base + 1}, count: ${brokerSlots} }`,
    '    streamingDomain: { name: bench, bootstrapServerId: plaintext }',
    '    authentication: { type: none }',
    '',
  ].join('\n');
}
