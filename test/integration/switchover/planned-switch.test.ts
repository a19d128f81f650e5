// A planned switch under a running producer and consumer: writes are fenced, MirrorMaker 2
// catches up, the group's offsets are installed on the destination, then the route flips.
// Every acknowledged record must be consumed, and the caught-up group must not re-read.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type ToolProcess, testBed } from '../../../src/testbed/index.ts';
import { turnoutCli } from '../../support/cli.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { eventually, jsonEvents } from '../../support/switchover/long-running.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'planned-switch-token';

const cli = turnoutCli(TOKEN);

const events = (p: ToolProcess) => jsonEvents(p.stdout);
const acked = (p: ToolProcess) =>
  events(p)
    .filter((e) => e.name === 'producer_send_success')
    .map((e) => ({ value: String(e.value), at: Number(e.timestamp) }));
const consumed = (p: ToolProcess) =>
  events(p)
    .filter((e) => e.name === 'record_data')
    .map((e) => String(e.value));

describe('planned switch (fence, catch-up, offsets, flip)', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const topic = uniqueName('ps-orders');
  const group = uniqueName('ps-app');
  let producer: ToolProcess | undefined;
  let consumer: ToolProcess | undefined;

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'ps-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'ps-green', brokers: 1, nodeIdBase: 501 }),
    ]);
    await bed.mirrorMaker({ name: 'ps-blue-to-green', source: 'ps-blue', target: 'ps-green', topics: 'ps-.*' });
    tools = await bed.tools();
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', brokerPortCount: 16, replication: { type: 'mirrormaker2', topics: null, groups: null } }],
      stateTopic: uniqueName('_turnout_state'),
      adminToken: TOKEN,
      switchover: { fenceTimeoutMs: 4000 },
    });
  });

  after(async () => {
    await Promise.all([producer?.stop(), consumer?.stop()]);
    await gw?.stop();
  });

  test('zero loss, and the caught-up group continues on green without re-reading', { timeout: 240_000 }, async (t) => {
    for (const c of [green, blue]) {
      const r = await tools.run(KafkaTool.Topics, [
        ...tools.connectionArgs(KafkaTool.Topics, c.bootstrap()),
        '--create',
        '--if-not-exists',
        '--topic',
        topic,
        '--partitions',
        '3',
        '--replication-factor',
        '1',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const bootstrap = gw.bootstrap.orders;
    const producerConfig = tools.saslClientConfig('alice', undefined, { retries: '2147483647', 'enable.idempotence': 'true' });
    const consumerConfig = tools.saslClientConfig('alice', undefined, { 'session.timeout.ms': '10000', 'auto.offset.reset': 'earliest' });
    consumer = tools.spawn(KafkaTool.VerifiableConsumer, [
      ...tools.connectionArgs(KafkaTool.VerifiableConsumer, bootstrap, consumerConfig),
      '--topic',
      topic,
      '--group-id',
      group,
      '--verbose',
      '--reset-policy',
      'earliest',
    ]);
    producer = tools.spawn(KafkaTool.VerifiableProducer, [
      ...tools.connectionArgs(KafkaTool.VerifiableProducer, bootstrap, producerConfig),
      '--topic',
      topic,
      '--throughput',
      '100',
      '--max-messages',
      '-1',
      '--acks',
      '-1',
    ]);
    await eventually(async () => assert.ok(acked(producer!).length >= 300, `${acked(producer!).length} acked\n${producer!.stderr.slice(-1000)}`), 60_000);
    await eventually(async () => assert.ok(consumed(consumer!).length >= 250), 60_000);

    // Preflight: the topic is on both sides, the group is listed with its translation.
    const pf = await cli('preflight', 'orders', '--to', 'green', '--admin', gw.adminUrl, '--json');
    assert.equal(pf.code, 0, pf.stdout + pf.stderr);
    const pfr = JSON.parse(pf.stdout) as { ok: boolean; topics: { topic: string; problem: string | null }[]; groups: { groupId: string }[] };
    assert.ok(
      pfr.topics.some((x) => x.topic === topic && x.problem === null),
      pf.stdout,
    );
    assert.ok(
      pfr.groups.some((x) => x.groupId === group),
      pf.stdout,
    );
    const table = await cli('preflight', 'orders', '--to', 'green', '--admin', gw.adminUrl, '--topics', 'ps-no-such-topic');
    assert.equal(table.code, 1, table.stdout + table.stderr);
    assert.match(table.stdout, /ps-no-such-topic\s.*not on the source/);

    // With replication stopped, the planned switch cannot catch up: it aborts within its budget,
    // writes resume on blue, and nothing is lost.
    const bed = await testBed();
    await bed.stopMirrorMaker('ps-blue-to-green');
    const refused = await cli('switch', 'orders', '--to', 'green', '--admin', gw.adminUrl);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /did not catch up within the fence budget/);
    assert.match(refused.stdout, /released/);
    const afterAbort = acked(producer).length;
    await eventually(async () => assert.ok(acked(producer!).length >= afterAbort + 100, 'the producer goes on after the abort'), 30_000);
    await bed.mirrorMaker({ name: 'ps-blue-to-green', source: 'ps-blue', target: 'ps-green', topics: 'ps-.*' });
    // As an operator would: wait until preflight says replication is close before switching.
    await eventually(async () => {
      const p = await cli('preflight', 'orders', '--to', 'green', '--admin', gw.adminUrl, '--max-lag', '100');
      assert.equal(p.code, 0, p.stdout + p.stderr);
    }, 90_000);

    const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green', by: 'planned-switch test' }),
    });
    const report = (await res.json()) as {
      outcome: string;
      mode: string;
      message: string;
      phases: { phase: string; ms: number; detail?: string }[];
      groups?: { groupId: string; installed: boolean; error?: string }[];
    };
    t.diagnostic(report.phases.map((p) => `${p.ms} ms ${p.phase} ${p.detail ?? ''}`).join('\n'));
    assert.equal(res.status, 200, JSON.stringify(report, null, 2));
    assert.equal(report.outcome, 'switched');
    assert.equal(report.mode, 'planned');
    const phases = report.phases.map((p) => p.phase);
    for (const p of ['fenced', 'snapshot', 'caught up', 'offsets installed', 'flipped']) assert.ok(phases.includes(p), `phase ${p} in ${phases.join(', ')}`);
    const g = report.groups?.find((x) => x.groupId === group);
    assert.ok(g?.installed, `group ${group} installed: ${JSON.stringify(report.groups)}`);

    const atSwitch = acked(producer).length;
    await eventually(async () => assert.ok(acked(producer!).length >= atSwitch + 300), 60_000);
    const all = acked(producer);
    await eventually(async () => {
      const seen = new Set(consumed(consumer!));
      const lost = all.filter((a) => !seen.has(a.value));
      assert.equal(
        lost.length,
        0,
        `not consumed: ${lost.length} (e.g. ${lost
          .slice(0, 5)
          .map((a) => a.value)
          .join(', ')})`,
      );
    }, 90_000);
    const values = consumed(consumer);
    const duplicates = values.length - new Set(values).size;
    let stall = 0;
    for (let i = 1; i < all.length; i++) stall = Math.max(stall, all[i].at - all[i - 1].at);
    t.diagnostic(`acked ${all.length}, consumed ${values.length}, duplicates ${duplicates}, longest gap between acks ${stall} ms`);
    assert.deepEqual(
      events(producer).filter((e) => e.name === 'producer_send_error'),
      [],
    );
    // The group was caught up at the cut: its offsets moved exactly, so it re-reads nothing.
    assert.equal(duplicates, 0, `the caught-up group re-read ${duplicates} record(s) after the switch`);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /turnout_switch_phase_seconds_count\{route="orders",mode="planned",phase="flipped"\} 1/);
    assert.match(metrics, /turnout_switches_total\{route="orders",outcome="refused"\} 1/);
    assert.match(metrics, /turnout_route_fenced\{route="orders"\} 0/);
  });
});
