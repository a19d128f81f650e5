// `turnout start` with `workers: 2`: two worker processes share the route's listeners, in front
// of two clusters (blue: ps-blue, green: ps-green). Client connections spread over both workers
// and work; the admin API of the primary adds their connections and metrics up; a switch (over
// the admin API, with streamed progress, or by reloading the edited file) flips every worker; a
// worker killed with SIGKILL is replaced in its slot while the other's connections stay open;
// SIGTERM stops them all. A gateway none of whose workers can start exits 1 with the reason.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RouteStatus, WorkerProcessStatus } from '../../../src/admin/server.ts';
import type { SwitchPhase } from '../../../src/control/records.ts';
import type { FleetInstance, SwitchReport } from '../../../src/control/switch-controller.ts';
import type { ApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import { ApiKey } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { GroupProcess } from '../../../src/testbed/processes.ts';
import { type ClientTarget, stopAllClients } from '../../support/clients/index.ts';
import { consumeGroup, createTopic, produce, withAdmin } from '../../support/clients/kafkajs.ts';
import { freePortBlock } from '../../support/gateway.ts';
import { pollUntil } from '../../support/poll.ts';
import { metricValue, RawKafkaClient } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/turnout.js');
const TOKEN = 'workers-test-token';
const INSTANCE = 'wk-gw';
const WORKERS = [`${INSTANCE}-w1`, `${INSTANCE}-w2`];

let dir: string;
let blue: ClusterDescriptor;
let green: ClusterDescriptor;
const processes: GroupProcess[] = [];
const clients: RawKafkaClient[] = [];
const stateTopic = uniqueName('_turnout_workers_state');

interface Gateway {
  proc: GroupProcess;
  out: string;
  admin: string;
  bootstrap: string;
  configFile: string;
  ports: { admin: number; endpoint: number };
}
let gw: Gateway;

function configText(ports: Gateway['ports'], domain: 'blue' | 'green'): string {
  const domainYaml = (name: string, c: ClusterDescriptor) => `
  - name: ${name}
    kafkaCluster:
      name: ${c.name}
      bootstrapServers:
        - id: plain
          endpoint: "${c.brokers.map((b) => `${b.host}:${b.plaintextPort}`).join(',')}"`;
  return `
gateway:
  instanceId: ${INSTANCE}
  workers: 2
  admin: { listen: "127.0.0.1:${ports.admin}", token: "\${TURNOUT_ADMIN_TOKEN}" }
  log: { level: info }
  shutdownTimeoutMs: 2000
  limits: { upstreamConnectTimeoutMs: 5000 }
  state: { topic: ${stateTopic} }
  switchover: { drainTimeoutMs: 1000, fleetTimeoutMs: 8000 }
streamingDomains:${domainYaml('blue', blue)}${domainYaml('green', green)}
routes:
  - name: orders
    endpoint: "127.0.0.1:${ports.endpoint}"
    bindAddress: 127.0.0.1
    brokerPorts: { base: ${ports.endpoint + 1}, count: 8 }
    streamingDomain: { name: ${domain}, bootstrapServerId: plain }
`;
}

/** `turnout start` in its own process group (the test bed's reaper kills it and its workers if this process dies). */
function spawnGateway(configFile: string, sink: { out: string }): GroupProcess {
  const proc = new GroupProcess(process.execPath, [BIN, 'start', '-c', configFile], {
    cwd: ROOT,
    env: { ...process.env, TURNOUT_ADMIN_TOKEN: TOKEN },
    holdsProcessOpen: true,
  });
  processes.push(proc);
  proc.child.stdout!.setEncoding('utf8').on('data', (d: string) => (sink.out += d));
  proc.child.stderr!.setEncoding('utf8').on('data', (d: string) => (sink.out += d));
  return proc;
}

function tail(text: string, chars = 6000): string {
  return text.length > chars ? `...${text.slice(-chars)}` : text;
}

function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  return pollUntil(what, probe, timeoutMs, () => `--- gateway output (end):\n${tail(gw?.out ?? '')}`);
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${gw.admin}${path}`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, `GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const orders = async (): Promise<RouteStatus> => (await getJson<{ routes: RouteStatus[] }>('/routes')).routes.find((r) => r.name === 'orders')!;
const workers = async (): Promise<WorkerProcessStatus[]> => (await getJson<{ workers: WorkerProcessStatus[] }>('/health')).workers;
const metrics = async (): Promise<string> => (await fetch(`${gw.admin}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();

/** `n` raw client connections to the route, each having had an ApiVersions answered through the gateway. */
async function openClients(n: number): Promise<RawKafkaClient[]> {
  const opened: RawKafkaClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawKafkaClient.connect(gw.bootstrap);
    clients.push(c);
    opened.push(c);
  }
  await Promise.all(
    opened.map(async (c) => {
      const v = await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, { clientSoftwareName: 'turnout-test', clientSoftwareVersion: '1' });
      assert.equal(v.errorCode, 0);
    }),
  );
  return opened;
}

/** Every worker serves `domain` at `epoch`, agrees, and the route is ready. */
async function assertEveryWorkerOn(domain: string, epoch: number): Promise<RouteStatus> {
  return until(
    `every worker on ${domain}#${epoch}`,
    async () => {
      const r = await orders();
      const views = (r.workers ?? []).map((w) => [w.instance, w.domain, w.epoch]);
      if (JSON.stringify(views) !== JSON.stringify(WORKERS.map((id) => [id, domain, epoch])) || !r.ready) return undefined;
      assert.equal(r.disagreement, undefined);
      assert.deepEqual([r.domain, r.epoch], [domain, epoch]);
      return r;
    },
    20_000,
  );
}

/** The fleet, as the gateway shows it, is its two workers, both live on `domain`#`epoch`. */
async function assertFleetOn(domain: string, epoch: number): Promise<void> {
  await until(
    `the fleet to show both workers on ${domain}#${epoch}`,
    async () => {
      const f = await getJson<{ instance: string; instances: FleetInstance[] }>('/fleet');
      assert.equal(f.instance, INSTANCE);
      const seen = f.instances.map((i) => [i.instance, i.self, i.live, i.admin, i.routes.orders?.domain, i.routes.orders?.epoch]);
      const want = WORKERS.map((id) => [id, true, true, `127.0.0.1:${gw.ports.admin}`, domain, epoch]);
      return JSON.stringify(seen) === JSON.stringify(want) ? true : undefined;
    },
    15_000,
  );
}

const through = (): ClientTarget => ({ bootstrap: gw.bootstrap });
const direct = (c: ClusterDescriptor): ClientTarget => ({ bootstrap: c.bootstrap() });

async function endOffsetSum(c: ClusterDescriptor, topic: string): Promise<number> {
  return withAdmin(direct(c), 'fetchTopicOffsets', 20_000, async (admin) => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0));
}

/** kafkajs through the gateway produces to a new topic and reads it back through the gateway; the records are on `domain` only. */
async function assertProduceConsumeOn(domain: 'blue' | 'green'): Promise<void> {
  const topic = uniqueName(`workers-${domain}`);
  await Promise.all([createTopic(direct(blue), topic, { partitions: 4 }), createTopic(direct(green), topic, { partitions: 4 })]);
  const values = Array.from({ length: 40 }, (_, n) => `${topic}-${n}`);
  await produce(
    through(),
    topic,
    values.map((value) => ({ value })),
    { timeoutMs: 30_000 },
  );
  const [here, other] = domain === 'blue' ? [blue, green] : [green, blue];
  // kafkajs's producer is not idempotent: right after the topic is created it may get a
  // partition's leader error, resend the whole request and write some partitions twice (it does
  // so without Turnout too). So: every record at least once, all of them on `domain`.
  const written = await endOffsetSum(here, topic);
  assert.ok(written >= values.length, `the records must be on ${domain}: ${written} of ${values.length}`);
  assert.equal(await endOffsetSum(other, topic), 0, `the records must not be on ${domain === 'blue' ? 'green' : 'blue'}`);
  const read = await consumeGroup(through(), topic, uniqueName('workers-group'), written, 30_000);
  assert.deepEqual([...new Set(read.map((r) => r.value))].sort(), [...values].sort());
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A process that has exited counts as gone even while it is a zombie: an orphan's new parent
 *  may be slow to reap it (on CI's machines, PID 1 reaps orphans only now and then). */
function isAlive(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Two workers, one route "orders" in front of `cluster`, admin on `base`, the route's ports after it. */
function twoWorkersOneRoute(cluster: { name: string; bootstrap(): string }, base: number, stateTopic: string): string {
  return `
gateway:
  workers: 2
  admin: { listen: "127.0.0.1:${base}" }
  state: { topic: ${stateTopic} }
streamingDomains:
  - name: blue
    kafkaCluster: { name: ${cluster.name}, bootstrapServers: [{ id: plain, endpoint: "${cluster.bootstrap()}" }] }
routes:
  - name: orders
    endpoint: "127.0.0.1:${base + 1}"
    bindAddress: 127.0.0.1
    brokerPorts: { base: ${base + 2}, count: 8 }
    streamingDomain: { name: blue, bootstrapServerId: plain }
`;
}

// Whatever failed, no gateway of this file (nor a worker it left behind) outlives the file.
after(() => Promise.all(processes.map((p) => p.stop('SIGKILL', 2000))));

describe('turnout start with two worker processes', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'turnout-workers-'));
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'ps-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'ps-green', brokers: 1, nodeIdBase: 501 }),
    ]);
    const base = await freePortBlock(12);
    const ports = { admin: base, endpoint: base + 1 };
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, configText(ports, 'blue'));
    const sink = { out: '' };
    gw = {
      proc: spawnGateway(configFile, sink),
      get out() {
        return sink.out;
      },
      admin: `http://127.0.0.1:${ports.admin}`,
      bootstrap: `127.0.0.1:${ports.endpoint}`,
      configFile,
      ports,
    };
    await until('the gateway to start', async () => (gw.out.includes('"gateway started"') ? true : undefined), 60_000);
    await until('readiness', async () => ((await fetch(`${gw.admin}/ready`)).status === 200 ? true : undefined), 30_000);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    // The gateway's whole process group (primary and workers) dies, whatever failed.
    await Promise.all(processes.map((p) => p.stop('SIGKILL', 2000)));
    await stopAllClients();
    rmSync(dir, { recursive: true, force: true });
  });

  test('connections spread over both workers, clients work, and /routes and /metrics add the workers up', { timeout: 120_000 }, async () => {
    const ws = await workers();
    assert.deepEqual(
      ws.map((w) => [w.worker, w.instance, w.state, w.restarts]),
      [
        [1, WORKERS[0], 'serving', 0],
        [2, WORKERS[1], 'serving', 0],
      ],
    );
    assert.equal(new Set(ws.map((w) => w.pid)).size, 2);
    assert.ok(ws.every((w) => w.pid !== gw.proc.pid));

    await openClients(20);
    const r = await until(
      '20 connections counted',
      async () => {
        const now = await orders();
        return now.connections === 20 ? now : undefined;
      },
      10_000,
    );
    assert.deepEqual(r.connectionsByDomain, { blue: 20 });
    const per = r.workers!.map((w) => w.connections);
    assert.equal(per.length, 2);
    assert.ok(
      per.every((n) => n > 0),
      `every worker has connections: ${JSON.stringify(r.workers)}`,
    );
    assert.equal(per[0] + per[1], 20);

    // turnout_route_ready follows readiness once a second on each worker.
    const text = await until(
      'turnout_route_ready 1',
      async () => {
        const t = await metrics();
        return metricValue(t, 'turnout_route_ready', { route: 'orders' }) === 1 ? t : undefined;
      },
      5_000,
    );
    assert.equal(metricValue(text, 'turnout_client_connections', { route: 'orders' }), 20, text);
    assert.ok(metricValue(text, 'turnout_client_connections_total', { route: 'orders' }) >= 20);
    assert.equal(metricValue(text, 'turnout_workers', { state: 'configured' }), 2);
    assert.equal(metricValue(text, 'turnout_workers', { state: 'serving' }), 2);
    assert.equal(metricValue(text, 'turnout_route_switch_epoch', { route: 'orders' }), 0);
    assert.equal(metricValue(text, 'turnout_route_active_domain', { route: 'orders', domain: 'blue' }), 1);
    assert.equal(metricValue(text, 'turnout_route_active_domain', { route: 'orders', domain: 'green' }), 0);
    assert.ok(metricValue(text, 'turnout_requests_total', { route: 'orders', api: 'ApiVersions' }) >= 20);
    assert.equal(text.match(/^# TYPE turnout_client_connections gauge$/gm)?.length, 1, 'one merged metric, not one per worker');

    await assertProduceConsumeOn('blue');
    await assertFleetOn('blue', 0);
  });

  test('a reload of the edited file (SIGHUP) switches every worker, and new connections land on the new cluster', { timeout: 120_000 }, async () => {
    writeFileSync(gw.configFile, configText(gw.ports, 'green'));
    const logged = gw.out.length;
    process.kill(gw.proc.pid, 'SIGHUP');
    const r = await assertEveryWorkerOn('green', 1);
    assert.equal(r.lastSwitch?.by, 'config-reload (SIGHUP)');
    await until('the reload reported', async () => (/"route":"orders","outcome":"switched","epoch":1/.test(gw.out.slice(logged)) ? true : undefined), 10_000);
    await assertFleetOn('green', 1);

    // The connections to blue were retired by the switch; new ones go to green, on both workers.
    await until('the blue connections to close', async () => (((await orders()).connectionsByDomain.blue ?? 0) === 0 ? true : undefined), 15_000);
    await openClients(10);
    const now = await until(
      '10 green connections',
      async () => {
        const s = await orders();
        return s.connectionsByDomain.green === 10 ? s : undefined;
      },
      10_000,
    );
    assert.ok(
      now.workers!.every((w) => w.connections > 0),
      JSON.stringify(now.workers),
    );
    await assertProduceConsumeOn('green');
  });

  test('a switch over the admin API streams its progress and flips every worker', { timeout: 120_000 }, async () => {
    const res = await fetch(`${gw.admin}/routes/orders/switch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ to: 'blue', by: 'workers test', progress: true }),
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { progress?: SwitchPhase; report?: SwitchReport; error?: string });
    const report = lines.at(-1)?.report;
    assert.ok(report !== undefined, JSON.stringify(lines));
    assert.ok(lines.slice(0, -1).length > 0 && lines.slice(0, -1).every((l) => l.progress !== undefined), JSON.stringify(lines));
    assert.deepEqual(
      lines.slice(0, -1).map((l) => l.progress!.phase),
      report.phases.map((p) => p.phase),
    );
    const dump = JSON.stringify(report, null, 2);
    assert.equal(report.outcome, 'switched', dump);
    assert.equal(report.epoch, 2, dump);
    assert.match(report.by, /^workers test \(/);
    assert.deepEqual(
      report.instances.map((i) => [i.instance, i.prepared, i.applied]),
      WORKERS.map((id) => [id, true, true]),
      dump,
    );

    await assertEveryWorkerOn('blue', 2);
    await assertFleetOn('blue', 2);
    const text = await metrics();
    assert.equal(metricValue(text, 'turnout_route_switch_epoch', { route: 'orders' }), 2);
    assert.equal(metricValue(text, 'turnout_route_active_domain', { route: 'orders', domain: 'blue' }), 1);
    assert.equal(metricValue(text, 'turnout_route_active_domain', { route: 'orders', domain: 'green' }), 0);
    assert.equal(
      metricValue(text, 'turnout_switches_total', { route: 'orders', outcome: 'switched' }),
      2,
      'each switch counted once, by the worker that ran it',
    );

    // Switching still needs the token.
    const refused = await fetch(`${gw.admin}/routes/orders/switch`, { method: 'POST', body: JSON.stringify({ to: 'green' }) });
    assert.equal(refused.status, 401);
    assert.equal((await orders()).epoch, 2);
  });

  test("a worker killed with SIGKILL is replaced in its slot; the other worker's connections stay open", { timeout: 120_000 }, async () => {
    await until('old connections to close', async () => (((await orders()).connectionsByDomain.green ?? 0) === 0 ? true : undefined), 15_000);
    const open = await openClients(10);
    const before = await until(
      '10 connections',
      async () => {
        const s = await orders();
        return s.connections === 10 ? s : undefined;
      },
      10_000,
    );
    const onWorker2 = before.workers!.find((w) => w.worker === 2)!.connections;
    assert.ok(onWorker2 > 0 && onWorker2 < 10, JSON.stringify(before.workers));
    const victim = (await workers()).find((w) => w.worker === 2)!;
    const survivor = (await workers()).find((w) => w.worker === 1)!;
    const logged = gw.out.length;

    process.kill(victim.pid!, 'SIGKILL');
    // Exactly the killed worker's connections close; the others still get answers.
    await until("the killed worker's connections to close", async () => (open.filter((c) => c.isClosed).length === onWorker2 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const alive = open.filter((c) => !c.isClosed);
    assert.equal(alive.length, 10 - onWorker2);
    for (const c of alive) {
      const v = await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, { clientSoftwareName: 'turnout-test', clientSoftwareVersion: '1' });
      assert.equal(v.errorCode, 0);
    }

    const replaced = await until(
      'a replacement for worker 2',
      async () => {
        const w = (await workers()).find((x) => x.worker === 2)!;
        return w.state === 'serving' && w.pid !== victim.pid ? w : undefined;
      },
      30_000,
    );
    assert.deepEqual([replaced.instance, replaced.restarts], [WORKERS[1], 1]);
    assert.match(replaced.lastExit ?? '', new RegExp(`pid ${victim.pid} signal SIGKILL`));
    assert.equal((await workers()).find((w) => w.worker === 1)!.pid, survivor.pid, 'the other worker is untouched');
    const exitLine = gw.out
      .slice(logged)
      .split('\n')
      .find((l) => l.includes('"worker exited; starting a replacement"'));
    assert.ok(exitLine !== undefined, tail(gw.out.slice(logged)));
    assert.deepEqual((({ worker, pid, signal }) => ({ worker, pid, signal }))(JSON.parse(exitLine) as { worker: number; pid: number; signal: string }), {
      worker: 2,
      pid: victim.pid,
      signal: 'SIGKILL',
    });

    // The replacement came up on the committed domain and epoch, and takes new connections.
    await assertEveryWorkerOn('blue', 2);
    await openClients(10);
    const after = await until(
      'new connections on both workers',
      async () => {
        const s = await orders();
        return s.workers!.every((w) => w.connections > 0) && s.connections === alive.length + 10 ? s : undefined;
      },
      10_000,
    );
    assert.ok(after.workers!.find((w) => w.worker === 1)!.connections > alive.length, 'worker 1 kept its connections and took new ones');
    assert.equal(metricValue(await metrics(), 'turnout_worker_restarts_total'), 1);
    await assertProduceConsumeOn('blue');
  });

  test('SIGTERM on the primary stops every worker gracefully and exits 0', { timeout: 60_000 }, async () => {
    const pids = (await workers()).map((w) => w.pid!);
    assert.equal(pids.length, 2);
    process.kill(gw.proc.pid, 'SIGTERM');
    const status = await Promise.race([gw.proc.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    assert.deepEqual(status, { code: 0, signal: null }, tail(gw.out));
    await until('the workers to be gone', async () => (pids.every((p) => !isAlive(p)) ? true : undefined), 5_000);
    assert.equal(gw.out.match(/"msg":"gateway stopped"/g)?.length, 3, 'each worker, then the primary');
    for (const line of gw.out.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
    assert.ok(!gw.out.includes(TOKEN), 'the admin token appeared in the logs');
  });
});

test("turnout start exits 1 with the reason when no worker can start (the route's port is taken)", { timeout: 90_000 }, async () => {
  const bed = await testBed();
  const cluster = await bed.cluster({ name: 'ps-blue', brokers: 1, nodeIdBase: 1 });
  const base = await freePortBlock(12);
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(base + 1, '127.0.0.1', resolve));
  const local = mkdtempSync(join(tmpdir(), 'turnout-workers-bad-'));
  try {
    const file = join(local, 'gateway.yaml');
    writeFileSync(file, twoWorkersOneRoute(cluster, base, uniqueName('_turnout_workers_bad')));
    const sink = { out: '' };
    const proc = spawnGateway(file, sink);
    const status = await Promise.race([proc.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
    assert.deepEqual(status, { code: 1, signal: null }, tail(sink.out));
    const fatal = sink.out.split('\n').filter((l) => l.includes('"gateway failed to start"'));
    assert.equal(fatal.length, 1, tail(sink.out));
    assert.match(fatal[0], new RegExp(`route \\\\"orders\\\\" cannot listen on 127\\.0\\.0\\.1:${base + 1}: the port is in use`));
    assert.ok(!sink.out.includes('starting a replacement'), 'no restart loop');
    const probe = await fetch(`http://127.0.0.1:${base}/health`).then(
      () => 'open',
      () => 'closed',
    );
    assert.equal(probe, 'closed', 'the admin listener is closed');
  } finally {
    taken.close();
    rmSync(local, { recursive: true, force: true });
  }
});

test('the workers exit when the primary is killed (SIGKILL): none outlives it', { timeout: 90_000 }, async () => {
  const bed = await testBed();
  const cluster = await bed.cluster({ name: 'ps-blue', brokers: 1, nodeIdBase: 1 });
  const base = await freePortBlock(12);
  const local = mkdtempSync(join(tmpdir(), 'turnout-workers-orphans-'));
  let proc: GroupProcess | undefined;
  let pids: number[] = [];
  try {
    const file = join(local, 'gateway.yaml');
    writeFileSync(file, twoWorkersOneRoute(cluster, base, uniqueName('_turnout_workers_orphans')));
    const sink = { out: '' };
    proc = spawnGateway(file, sink);
    const running = proc;
    const output = () => `--- gateway output (end):\n${tail(sink.out)}`;
    const serving = await pollUntil(
      'both workers serving',
      async () => {
        assert.ok(running.isRunning(), `the gateway exited: ${JSON.stringify(running.status)}\n${output()}`);
        const ws = (
          (await (await fetch(`http://127.0.0.1:${base}/health`, { signal: AbortSignal.timeout(5_000) })).json()) as { workers: WorkerProcessStatus[] }
        ).workers;
        return ws.length === 2 && ws.every((w) => w.state === 'serving' && isAlive(w.pid)) ? ws : undefined;
      },
      60_000,
      output,
    );
    pids = serving.map((w) => w.pid!);
    process.kill(running.pid, 'SIGKILL'); // the primary only, not its process group
    await running.exited;
    await pollUntil(
      'the workers to exit after the primary died',
      async () => (pids.some(isAlive) ? undefined : true),
      10_000,
      () => `still running: ${pids.filter(isAlive).join(', ')}\n${output()}`,
    );
    assert.equal(await canConnect(base + 1), false, 'nothing listens on the route any more');
  } finally {
    // Whatever failed, nothing of this gateway stays behind: the primary's group, and workers
    // that outlived it (no longer in a group anyone stops).
    await proc?.stop('SIGKILL', 2000);
    for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    rmSync(local, { recursive: true, force: true });
  }
});
