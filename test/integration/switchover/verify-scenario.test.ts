// The switchover verification scenario (src/scenario/switchover.ts, run in full by
// `npm run verify:switchover`) at CI size, against the gateway as users run it: `turnout start`
// as a process of its own, with a YAML file and `workers: auto` (one worker process per CPU: two
// or more here), in front of twoWayClusters() (blue and green, MirrorMaker 2 both ways). Four
// client pairs (Java idempotent producer with a manual-commit consumer, Java non-idempotent with
// auto-commit, librdkafka, kafkajs; none in the gateway's processes) run while the route is
// switched blue -> green -> blue with planned switches, then the same with hot switches.
// Planned: every switch switches, no client dies, every acknowledged record is consumed, no send
// fails. Hot: every switch switches, no client dies, and every pair produces and consumes after
// the last switch (what a hot switch loses is reported only). Stalls and re-reads are reported.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, type TestContext, test } from 'node:test';
import {
  clientTable,
  duplicateEvidence,
  runSwitchoverScenario,
  type ScenarioClient,
  type ScenarioResult,
  switchTable,
} from '../../../src/scenario/switchover.ts';
import type { ClusterDescriptor, KafkaTools } from '../../../src/testbed/index.ts';
import { stopAllClients } from '../../support/clients/common.ts';
import { domainFor } from '../../support/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway-process.ts';
import { twoWayClusters } from '../../support/switchover/client-matrix.ts';
import { createScenarioTopics, scenarioPairs } from '../../support/switchover/scenario-clients.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'verify-scenario-token';
const ROUTE = 'orders';

/** Per worker instance (`<instanceId>-w<n>`): the most client connections on the route /status showed. */
type WorkerConnections = Map<string, number>;

/** Samples /status every second while a scenario runs: how the route's connections spread over the workers. */
function watchWorkers(gw: GatewayProcess): { stop(): Promise<WorkerConnections> } {
  const seen: WorkerConnections = new Map();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = (await gw.routes()).find((x) => x.name === ROUTE);
        for (const w of r?.workers ?? []) seen.set(w.instance, Math.max(seen.get(w.instance) ?? 0, w.connections));
      } catch {
        // a sample lost under load: the next one counts
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

function report(t: TestContext, r: ScenarioResult, gw: GatewayProcess, spread: WorkerConnections): void {
  t.diagnostic(
    `${r.mode}: ${r.totals.switched}/${r.switches.length} switched in ${(r.durationMs / 1000).toFixed(0)} s; settled ${r.settled} after ${r.settleMs} ms`,
  );
  t.diagnostic(`most client connections per worker: ${[...spread].map(([w, n]) => `${w} ${n}`).join(', ')}`);
  for (const line of [...clientTable(r), '', ...switchTable(r)]) t.diagnostic(line);
  for (const c of r.clients) {
    if (c.problems.length > 0 || c.lost > 0)
      t.diagnostic(
        `${c.name}: lost ${c.lost} (e.g. ${c.lostSample.slice(0, 5).join(', ')}; by switch window ${c.lostBySwitch.join(',')}); problems: ${c.problems.join(' | ').slice(0, 2000)}`,
      );
    t.diagnostic(`${c.name}: ${JSON.stringify(c.counters)}`);
    for (const line of duplicateEvidence(r, c, 5)) t.diagnostic(`  re-read ${line}`);
  }
  for (const s of r.switches) {
    for (const g of s.groups)
      t.diagnostic(
        `switch ${s.index} (${s.from} -> ${s.to}) group ${g.groupId}: ${g.installed ? 'installed' : `NOT installed: ${g.error}`} ${(g.offsets ?? []).map((o) => `${o.partition} ${o.source}->${o.dest} (${o.method})`).join(', ')}`,
      );
  }
  const warnings = gw
    .logEntries()
    .filter((e) => ['warn', 'error', 'fatal'].includes(e.level))
    .map(
      (e) =>
        `${e.level} ${e.msg} ${JSON.stringify({ ...e, level: undefined, msg: undefined, time: undefined, pid: undefined, hostname: undefined, svc: undefined })}`,
    );
  t.diagnostic(`gateway warnings and errors (whole run so far): ${warnings.length}`);
  for (const w of warnings.slice(-20)) t.diagnostic(`  ${w.slice(0, 400)}`);
}

/** Pairs whose group was caught up at switch i (it had committed the source's end on every
 *  partition at the cut), with their re-reads in that switch's window. */
function caughtUpGroups(r: ScenarioResult): { pair: string; switch: number; reRead: number }[] {
  return r.clients.flatMap((c) =>
    c.groupAtSwitch.flatMap((g, i) => (g?.installed && g.caughtUp ? [{ pair: c.name, switch: i + 1, reRead: c.duplicatesBySwitch[i + 1] ?? 0 }] : [])),
  );
}

describe('switchover verification scenario (CI size) against `turnout start` with workers: auto', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: GatewayProcess;
  const run = uniqueName('ci');

  before(async () => {
    ({ blue, green, tools } = await twoWayClusters());
    gw = await startGatewayProcess({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: ROUTE, domain: 'blue', listener: 'sasl', brokerPortCount: 16, replication: { type: 'mirrormaker2', topics: null, groups: null } }],
      workers: 'auto',
      adminToken: TOKEN,
      stateTopic: `_turnout_state-${randomBytes(4).toString('hex')}`,
    });
  });

  after(async () => {
    await stopAllClients();
    await gw?.stop();
  });

  /** The gateway's processes: the primary and every worker /health lists now. */
  async function gatewayPids(): Promise<number[]> {
    return [gw.proc.pid, ...(await gw.workers()).map((w) => w.pid ?? -1)];
  }

  async function scenario(t: TestContext, mode: 'planned' | 'hot', switches: number): Promise<{ r: ScenarioResult; clients: ScenarioClient[] }> {
    const clients = scenarioPairs({ tools, bootstrap: gw.bootstrap[ROUTE], prefix: 'vs', suffix: `${run}-${mode}`, javaThroughput: 50 });
    await createScenarioTopics(
      [blue, green],
      clients.map((c) => c.topic),
    );
    const workersBefore = await gw.workers();
    const watch = watchWorkers(gw);
    let spread: WorkerConnections = new Map();
    let r: ScenarioResult;
    try {
      r = await runSwitchoverScenario({
        adminUrl: gw.adminUrl,
        token: TOKEN,
        route: ROUTE,
        bootstrap: gw.bootstrap[ROUTE],
        domains: ['blue', 'green'],
        clients,
        switches,
        mode,
        pauseMs: 5_000,
        warmupRecords: 50,
        settleTimeoutMs: 60_000,
        log: (line) => t.diagnostic(line),
      });
    } finally {
      spread = await watch.stop();
    }
    report(t, r, gw, spread);
    t.diagnostic(
      `re-reads of groups caught up at the cut: ${
        caughtUpGroups(r)
          .map((g) => `${g.pair} switch ${g.switch}: ${g.reRead}`)
          .join('; ') || 'no group was caught up at any cut'
      }`,
    );

    // Two or more workers served the run, every one it started with: none died, each had clients.
    const workersAfter = await gw.workers();
    assert.ok(workersAfter.length >= 2, `${workersAfter.length} worker process(es) served the run`);
    assert.deepEqual(
      workersAfter.map((w) => [w.instance, w.pid, w.state, w.restarts]),
      workersBefore.map((w) => [w.instance, w.pid, 'serving', 0]),
      'worker processes restarted or stopped during the run',
    );
    const idle = workersAfter.filter((w) => !((spread.get(w.instance) ?? 0) > 0)).map((w) => w.instance);
    assert.deepEqual(idle, [], `workers that never had a client connection on the route: ${[...spread].map(([w, n]) => `${w} ${n}`).join(', ')}`);
    // Clients never share the gateway's processes (kafkajs runs in this one; the rest are processes of their own).
    const mine = await gatewayPids();
    assert.deepEqual(
      clients.filter((c) => c.pids().some((p) => mine.includes(p))).map((c) => c.name),
      [],
      'client pairs running in a gateway process',
    );
    return { r, clients };
  }

  const outcomes = (r: ScenarioResult) =>
    r.switches.map((s) => `${s.index} ${s.from} -> ${s.to}: ${s.outcome}${s.outcome === 'switched' ? '' : `: ${s.message}`}`);

  test('the gateway is `turnout start` with workers: auto, served by two or more worker processes outside this process', async () => {
    const workers = await gw.workers();
    assert.ok(workers.length >= 2, `workers: auto started ${workers.length} worker process(es): ${JSON.stringify(workers)}`);
    assert.match(gw.configText, /^ {2}workers: auto$/m);
    assert.deepEqual(
      workers.map((w) => [w.instance, w.state]),
      workers.map((_, i) => [`${gw.instanceId}-w${i + 1}`, 'serving']),
    );
    const pids = workers.map((w) => w.pid);
    assert.equal(new Set(pids).size, workers.length, `worker pids: ${pids.join(', ')}`);
    assert.ok(
      pids.every((p) => p !== null && p !== process.pid && p !== gw.proc.pid),
      `worker pids ${pids.join(', ')}; test ${process.pid}, primary ${gw.proc.pid}`,
    );
    const plan = gw.logEntries().find((e) => e.msg === 'worker processes');
    assert.equal(plan?.workers, workers.length, JSON.stringify(plan));
    assert.match(String(plan?.why), /"auto"/);
    const route = (await gw.routes()).find((r) => r.name === ROUTE);
    assert.deepEqual(
      route?.workers?.map((w) => [w.instance, w.domain, w.ready]),
      workers.map((w) => [w.instance, 'blue', true]),
    );
  });

  test('planned switches blue -> green -> blue: every switch switches, every acknowledged record is consumed, no client dies or fails a send', {
    timeout: 240_000,
  }, async (t) => {
    const { r } = await scenario(t, 'planned', 2);
    assert.deepEqual(
      r.switches.map((s) => s.outcome),
      ['switched', 'switched'],
      outcomes(r).join('\n'),
    );
    assert.deepEqual(
      r.clients.filter((c) => c.crashed).map((c) => `${c.name}: ${c.problems.join(' | ')}`),
      [],
      'no client pair crashed',
    );
    assert.deepEqual(
      r.clients.map((c) => [c.name, c.lost]),
      r.clients.map((c) => [c.name, 0]),
      'acknowledged but never consumed',
    );
    assert.deepEqual(
      r.clients.map((c) => [c.name, c.sendErrors]),
      r.clients.map((c) => [c.name, 0]),
      'sends that failed for good (every pair retries)',
    );
    assert.ok(r.clients.every((c) => c.acked > 0 && c.consumed > 0));
  });

  test('hot switches blue -> green -> blue: every switch switches, no client dies, every pair produces and consumes after the last (losses reported)', {
    timeout: 180_000,
  }, async (t) => {
    const { r, clients } = await scenario(t, 'hot', 2);
    assert.deepEqual(
      r.switches.map((s) => s.outcome),
      ['switched', 'switched'],
      outcomes(r).join('\n'),
    );
    assert.deepEqual(
      r.clients.filter((c) => c.crashed).map((c) => `${c.name}: ${c.problems.join(' | ')}`),
      [],
      'no client pair crashed',
    );
    const last = r.switches[r.switches.length - 1].answeredAt;
    const afterLast = clients.map((c) => [c.name, c.acked().filter((s) => s.at > last).length, c.consumed().filter((s) => s.at > last).length] as const);
    t.diagnostic(`after the last switch (acked, consumed): ${afterLast.map(([n, a, c]) => `${n} ${a}, ${c}`).join('; ')}`);
    assert.deepEqual(
      afterLast.filter(([, a, c]) => a === 0 || c === 0),
      [],
      'pairs that did not both produce and consume after the last switch',
    );
  });
});
