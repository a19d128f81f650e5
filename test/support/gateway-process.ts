// Turnout as users run it, for integration tests: `turnout start -c FILE` in a process group of its
// own (its primary and worker processes), with a YAML file the test writes. Secrets stay out of
// the file, as in production: the admin token and the clusters' service passwords are ${VARS} given
// in the process's environment. The group is registered with the test bed's reaper
// (src/testbed/processes.ts), and stop() checks that nothing of it is left running.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { RouteStatus, WorkerProcessStatus } from '../../src/admin/server.ts';
import type { LogLevel, ReplicationConfig, StreamingDomainConfig } from '../../src/config/index.ts';
import { type ExitStatus, GroupProcess } from '../../src/testbed/processes.ts';
import { freePortBlock, type RouteSpec } from './gateway.ts';
import type { LogEntry } from './log-capture.ts';
import { pollUntil } from './poll.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/turnout.js');
const TOKEN_VAR = 'TURNOUT_ADMIN_TOKEN';

export interface GatewayProcessOptions {
  /** As for startGateway (domainFor() gives them); SASL passwords go to the environment, not the file. */
  readonly domains: readonly StreamingDomainConfig[];
  readonly routes: readonly Pick<RouteSpec, 'name' | 'domain' | 'listener' | 'brokerPortCount' | 'replication'>[];
  /** gateway.workers (default "auto", the production default). */
  readonly workers?: number | 'auto';
  readonly adminToken: string;
  /** gateway.state.topic; more than one worker needs it. */
  readonly stateTopic: string;
  readonly instanceId?: string;
  /** Default info. */
  readonly logLevel?: LogLevel;
  /** gateway.switchover, when a test needs other than the defaults. */
  readonly switchover?: Readonly<Record<string, number>>;
  /** Limit for the gateway to start and be ready on every route (default 90 s). */
  readonly readyTimeoutMs?: number;
}

export interface GatewayProcess {
  readonly proc: GroupProcess;
  readonly configFile: string;
  /** The YAML as written (no secrets in it). */
  readonly configText: string;
  readonly instanceId: string;
  readonly adminUrl: string;
  /** Bootstrap address of each route, by route name. */
  readonly bootstrap: Readonly<Record<string, string>>;
  /** Everything the primary and its workers wrote (stdout and stderr). */
  output(): string;
  /** The JSON log lines of the primary and its workers (lines that are not JSON left out). */
  logEntries(): LogEntry[];
  /** GET /health's worker processes. */
  workers(): Promise<WorkerProcessStatus[]>;
  /** GET /status's routes (merged over the workers; `workers` has each worker's view). */
  routes(): Promise<RouteStatus[]>;
  /** SIGTERM to the group (SIGKILL after the grace); throws if a process of the group outlives it. */
  stop(): Promise<ExitStatus>;
}

/** `turnout start` with a file made of `o`; resolves once every worker serves and every route is ready. */
export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  // Free ports are checked by binding and then given to another process: one may be taken in
  // between. Such a start fails at once (the primary exits), and is tried on other ports.
  for (let attempt = 1; ; attempt++) {
    const started = await tryStart(o);
    if ('gateway' in started) return started.gateway;
    if (!started.portTaken || attempt >= 4) throw started.error;
  }
}

async function tryStart(o: GatewayProcessOptions): Promise<{ gateway: GatewayProcess } | { error: Error; portTaken: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'turnout-gw-'));
  const env: Record<string, string> = { [TOKEN_VAR]: o.adminToken };
  // One block for every listener: blocks asked for one by one can overlap (a free port is not
  // reserved until the gateway binds it), which the config check then refuses as a clash.
  const counts = o.routes.map((r) => r.brokerPortCount ?? 8);
  let next = await freePortBlock(1 + counts.reduce((sum, c) => sum + c + 1, 0));
  const adminPort = next++;
  const bootstrap: Record<string, string> = {};
  const routes = [];
  for (const [i, r] of o.routes.entries()) {
    const count = counts[i];
    const base = next;
    next += count + 1;
    bootstrap[r.name] = `127.0.0.1:${base}`;
    routes.push({
      name: r.name,
      endpoint: `127.0.0.1:${base}`,
      bindAddress: '127.0.0.1',
      brokerPorts: { base: base + 1, count },
      streamingDomain: { name: r.domain, bootstrapServerId: r.listener },
      authentication: { type: r.listener === 'sasl' ? 'passthrough' : 'none' },
      ...(r.replication !== undefined ? { replication: replicationYaml(r.replication) } : {}),
    });
  }
  const instanceId = o.instanceId ?? `gwp-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const document = {
    gateway: {
      instanceId,
      workers: o.workers ?? 'auto',
      admin: { listen: `127.0.0.1:${adminPort}`, token: `\${${TOKEN_VAR}}` },
      log: { level: o.logLevel ?? 'info' },
      shutdownTimeoutMs: 5000,
      state: { topic: o.stateTopic },
      ...(o.switchover !== undefined ? { switchover: o.switchover } : {}),
    },
    streamingDomains: o.domains.map((d) => domainYaml(d, env)),
    routes,
  };
  const configText = stringify(document);
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, configText);

  let out = '';
  let stdout = '';
  const proc = new GroupProcess(process.execPath, [BIN, 'start', '-c', configFile], { cwd: ROOT, env: { ...process.env, ...env } });
  proc.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    stdout += d;
  });
  proc.child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const getJson = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${adminUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
    return (await res.json()) as T;
  };
  const workers = async () => (await getJson<{ workers: WorkerProcessStatus[] }>('/health')).workers;
  const tail = () => `--- turnout start output (end):\n${out.slice(-6000)}`;

  const gateway: GatewayProcess = {
    proc,
    configFile,
    configText,
    instanceId,
    adminUrl,
    bootstrap,
    output: () => out,
    logEntries: () => parseLines(stdout),
    workers,
    routes: async () => (await getJson<{ routes: RouteStatus[] }>('/status')).routes,
    stop: async () => {
      const status = await proc.stop('SIGTERM', 15_000);
      rmSync(dir, { recursive: true, force: true });
      await assertGroupGone(proc.pid);
      return status;
    },
  };

  try {
    // The probe's errors are retried until the limit; an exited primary ends the wait at once.
    const exited = proc.exited.then((st) => {
      throw new Error(`turnout start exited (code ${st.code}, signal ${st.signal}) before it was ready\n${tail()}`);
    });
    exited.catch(() => {});
    await Promise.race([
      exited,
      pollUntil(
        'turnout start: every worker serving and every route ready',
        async () => {
          if (!proc.isRunning()) return false; // `exited` has answered
          const ws = await workers();
          if (ws.length === 0 || ws.some((w) => w.state !== 'serving')) return undefined;
          const ready = await fetch(`${adminUrl}/ready`, { signal: AbortSignal.timeout(5000) });
          return ready.status === 200 ? true : undefined;
        },
        o.readyTimeoutMs ?? 90_000,
        tail,
      ),
    ]);
    return { gateway };
  } catch (err) {
    await gateway.stop().catch(() => {});
    return { error: err as Error, portTaken: /EADDRINUSE|TURNOUT_LISTEN_FAILED/.test(out) };
  }
}

/** The file's shape of a domain: endpoints as "host:port,...", each SASL password as a ${VAR} put in `env`. */
function domainYaml(d: StreamingDomainConfig, env: Record<string, string>): unknown {
  return {
    name: d.name,
    type: d.type,
    kafkaCluster: {
      name: d.kafkaCluster.name,
      bootstrapServers: d.kafkaCluster.bootstrapServers.map((s) => {
        const endpoint = s.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
        if (s.security.protocol === 'PLAINTEXT' || s.security.sasl === null) return { id: s.id, endpoint, security: { protocol: s.security.protocol } };
        const sasl = s.security.sasl;
        const name = `SERVICE_PASSWORD_${Object.keys(env).length}`;
        env[name] = sasl.password.reveal();
        return {
          id: s.id,
          endpoint,
          security: { protocol: s.security.protocol, sasl: { mechanism: sasl.mechanism, username: sasl.username, password: `\${${name}}` } },
        };
      }),
    },
  };
}

function replicationYaml(r: ReplicationConfig): unknown {
  return {
    type: r.type,
    ...(r.topics !== null ? { topics: r.topics } : {}),
    ...(r.groups !== null ? { groups: r.groups } : {}),
    ...(r.checkpoints !== undefined ? { checkpoints: r.checkpoints } : {}),
  };
}

function parseLines(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // two processes' lines interleaved, or the last one still being written
    }
  }
  return entries;
}

/** The processes of group `pgid` still running (zombies count as gone: they only await reaping). */
export function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp ...
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Waits a moment for the group's last processes to go; kills and names any that do not. */
async function assertGroupGone(pgid: number): Promise<void> {
  if (pgid <= 0) return;
  const deadline = Date.now() + 5000;
  let left = groupMembers(pgid);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = groupMembers(pgid);
  }
  if (left.length === 0) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  throw new Error(`processes of turnout start (group ${pgid}) outlived it: ${left.join(', ')} (killed now)`);
}
