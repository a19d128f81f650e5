// A disaster switch: the active cluster's only broker is killed (SIGKILL) while a Java producer
// (Kafka's VerifiableProducer with the producer's own defaults: idempotent, retries until
// delivery.timeout.ms) writes through the gateway. Preflight and a planned switch must say within
// seconds that the source does not answer and point at a hot switch with its loss window, never
// that nothing was lost; the hot switch must finish in about a second although every state write
// to the dead cluster would wait out its timeout, and the producer must be acknowledged again on
// the destination within seconds. A starting instance that reads no state topic must wait (and
// fail at its deadline) or, when told to serve, say that the epoch is unknown and refuse switches.
// When the source comes back, the commit it missed is written there. Timings are printed as
// test diagnostics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeRecord } from '../../../src/control/records.ts';
import { StateLog } from '../../../src/control/state-log.ts';
import type { PreflightReport, SwitchReport } from '../../../src/control/switch-controller.ts';
import { silentLogger } from '../../../src/observability/log.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type ToolProcess, testBed } from '../../../src/testbed/index.ts';
import { turnoutCli } from '../../support/cli.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { eventually, jsonEvents } from '../../support/switchover/long-running.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'source-down-token';
const cli = turnoutCli(TOKEN);
const BLUE_NODE = 601;
/** Never claimed when the source is down. */
const FALSE_COMFORT = /nothing was lost|writes continue on/i;

const events = (p: ToolProcess) => jsonEvents(p.stdout);
const acked = (p: ToolProcess) =>
  events(p)
    .filter((e) => e.name === 'producer_send_success')
    .map((e) => String(e.value));

async function admin<T>(gw: TestGateway, method: string, path: string, body?: object): Promise<{ status: number; body: T; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  const json = (await res.json()) as T;
  return { status: res.status, body: json, ms: Math.round(performance.now() - started) };
}

describe('switching away from a source whose broker was killed', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const extra: TestGateway[] = [];
  const topic = uniqueName('sd-orders');
  const stateTopic = uniqueName('_turnout_state');
  let producer: ToolProcess | undefined;

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'sd-blue', brokers: 1, nodeIdBase: BLUE_NODE }),
      bed.cluster({ name: 'sd-green', brokers: 1, nodeIdBase: 701 }),
    ]);
    tools = await bed.tools();
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', brokerPortCount: 8, replication: { type: 'mirrormaker2', topics: 'sd-.*', groups: null } }],
      stateTopic,
      adminToken: TOKEN,
      // The production default: every request to a dead cluster waits this long.
      limits: { upstreamConnectTimeoutMs: 10_000 },
    });
  });

  after(async () => {
    await producer?.stop();
    for (const g of [gw, ...extra]) await g?.stop().catch(() => {});
    const bed = await testBed();
    await bed.startBroker('sd-blue', BLUE_NODE).catch(() => {});
  });

  test('preflight and a planned switch say so in seconds; a hot switch moves the producer to green in seconds; blue catches up when back', {
    timeout: 300_000,
  }, async (t) => {
    for (const c of [blue, green]) {
      const r = await tools.run(KafkaTool.Topics, [
        ...tools.connectionArgs(KafkaTool.Topics, c.bootstrap()),
        '--create',
        '--if-not-exists',
        '--topic',
        topic,
        '--partitions',
        '2',
        '--replication-factor',
        '1',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const producerConfig = tools.saslClientConfig('alice', undefined, { retries: '2147483647', 'enable.idempotence': 'true' });
    producer = tools.spawn(KafkaTool.VerifiableProducer, [
      ...tools.connectionArgs(KafkaTool.VerifiableProducer, gw.bootstrap.orders, producerConfig),
      '--topic',
      topic,
      '--throughput',
      '50',
      '--max-messages',
      '-1',
      '--acks',
      '-1',
    ]);
    await eventually(async () => assert.ok(acked(producer!).length >= 100, `${acked(producer!).length} acked\n${producer!.stderr.slice(-1000)}`), 60_000);

    // A preflight while blue is up measures the lag (no MirrorMaker runs: green has none of the records).
    const before = await admin<PreflightReport>(gw, 'GET', `/routes/orders/preflight?to=green&topics=${topic}`);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.equal(before.body.sourceUnreachable, undefined);

    const bed = await testBed();
    await bed.stopBroker('sd-blue', BLUE_NODE, { kill: true });
    const ackedAtKill = acked(producer).length;

    // 1. Preflight (admin API and CLI): the source does not answer, in seconds, with the way forward.
    const pf = await admin<PreflightReport>(gw, 'GET', `/routes/orders/preflight?to=green&topics=${topic}`);
    t.diagnostic(`preflight with blue down: ${pf.ms} ms`);
    assert.equal(pf.status, 200, JSON.stringify(pf.body));
    assert.ok(pf.ms < 5000, `preflight took ${pf.ms} ms`);
    assert.ok(pf.body.sourceUnreachable !== undefined, JSON.stringify(pf.body));
    assert.match(pf.body.blockers.join('\n'), /"blue" does not answer.*--mode hot/s);
    assert.match(pf.body.possibleLoss ?? '', /last replication lag seen \d+ s ago .*behind by \d+ record/);
    assert.doesNotMatch(JSON.stringify(pf.body), FALSE_COMFORT);
    // The CLI's own start (a Node process loading TypeScript) takes seconds on a busy machine: the
    // bounds below are on what the commands add to a `turnout status` run just before them.
    let started = performance.now();
    const status = await cli('status', '--admin', gw.adminUrl);
    const cliStartMs = Math.round(performance.now() - started);
    t.diagnostic(`turnout status (the CLI's start-up, as a baseline): ${cliStartMs} ms, exit ${status.code}`);
    started = performance.now();
    const pfCli = await cli('preflight', 'orders', '--to', 'green', '--admin', gw.adminUrl);
    const pfCliMs = Math.round(performance.now() - started);
    t.diagnostic(`turnout preflight with blue down: ${pfCliMs} ms, exit ${pfCli.code}`);
    assert.equal(pfCli.code, 1, pfCli.stdout + pfCli.stderr);
    assert.match(pfCli.stdout, /does not answer/);
    assert.match(pfCli.stdout, /--mode hot/);
    assert.ok(pfCliMs - cliStartMs < 5000, `turnout preflight took ${pfCliMs} ms, ${pfCliMs - cliStartMs} ms more than turnout status`);

    // 2. A planned switch (CLI; the route has replication, so planned is the default) and a forced one: refused in seconds, truthfully.
    started = performance.now();
    const planned = await cli('switch', 'orders', '--to', 'green', '--admin', gw.adminUrl);
    const plannedMs = Math.round(performance.now() - started);
    t.diagnostic(`turnout switch (planned) with blue down: ${plannedMs} ms, exit ${planned.code}`);
    assert.notEqual(planned.code, 0);
    assert.match(planned.stdout, /REFUSED/);
    assert.match(planned.stdout, /--mode hot/);
    assert.match(planned.stdout, /possible loss: with a hot switch: last replication lag seen/);
    assert.doesNotMatch(planned.stdout, FALSE_COMFORT);
    assert.ok(plannedMs - cliStartMs < 5000, `planned switch took ${plannedMs} ms, ${plannedMs - cliStartMs} ms more than turnout status`);
    const forced = await admin<SwitchReport>(gw, 'POST', '/routes/orders/switch', { to: 'green', force: true, by: 'source-down test' });
    t.diagnostic(`forced planned switch with blue down: ${forced.ms} ms (report ${forced.body.durationMs} ms)`);
    assert.equal(forced.body.outcome, 'refused');
    assert.match(forced.body.message, /forced or not.*--mode hot/s);
    assert.doesNotMatch(forced.body.message, FALSE_COMFORT);
    assert.ok(forced.ms < 5000, `forced planned switch took ${forced.ms} ms`);

    // 3. The hot switch: done in about a second; blue's copy of the state follows when blue is back.
    const issued = performance.now();
    const ackedAtSwitch = acked(producer).length;
    const hot = await admin<SwitchReport>(gw, 'POST', '/routes/orders/switch', { to: 'green', mode: 'hot', by: 'source-down test' });
    t.diagnostic(
      `hot switch with blue down: ${hot.ms} ms (report ${hot.body.durationMs} ms); state on ${hot.body.stateWritten.join(',')}, not yet on ${hot.body.stateNotWritten.map((f) => f.domain).join(',')}`,
    );
    assert.equal(hot.body.outcome, 'switched', hot.body.message);
    assert.ok(hot.ms < 5000, `hot switch took ${hot.ms} ms`);
    assert.deepEqual(hot.body.stateWritten, ['green']);
    assert.deepEqual(
      hot.body.stateNotWritten.map((f) => f.domain),
      ['blue'],
    );
    assert.match(hot.body.possibleLoss ?? '', /last replication lag seen/);
    t.diagnostic(`acks while blue was down before the switch: ${ackedAtSwitch - ackedAtKill}`);
    await eventually(async () => assert.ok(acked(producer!).length > ackedAtSwitch + 10, `no new acks on green\n${producer!.stderr.slice(-1500)}`), 30_000, 50);
    const flowing = Math.round(performance.now() - issued);
    t.diagnostic(`producer acknowledged again ${flowing} ms after the hot switch was issued`);
    assert.ok(flowing < 5000, `the producer needed ${flowing} ms to be acknowledged again`);
    assert.ok(producer.isRunning());

    // 4. Starting instances that reach no state topic (blue only, and blue is down).
    const onlyBlue = {
      domains: [domainFor(blue, 'blue')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl' as const }],
      stateTopic,
      adminToken: TOKEN,
      waitForReady: false,
      limits: { upstreamConnectTimeoutMs: 10_000 },
    };
    started = performance.now();
    await assert.rejects(startGateway({ ...onlyBlue, stateStartup: { mode: 'wait', timeoutMs: 3000 } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'TURNOUT_STATE_UNREADABLE');
      assert.match(err.message, /within 3000 ms.*gateway\.state\.startup\.mode: serve/s);
      return true;
    });
    const waitedMs = Math.round(performance.now() - started);
    t.diagnostic(`startup mode wait, deadline 3000 ms: failed after ${waitedMs} ms`);
    assert.ok(waitedMs < 8000, `start failed only after ${waitedMs} ms`);
    const serving = await startGateway({ ...onlyBlue, stateStartup: { mode: 'serve', timeoutMs: 1000 } });
    extra.push(serving);
    const ready = await admin<{ routes: { name: string; epoch: number | null; epochUnknown?: string }[] }>(serving, 'GET', '/ready');
    assert.equal(ready.body.routes[0].epoch, null);
    assert.match(ready.body.routes[0].epochUnknown ?? '', /no streaming domain's switch state topic has been read/);
    const refused = await admin<SwitchReport>(serving, 'POST', '/routes/orders/switch', { to: 'blue', force: true, mode: 'hot', by: 'source-down test' });
    assert.equal(refused.body.outcome, 'refused');
    assert.match(refused.body.message, /does not know route "orders"'s epoch/);
    await serving.stop();

    // 5. Blue comes back: the commit it missed is written there by the background retry.
    await bed.startBroker('sd-blue', BLUE_NODE);
    const back = performance.now();
    const plaintext = domainFor(blue, 'blue').kafkaCluster.bootstrapServers.find((b) => b.id === 'plaintext')!;
    const log = new StateLog({ domain: domainFor(blue, 'blue'), listener: plaintext, topic: stateTopic, log: silentLogger(), timeoutMs: 10_000 });
    try {
      await eventually(
        async () => {
          const route = (await log.readAll()).map((r) => decodeRecord(r.value)).filter((r) => r?.type === 'route' && r.route === 'orders');
          assert.ok(
            route.some((r) => r!.type === 'route' && r!.epoch === hot.body.epoch && r!.domain === 'green'),
            `blue's state topic has no commit of epoch ${hot.body.epoch} yet`,
          );
        },
        60_000,
        500,
      );
    } finally {
      log.close();
    }
    t.diagnostic(`blue's state topic had the commit ${Math.round(performance.now() - back)} ms after its broker was back`);
  });
});
