// /ready follows the upstream cluster: a broker that stops makes the route not ready, and once it
// is back the route is ready again within a few seconds (discovery retries every 0.5-2 s while
// the cluster does not answer), not at the next 30-second poll.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UpstreamCluster } from '../../../src/routing/upstream-cluster.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { uniqueName } from '../testbed/helpers.ts';

const NAME = uniqueName('ready-upstream');

async function ready(adminUrl: string): Promise<{ status: number; body: { ready: boolean; routes: { name: string; error?: string }[] } }> {
  const res = await fetch(`${adminUrl}/ready`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; routes: { name: string; error?: string }[] } };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

test('discovery polls every 30 s while the cluster answers, and after 0.5, 1, 2, 2 s while it does not', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((f) => UpstreamCluster.nextPollMs(f, 30_000)),
    [30_000, 500, 1000, 2000, 2000, 2000],
  );
  assert.equal(UpstreamCluster.nextPollMs(3, 300), 300, 'never slower than the configured interval');
});

describe('/ready after an upstream broker stops and starts again', () => {
  let cluster: ClusterDescriptor;
  let gw: TestGateway;

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: NAME, brokers: 1, nodeIdBase: 61 });
    gw = await startGateway({ domains: [domainFor(cluster, 'main')], routes: [{ name: 'r', domain: 'main', listener: 'sasl' }] });
  });

  after(async () => {
    await gw?.stop();
  });

  test('ready again within a few seconds of the broker coming back', { timeout: 180_000 }, async (t) => {
    assert.equal((await ready(gw.adminUrl)).status, 200);
    const bed = await testBed();
    const nodeId = cluster.brokers[0].nodeId;
    await bed.stopBroker(NAME, nodeId);
    // The next 30-second poll would notice the broker gone; ask now rather than wait for it.
    await gw.gateway.routes[0].upstream.refresh();
    const down = await ready(gw.adminUrl);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.match(down.body.routes[0].error ?? '', /cannot reach streaming domain "main"/);
    await bed.startBroker(NAME, nodeId);
    const tookMs = await until(async () => (await ready(gw.adminUrl)).status === 200, 6_000);
    t.diagnostic(`ready again ${tookMs} ms after the broker was back`);
  });
});
