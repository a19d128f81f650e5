// A fleet of two real `turnout start` processes (gw-a, gw-b) in front of the same two clusters
// (blue: sw-blue, one broker; green: sw-green, three brokers), sharing one switch state topic. A
// switch asked of one instance moves both, or neither; an instance that cannot answer blocks a
// switch unless it is forced, and catches up when it comes back; a restarted instance comes up on
// the committed domain whatever its file says; SIGHUP applies a changed file fleet-wide and refuses
// an invalid one; the initiator audits every switch (file and metrics); the admin API wants its
// token. Clients (kafkajs, in this process) go through gw-b and their records are looked for
// directly on the clusters.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RouteStatus } from '../../../src/admin/server.ts';
import type { AuditRecord } from '../../../src/control/records.ts';
import type { FleetInstance, SwitchReport } from '../../../src/control/switch-controller.ts';
import { type ClusterDescriptor, SASL_USERS, testBed } from '../../../src/testbed/index.ts';
import { GroupProcess } from '../../../src/testbed/processes.ts';
import { type ClientTarget, stopAllClients } from '../../support/clients/index.ts';
import { consumeGroup, createTopic, produce, withAdmin } from '../../support/clients/kafkajs.ts';
import { domainFor, freePortBlock, startGateway, type TestGateway } from '../../support/gateway.ts';
import { pollUntil } from '../../support/poll.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/turnout.js');
const TOKEN = 'fleet-test-token';
const FLEET_TIMEOUT_MS = 5000;
const ENV = { TURNOUT_ADMIN_TOKEN: TOKEN, SERVICE_PASSWORD: SASL_USERS.admin };

interface StatusAnswer {
  instance: string;
  routes: RouteStatus[];
  instances: FleetInstance[];
}

/** One gateway instance of the fleet: its config file, addresses and (current) process. */
interface Instance {
  readonly id: 'gw-a' | 'gw-b';
  readonly configFile: string;
  readonly admin: string;
  readonly bootstrap: string;
  readonly adminPort: number;
  readonly endpointPort: number;
  proc: GroupProcess | undefined;
  out: string;
}

let dir: string;
let blue: ClusterDescriptor;
let green: ClusterDescriptor;
let clusters: Record<string, ClusterDescriptor>;
const stateTopic = uniqueName('_turnout_fleet_state');
const processes: GroupProcess[] = [];
let gwA: Instance;
let gwB: Instance;
let auditFile: string;
/** Switch ids of every switch gw-a initiated (reports received, and the SIGHUP one), in order. */
const initiatedByA: string[] = [];
/** Switch ids of switches gw-b initiated: they must not be in gw-a's audit file. */
const initiatedByB: string[] = [];

// ---- config files and processes -----------------------------------------------------------

function configText(i: { id: string; adminPort: number; endpointPort: number }, domain: string, extra: { audit?: string } = {}): string {
  const domainYaml = (name: string, c: ClusterDescriptor) => `
  - name: ${name}
    type: kafka
    kafkaCluster:
      name: ${c.name}
      bootstrapServers:
        - id: sasl
          endpoint: "${c.brokers.map((b) => `${b.host}:${b.saslPort}`).join(',')}"
          security:
            protocol: SASL_PLAINTEXT
            sasl: { mechanism: PLAIN, username: admin, password: "\${SERVICE_PASSWORD}" }`;
  return `
gateway:
  instanceId: ${i.id}
  admin: { listen: "127.0.0.1:${i.adminPort}", token: "\${TURNOUT_ADMIN_TOKEN}" }
  log: { level: info }
  shutdownTimeoutMs: 2000
  # One worker process: this file is about instances gw-a and gw-b (with more, they would be gw-a-w1, gw-a-w2, ...).
  workers: 1
  limits: { upstreamConnectTimeoutMs: 5000 }
  state: { enabled: true, topic: ${stateTopic} }
  switchover: { drainTimeoutMs: 2000, fleetTimeoutMs: ${FLEET_TIMEOUT_MS} }
${extra.audit !== undefined ? `  audit: { file: "${extra.audit}" }\n` : ''}streamingDomains:${domainYaml('blue', blue)}${domainYaml('green', green)}
routes:
  - name: orders
    endpoint: "127.0.0.1:${i.endpointPort}"
    bindAddress: 127.0.0.1
    brokerPorts: { base: ${i.endpointPort + 1}, count: 16 }
    streamingDomain: { name: ${domain}, bootstrapServerId: sasl }
    authentication: { type: passthrough }
`;
}

function instance(id: 'gw-a' | 'gw-b', base: number): Instance {
  return {
    id,
    configFile: join(dir, `${id}.yaml`),
    admin: `http://127.0.0.1:${base}`,
    bootstrap: `127.0.0.1:${base + 1}`,
    adminPort: base,
    endpointPort: base + 1,
    proc: undefined,
    out: '',
  };
}

/** `turnout start -c FILE` for `i`, in its own process group (the test bed's reaper kills it if this process dies). */
async function startInstance(i: Instance): Promise<void> {
  const proc = new GroupProcess(process.execPath, [BIN, 'start', '-c', i.configFile], { cwd: ROOT, env: { ...process.env, ...ENV }, holdsProcessOpen: true });
  processes.push(proc);
  i.proc = proc;
  i.out = '';
  proc.child.stdout!.setEncoding('utf8').on('data', (d: string) => (i.out += d));
  proc.child.stderr!.setEncoding('utf8').on('data', (d: string) => (i.out += d));
  await until(`${i.id} started`, async () => (i.out.includes('"gateway started"') ? true : undefined), 30_000, [i]);
  await until(
    `${i.id} ready`,
    async () => ((await fetch(`${i.admin}/ready`, { signal: AbortSignal.timeout(2000) })).status === 200 ? true : undefined),
    20_000,
    [i],
  );
}

/** `sig` to the instance's whole process group: its primary and worker processes (SIGSTOP must freeze the worker too). */
function signal(i: Instance, sig: NodeJS.Signals): void {
  assert.ok(i.proc?.isRunning(), `${i.id} is not running:\n${tail(i.out)}`);
  process.kill(-i.proc!.pid, sig);
}

// ---- admin API and CLI ----------------------------------------------------------------------

async function getJson<T>(i: Instance, path: string): Promise<T> {
  const res = await fetch(`${i.admin}${path}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, `${i.id} GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const status = (i: Instance) => getJson<StatusAnswer>(i, '/status');

async function route(i: Instance): Promise<RouteStatus> {
  const s = await status(i);
  assert.equal(s.instance, i.id);
  const r = s.routes.find((x) => x.name === 'orders');
  assert.ok(r, `${i.id} has no route orders`);
  return r;
}

async function postSwitch(
  i: Instance,
  body: Record<string, unknown>,
  token: string | null = TOKEN,
): Promise<{ status: number; body: SwitchReport & { error?: string } }> {
  const res = await fetch(`${i.admin}/routes/orders/switch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, body: (await res.json()) as SwitchReport & { error?: string } };
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `turnout` CLI asynchronously (the gateways must keep running meanwhile); never throws on a non-zero exit. */
function turnout(args: string[], env: Record<string, string> = { TURNOUT_ADMIN_TOKEN: TOKEN }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/** `turnout switch orders --to DOMAIN --admin ... --json`, asked of `i`. */
async function cliSwitch(i: Instance, to: string, ...more: string[]): Promise<{ code: number; report: SwitchReport; cli: CliResult }> {
  const cli = await turnout(['switch', 'orders', '--to', to, '--admin', i.admin, '--json', ...more]);
  let report: SwitchReport;
  try {
    report = JSON.parse(cli.stdout) as SwitchReport;
  } catch {
    assert.fail(`turnout switch printed no JSON report (exit ${cli.code}):\nstdout: ${cli.stdout}\nstderr: ${cli.stderr}`);
  }
  (i === gwA ? initiatedByA : initiatedByB).push(report.switchId);
  return { code: cli.code, report, cli };
}

function assertSwitchedEverywhere(report: SwitchReport, from: string, to: string): void {
  const dump = JSON.stringify(report, null, 2);
  assert.equal(report.outcome, 'switched', dump);
  assert.equal(report.forced, false, dump);
  assert.equal(report.from, from, dump);
  assert.equal(report.to, to, dump);
  assert.equal(report.listener, 'sasl', dump);
  assert.deepEqual(
    report.instances.map((r) => [r.instance, r.prepared, r.applied, r.error ?? null]),
    [
      ['gw-a', true, true, null],
      ['gw-b', true, true, null],
    ],
    dump,
  );
  assert.deepEqual([...report.stateWritten].sort(), ['blue', 'green'], dump);
  assert.deepEqual(report.stateNotWritten, [], dump);
}

/** Both instances' /status show the route on `domain` at `epoch` (applied by `switchId`), and each sees the other live. */
async function assertBothOn(domain: string, epoch: number, switchId?: string): Promise<void> {
  for (const i of [gwA, gwB]) {
    const r = await route(i);
    assert.equal(r.domain, domain, `${i.id} route: ${JSON.stringify(r)}`);
    assert.equal(r.epoch, epoch, `${i.id} route: ${JSON.stringify(r)}`);
    assert.equal(r.listener, 'sasl');
    if (switchId !== undefined) assert.equal(r.lastSwitch?.switchId, switchId, `${i.id} last switch: ${JSON.stringify(r.lastSwitch)}`);
    // An instance that applied a commit without having prepared (catching up, restored at start)
    // discovers the new cluster's brokers right after: ready a moment later.
    await until(
      `${i.id}'s route to be ready on ${domain}`,
      async () => {
        const now = await route(i);
        assert.deepEqual([now.domain, now.epoch], [domain, epoch]);
        return now.ready ? true : undefined;
      },
      10_000,
      [i],
    );
  }
  // Heartbeats every 2 s carry each instance's routes: both views converge on the same fleet.
  for (const i of [gwA, gwB]) {
    await until(
      `${i.id}'s fleet view to show both instances on ${domain}#${epoch}`,
      async () => {
        const s = await status(i);
        const seen = s.instances.map((f) => [f.instance, f.self, f.live, f.routes.orders?.domain, f.routes.orders?.epoch]);
        const want = [
          ['gw-a', i === gwA, true, domain, epoch],
          ['gw-b', i === gwB, true, domain, epoch],
        ];
        return JSON.stringify(seen) === JSON.stringify(want) ? true : undefined;
      },
      10_000,
      [gwA, gwB],
    );
  }
}

/** Waits until `seenBy` has read a heartbeat of `of` written less than a second ago. */
async function freshHeartbeat(of: Instance, seenBy: Instance): Promise<void> {
  await until(
    `a fresh heartbeat of ${of.id} at ${seenBy.id}`,
    async () => {
      const f = (await status(seenBy)).instances.find((x) => x.instance === of.id);
      return f?.live && Date.now() - Date.parse(f.lastSeen) < 1000 ? true : undefined;
    },
    15_000,
    [of, seenBy],
  );
}

// ---- clients and clusters --------------------------------------------------------------------

const through = (i: Instance): ClientTarget => ({ bootstrap: i.bootstrap, sasl: { username: 'alice', password: SASL_USERS.alice } });
const direct = (c: ClusterDescriptor): ClientTarget => ({ bootstrap: c.bootstrap() });

async function endOffsetSum(c: ClusterDescriptor, topic: string): Promise<number> {
  return withAdmin(direct(c), 'fetchTopicOffsets', 20_000, async (admin) => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0));
}

/**
 * A kafkajs producer through `i` writes records to a new topic (created on both clusters); they
 * must be on `domain`'s cluster, read back directly from it, and not on the other one.
 */
async function assertClientReaches(i: Instance, domain: 'blue' | 'green'): Promise<void> {
  const topic = uniqueName(`fleet-${i.id}-${domain}`);
  await Promise.all([createTopic(direct(blue), topic, { partitions: 2 }), createTopic(direct(green), topic, { partitions: 2 })]);
  const values = Array.from({ length: 20 }, (_, n) => `${topic}-${n}`);
  await produce(
    through(i),
    topic,
    values.map((value) => ({ value })),
    { timeoutMs: 30_000 },
  );
  const other = domain === 'blue' ? 'green' : 'blue';
  assert.equal(await endOffsetSum(clusters[other], topic), 0, `records produced through ${i.id} must not be on ${other}`);
  const read = await consumeGroup(direct(clusters[domain]), topic, uniqueName('fleet-check'), values.length, 30_000);
  assert.deepEqual(read.map((r) => r.value).sort(), [...values].sort(), `records produced through ${i.id} must be on ${domain}`);
}

// ---- helpers ----------------------------------------------------------------------------------

function tail(text: string, chars = 4000): string {
  return text.length > chars ? `...${text.slice(-chars)}` : text;
}

function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, show: Instance[] = []): Promise<T> {
  return pollUntil(what, probe, timeoutMs, () => show.map((i) => `--- ${i.id} output (end):\n${tail(i.out)}`).join('\n'));
}

function auditLines(): AuditRecord[] {
  let text = '';
  try {
    text = readFileSync(auditFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditRecord);
}

// ---- the tests -------------------------------------------------------------------------------

describe('a fleet of two turnout processes switching together', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'turnout-fleet-'));
    auditFile = join(dir, 'gw-a-audit.jsonl');
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'sw-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'sw-green', brokers: 3, nodeIdBase: 401 }),
    ]);
    clusters = { blue, green };
    const base = await freePortBlock(40);
    gwA = instance('gw-a', base);
    gwB = instance('gw-b', base + 20);
    writeFileSync(gwA.configFile, configText(gwA, 'blue', { audit: auditFile }));
    writeFileSync(gwB.configFile, configText(gwB, 'blue'));
    await Promise.all([startInstance(gwA), startInstance(gwB)]);
    await assertBothOn('blue', 0);
  });

  after(async () => {
    // Every process this file started dies, stopped (SIGSTOP) ones included, whatever failed.
    await Promise.all(processes.map((p) => p.stop('SIGKILL', 2000)));
    await stopAllClients();
    rmSync(dir, { recursive: true, force: true });
  });

  test('one `turnout switch` moves both instances to green, and one more moves them back', { timeout: 90_000 }, async () => {
    const initial = await route(gwA);
    assert.equal(initial.domain, 'blue');

    const s1 = await cliSwitch(gwA, 'green');
    assert.equal(s1.code, 0, s1.cli.stderr);
    assertSwitchedEverywhere(s1.report, 'blue', 'green');
    assert.ok(s1.report.epoch > initial.epoch);
    assert.match(s1.report.by, /^cli:/);
    await assertBothOn('green', s1.report.epoch, s1.report.switchId);
    await assertClientReaches(gwB, 'green');

    // Rollback is the same command.
    const s2 = await cliSwitch(gwA, 'blue');
    assert.equal(s2.code, 0, s2.cli.stderr);
    assertSwitchedEverywhere(s2.report, 'green', 'blue');
    assert.equal(s2.report.epoch, s1.report.epoch + 1);
    await assertBothOn('blue', s2.report.epoch, s2.report.switchId);
    await assertClientReaches(gwB, 'blue');
  });

  test('an instance that does not answer blocks a switch; --force switches anyway and it catches up', { timeout: 120_000 }, async () => {
    const start = await route(gwA);
    const to = start.domain === 'blue' ? 'green' : 'blue';

    // gw-b stops answering while its last heartbeat is still fresh: gw-a counts it as live.
    await freshHeartbeat(gwB, gwA);
    signal(gwB, 'SIGSTOP');
    const refused = await postSwitch(gwA, { to, by: 'fleet test' });
    initiatedByA.push(refused.body.switchId);
    const dump = JSON.stringify(refused.body, null, 2);
    assert.equal(refused.status, 409, dump);
    assert.equal(refused.body.outcome, 'refused', dump);
    assert.deepEqual(
      refused.body.instances.map((r) => [r.instance, r.prepared, r.applied]),
      [
        ['gw-a', true, null],
        ['gw-b', null, null],
      ],
      dump,
    );
    assert.match(refused.body.message, /gw-b: no answer within 5000 ms/);
    assert.match(refused.body.message, /nothing changed/);
    let a = await route(gwA);
    assert.deepEqual(
      [a.domain, a.epoch, a.lastSwitch?.switchId],
      [start.domain, start.epoch, start.lastSwitch?.switchId],
      'a refused switch changes nothing on gw-a',
    );

    // Nor on gw-b once it runs again (it reads the prepare, then the abort).
    signal(gwB, 'SIGCONT');
    await freshHeartbeat(gwB, gwA);
    const b = await route(gwB);
    assert.deepEqual([b.domain, b.epoch], [start.domain, start.epoch], 'a refused switch changes nothing on gw-b');

    // The CLI says the same with exit code 1.
    signal(gwB, 'SIGSTOP');
    const refusedCli = await cliSwitch(gwA, to);
    assert.equal(refusedCli.code, 1, refusedCli.cli.stdout);
    assert.equal(refusedCli.report.outcome, 'refused');
    a = await route(gwA);
    assert.deepEqual([a.domain, a.epoch], [start.domain, start.epoch]);
    signal(gwB, 'SIGCONT');
    await freshHeartbeat(gwB, gwA);

    // Forced: gw-a switches and says that gw-b did not answer.
    signal(gwB, 'SIGSTOP');
    const forced = await cliSwitch(gwA, to, '--force');
    const fdump = JSON.stringify(forced.report, null, 2);
    assert.equal(forced.code, 0, forced.cli.stderr);
    assert.equal(forced.report.outcome, 'switched', fdump);
    assert.equal(forced.report.forced, true, fdump);
    assert.deepEqual(
      forced.report.instances.map((r) => [r.instance, r.prepared, r.applied]),
      [
        ['gw-a', true, true],
        ['gw-b', null, null],
      ],
      fdump,
    );
    assert.match(forced.report.message, /gw-b did not confirm/, fdump);
    assert.ok(forced.report.epoch > start.epoch, fdump);
    a = await route(gwA);
    assert.deepEqual([a.domain, a.epoch], [to, forced.report.epoch]);

    // gw-b comes back and applies the committed switch from the state topic.
    signal(gwB, 'SIGCONT');
    await until(
      'gw-b to catch up with the forced switch',
      async () => {
        const r = await route(gwB);
        return r.domain === to && r.epoch === forced.report.epoch ? true : undefined;
      },
      15_000,
      [gwB],
    );
    await assertBothOn(to, forced.report.epoch, forced.report.switchId);
    const metrics = await (await fetch(`${gwB.admin}/metrics`)).text();
    assert.match(metrics, new RegExp(`turnout_route_switch_epoch\\{route="orders"\\} ${forced.report.epoch}\\b`));
    assert.match(metrics, new RegExp(`turnout_route_active_domain\\{route="orders",domain="${to}"\\} 1\\b`));
  });

  test("a restarted instance comes up on the committed domain and epoch, not on its file's", { timeout: 120_000 }, async () => {
    // The file of gw-b says blue: the route must be committed on green for the restart to tell.
    let committed = await route(gwA);
    if (committed.domain !== 'green') {
      const s = await cliSwitch(gwA, 'green');
      assert.equal(s.code, 0, s.cli.stdout + s.cli.stderr);
      committed = await route(gwA);
    }
    assert.equal(committed.domain, 'green');
    assert.match(readFileSync(gwB.configFile, 'utf8'), /streamingDomain: \{ name: blue,/);

    await gwB.proc!.stop('SIGKILL');
    await startInstance(gwB);
    const r = await route(gwB);
    assert.deepEqual([r.domain, r.epoch, r.lastSwitch?.switchId], ['green', committed.epoch, committed.lastSwitch?.switchId], JSON.stringify(r));
    assert.match(gwB.out, /"restored at start"/);
    await assertBothOn('green', committed.epoch);
    await assertClientReaches(gwB, 'green');

    // The restarted instance is a full member: a switch it initiates moves gw-a too.
    const back = await cliSwitch(gwB, 'blue');
    assert.equal(back.code, 0, back.cli.stderr);
    assertSwitchedEverywhere(back.report, 'green', 'blue');
    await assertBothOn('blue', back.report.epoch, back.report.switchId);
  });

  test('SIGHUP after editing the file switches the fleet; an invalid file changes nothing', { timeout: 90_000 }, async () => {
    const start = await route(gwA);
    const to = start.domain === 'blue' ? 'green' : 'blue';
    // gw-a's loaded file says blue; a reload only switches when the file changes, so start from blue.
    assert.equal(start.domain, 'blue', 'the previous test leaves the route on blue');

    writeFileSync(gwA.configFile, configText(gwA, to, { audit: auditFile }));
    signal(gwA, 'SIGHUP');
    const reloaded = await until(
      'gw-a to switch after SIGHUP',
      async () => {
        const r = await route(gwA);
        return r.epoch > start.epoch ? r : undefined;
      },
      20_000,
      [gwA],
    );
    assert.equal(reloaded.domain, to);
    assert.equal(reloaded.epoch, start.epoch + 1);
    assert.match(reloaded.lastSwitch?.by ?? '', /^config-reload \(SIGHUP\)$/);
    initiatedByA.push(reloaded.lastSwitch!.switchId);
    await until('gw-b to follow the reload', async () => ((await route(gwB)).epoch === reloaded.epoch ? true : undefined), 10_000, [gwB]);
    await assertBothOn(to, reloaded.epoch, reloaded.lastSwitch!.switchId);
    assert.match(gwA.out, /"route":"orders","outcome":"switched"/);

    // An invalid file: reported, nothing changes, the gateway keeps running.
    const valid = readFileSync(gwA.configFile, 'utf8');
    writeFileSync(gwA.configFile, valid.replace(`streamingDomain: { name: ${to},`, 'streamingDomain: { name: purple,'));
    const logged = gwA.out.length;
    signal(gwA, 'SIGHUP');
    await until('gw-a to refuse the invalid file', async () => (gwA.out.slice(logged).includes('config reload refused') ? true : undefined), 10_000, [gwA]);
    assert.match(gwA.out.slice(logged), /unknown streaming domain \\"purple\\"/);
    assert.ok(gwA.proc!.isRunning());
    assert.equal((await fetch(`${gwA.admin}/health`)).status, 200);
    await assertBothOn(to, reloaded.epoch, reloaded.lastSwitch!.switchId);
    writeFileSync(gwA.configFile, valid);
  });

  test('the initiator audits each switch (file, metrics), and `turnout status` shows the fleet', { timeout: 90_000 }, async () => {
    const start = await route(gwA);
    const to = start.domain === 'blue' ? 'green' : 'blue';
    const linesBefore = auditLines().length;
    const s = await postSwitch(gwA, { to, by: 'auditor' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    initiatedByA.push(s.body.switchId);
    assertSwitchedEverywhere(s.body, start.domain, to);

    const lines = auditLines();
    assert.equal(lines.length, linesBefore + 1, 'one audit line per switch');
    const last = lines[lines.length - 1];
    assert.deepEqual(
      {
        switchId: last.switchId,
        by: last.by,
        at: last.at,
        from: last.from,
        to: last.to,
        epoch: last.epoch,
        durationMs: last.durationMs,
        outcome: last.outcome,
        route: last.route,
      },
      {
        switchId: s.body.switchId,
        by: s.body.by,
        at: s.body.at,
        from: start.domain,
        to,
        epoch: s.body.epoch,
        durationMs: s.body.durationMs,
        outcome: 'switched',
        route: 'orders',
      },
    );
    assert.match(last.by, /^auditor \(/);

    // Every switch gw-a initiated in this file, and only those (not gw-b's), each once, in order.
    assert.deepEqual(
      lines.map((l) => l.switchId),
      initiatedByA,
    );
    assert.ok(initiatedByB.every((id) => !lines.some((l) => l.switchId === id)));
    for (const l of lines) {
      assert.equal(l.type, 'audit');
      assert.ok(
        typeof l.by === 'string' && l.by !== '' && Number.isFinite(Date.parse(l.at)) && typeof l.from === 'string' && typeof l.to === 'string',
        JSON.stringify(l),
      );
      assert.ok(Number.isInteger(l.epoch) && l.epoch > 0 && Number.isInteger(l.durationMs) && l.durationMs >= 0, JSON.stringify(l));
      assert.ok(['switched', 'refused', 'failed'].includes(l.outcome), JSON.stringify(l));
    }

    const metrics = await (await fetch(`${gwA.admin}/metrics`)).text();
    const count = (outcome: string) =>
      Number(new RegExp(`^turnout_switches_total\\{route="orders",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.match(metrics, /^turnout_switches_total\{route="orders",outcome="switched"\} \d+$/m);
    assert.equal(count('switched'), lines.filter((l) => l.outcome === 'switched').length);
    assert.equal(count('refused'), lines.filter((l) => l.outcome === 'refused').length);

    await assertBothOn(to, s.body.epoch, s.body.switchId);
    const cli = await turnout(['status', '--admin', gwA.admin], {});
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^instance gw-a$/m);
    assert.match(cli.stdout, new RegExp(`^route orders  ${gwA.bootstrap}  -> ${to} \\(listener sasl\\)  epoch ${s.body.epoch}  ready$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^  last switch: \\S+ by auditor \\(.*\\): ${start.domain} -> ${to} \\(epoch ${s.body.epoch}\\)$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^  \\* gw-a +live  last seen \\S+  orders@${to}#${s.body.epoch}$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^    gw-b +live  last seen \\S+  orders@${to}#${s.body.epoch}$`, 'm'));
    const json = JSON.parse((await turnout(['status', '--admin', gwB.admin, '--json'], {})).stdout) as StatusAnswer;
    assert.deepEqual([json.instance, json.routes[0].domain, json.routes[0].epoch], ['gw-b', to, s.body.epoch]);
  });

  test('switching needs the admin token: wrong or missing 401, none configured 403', { timeout: 60_000 }, async () => {
    // The running fleet: a wrong token is refused before anything happens.
    const start = await route(gwA);
    const to = start.domain === 'blue' ? 'green' : 'blue';
    const wrong = await turnout(['switch', 'orders', '--to', to, '--admin', gwA.admin, '--token', 'not-the-token']);
    assert.equal(wrong.code, 2, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /HTTP 401\): wrong token/);
    const missing = await postSwitch(gwA, { to }, null);
    assert.equal(missing.status, 401);
    const a = await route(gwA);
    assert.deepEqual([a.domain, a.epoch], [start.domain, start.epoch]);

    // In-process gateways: with a token, and without one.
    let gw: TestGateway | undefined;
    let open: TestGateway | undefined;
    try {
      [gw, open] = await Promise.all([
        startGateway({
          domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
          routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', brokerPortCount: 16 }],
          adminToken: TOKEN,
        }),
        startGateway({
          domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
          routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', brokerPortCount: 16 }],
        }),
      ]);
      const ask = async (url: string, headers: Record<string, string>) => {
        const res = await fetch(`${url}/routes/orders/switch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ to: 'green' }),
        });
        return { status: res.status, auth: res.headers.get('www-authenticate'), body: (await res.json()) as { error?: string } };
      };
      const none = await ask(gw.adminUrl, {});
      assert.deepEqual([none.status, none.auth], [401, 'Bearer']);
      assert.match(none.body.error ?? '', /Authorization: Bearer/);
      const bad = await ask(gw.adminUrl, { authorization: 'Bearer nope' });
      assert.deepEqual([bad.status, bad.body.error], [401, 'wrong token']);
      const notBearer = await ask(gw.adminUrl, { authorization: `Basic ${TOKEN}` });
      assert.equal(notBearer.status, 401);
      const disabled = await ask(open.adminUrl, { authorization: `Bearer ${TOKEN}` });
      assert.equal(disabled.status, 403);
      assert.match(disabled.body.error ?? '', /gateway\.admin\.token/);
      for (const g of [gw, open]) {
        assert.deepEqual(
          g.gateway.routeStatus().map((r) => [r.domain, r.epoch]),
          [['blue', 0]],
          'refused requests change nothing',
        );
      }
      // The right token is accepted (a local switch: these gateways have no state topic).
      const ok = await ask(gw.adminUrl, { authorization: `Bearer ${TOKEN}` });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(
        gw.gateway.routeStatus().map((r) => [r.domain, r.epoch]),
        [['green', 1]],
      );
    } finally {
      await Promise.all([gw?.stop(), open?.stop()]);
    }
  });
});
