// Two independent gateway deployments in front of the same two clusters, sharing one state topic
// (as two teams would with the default topic name): deployment A serves routes "orders" and
// "shared", deployment B "payments" and "shared". A switch of a route waits only for the live
// instances that serve it: A switches "orders" while B is live and never answers for it, and a
// switch of "shared" still waits for (and moves) both. A switch whose initiator died between its
// prepare and its outcome is aborted and audited by a live instance serving the route.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RouteStatus } from '../../../src/admin/server.ts';
import { type AuditRecord, decodeRecord, encodeRecord, type PrepareRecord } from '../../../src/control/records.ts';
import { StateLog } from '../../../src/control/state-log.ts';
import type { FleetInstance, SwitchReport } from '../../../src/control/switch-controller.ts';
import { silentLogger } from '../../../src/observability/log.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { eventually } from '../../support/switchover/long-running.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'fleet-scope-token';
const FLEET_TIMEOUT_MS = 5000;

async function switchRoute(gw: TestGateway, route: string, to: string): Promise<SwitchReport> {
  const res = await fetch(`${gw.adminUrl}/routes/${route}/switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, by: 'fleet-scope test' }),
  });
  const body = (await res.json()) as SwitchReport;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

async function routesOf(gw: TestGateway): Promise<Map<string, RouteStatus>> {
  const s = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { routes: RouteStatus[] };
  return new Map(s.routes.map((r) => [r.name, r]));
}

describe('two deployments sharing clusters and a state topic', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let a: TestGateway;
  let b: TestGateway;
  let dir: string;
  const stateTopic = uniqueName('_turnout_state');

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'fs-blue', brokers: 1, nodeIdBase: 801 }),
      bed.cluster({ name: 'fs-green', brokers: 1, nodeIdBase: 901 }),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'turnout-fleet-scope-'));
    const common = {
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      stateTopic,
      adminToken: TOKEN,
      switchover: { fleetTimeoutMs: FLEET_TIMEOUT_MS },
    };
    [a, b] = await Promise.all([
      startGateway({
        ...common,
        instanceId: 'deploy-a',
        auditFile: join(dir, 'a.audit'),
        routes: [
          { name: 'orders', domain: 'blue', listener: 'sasl' },
          { name: 'shared', domain: 'blue', listener: 'sasl' },
        ],
      }),
      startGateway({
        ...common,
        instanceId: 'deploy-b',
        auditFile: join(dir, 'b.audit'),
        routes: [
          { name: 'payments', domain: 'blue', listener: 'sasl' },
          { name: 'shared', domain: 'blue', listener: 'sasl' },
        ],
      }),
    ]);
    // Each sees the other live before anything is switched.
    await eventually(
      async () => {
        for (const [gw, other] of [
          [a, 'deploy-b'],
          [b, 'deploy-a'],
        ] as const) {
          const fleet = (await (await fetch(`${gw.adminUrl}/fleet`)).json()) as { instances: FleetInstance[] };
          assert.ok(
            fleet.instances.some((i) => i.instance === other && i.live),
            `${other} not live yet`,
          );
        }
      },
      20_000,
      200,
    );
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('a route only one deployment serves switches without waiting for the other', { timeout: 60_000 }, async (t) => {
    const r = await switchRoute(a, 'orders', 'green');
    t.diagnostic(`orders (A only) switched in ${r.durationMs} ms; instances: ${r.instances.map((i) => i.instance).join(', ')}`);
    assert.equal(r.outcome, 'switched', r.message);
    assert.deepEqual(
      r.instances.map((i) => i.instance),
      ['deploy-a'],
    );
    assert.ok(r.durationMs < FLEET_TIMEOUT_MS, `took ${r.durationMs} ms: it waited for an instance that does not serve the route`);
    assert.equal((await routesOf(a)).get('orders')?.domain, 'green');
    assert.equal((await routesOf(b)).get('payments')?.domain, 'blue', "B's own route did not move");
  });

  test('a route both deployments serve waits for both and moves both', { timeout: 60_000 }, async (t) => {
    const r = await switchRoute(a, 'shared', 'green');
    t.diagnostic(`shared (A and B) switched in ${r.durationMs} ms`);
    assert.equal(r.outcome, 'switched', r.message);
    assert.deepEqual(
      r.instances.map((i) => [i.instance, i.prepared, i.applied]),
      [
        ['deploy-a', true, true],
        ['deploy-b', true, true],
      ],
    );
    assert.equal((await routesOf(b)).get('shared')?.domain, 'green');
  });

  test('a switch whose initiator died after its prepare is aborted and audited by a live instance serving the route', { timeout: 90_000 }, async (t) => {
    // What a worker killed mid-switch leaves behind: its prepare, no commit, no abort, no audit.
    const switchId = randomUUID();
    const prepare: PrepareRecord = {
      type: 'prepare',
      route: 'orders',
      epoch: 40,
      switchId,
      domain: 'blue',
      listener: 'sasl',
      from: 'green',
      by: 'a worker that died',
      at: new Date(Date.now() - 30_000).toISOString(),
      instances: ['deploy-a', 'deploy-a-w2'],
    };
    const logs = [blue, green].map((c, i) => {
      const d = domainFor(c, i === 0 ? 'blue' : 'green');
      return new StateLog({
        domain: d,
        listener: d.kafkaCluster.bootstrapServers.find((x) => x.id === 'plaintext')!,
        topic: stateTopic,
        log: silentLogger(),
        timeoutMs: 10_000,
      });
    });
    try {
      for (const log of logs) await log.append([encodeRecord(prepare)]);
      const written = performance.now();
      let audit: AuditRecord | undefined;
      await eventually(
        async () => {
          const records = (await logs[1].readAll()).map((x) => decodeRecord(x.value));
          audit = records.find((x): x is AuditRecord => x?.type === 'audit' && x.switchId === switchId);
          assert.ok(audit, 'no audit entry for the abandoned switch yet');
          assert.ok(
            records.some((x) => x?.type === 'abort' && x.switchId === switchId),
            'no abort for the abandoned switch yet',
          );
        },
        40_000,
        250,
      );
      t.diagnostic(`abandoned switch audited ${Math.round(performance.now() - written)} ms after its prepare was written`);
      assert.equal(audit!.outcome, 'failed');
      assert.match(audit!.message, /never committed or aborted: its initiating instance stopped mid-switch\. deploy-a aborted it/);
      assert.deepEqual(
        audit!.instances.map((i) => i.instance),
        ['deploy-a', 'deploy-a-w2'],
      );
      // deploy-a serves the route (and comes first by name): its audit file has it; deploy-b's does not.
      assert.match(readFileSync(join(dir, 'a.audit'), 'utf8'), new RegExp(switchId));
      const bAudit = join(dir, 'b.audit');
      assert.doesNotMatch(existsSync(bAudit) ? readFileSync(bAudit, 'utf8') : '', new RegExp(switchId));
      assert.equal((await routesOf(a)).get('orders')?.domain, 'green', 'the abandoned switch changed nothing');
    } finally {
      for (const log of logs) log.close();
    }
  });
});
