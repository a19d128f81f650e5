// What producers see while a planned switch's fence holds their writes, with the default fence
// budget (gateway.switchover.fenceTimeoutMs, 10 s) used up: no replication runs, so the switch
// waits for a catch-up that never comes, then aborts and releases the held writes to the source.
// Two Java producers (Kafka's VerifiableProducer) write through the gateway meanwhile:
//   - with the producer's own defaults (request.timeout.ms 30 s, retries until delivery.timeout.ms):
//     a pause, no error;
//   - with Kafka's console producer's defaults (ConsoleProducer.java: request.timeout.ms 1500,
//     retries 3, retry.backoff.ms 100, linger.ms 1000): its requests time out during the fence and
//     its retries can run out, so some sends may fail.
// Either way every acknowledged record is on the source: nothing acknowledged is lost.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SwitchReport } from '../../../src/control/switch-controller.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type ToolProcess, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { eventually, jsonEvents } from '../../support/switchover/long-running.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'fence-clients-token';

const events = (p: ToolProcess) => jsonEvents(p.stdout);
const acked = (p: ToolProcess) =>
  events(p)
    .filter((e) => e.name === 'producer_send_success')
    .map((e) => String(e.value));
const failed = (p: ToolProcess) => events(p).filter((e) => e.name === 'producer_send_error');

describe("producers during a planned switch's fence of the default budget", () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let tools: KafkaTools;
  let gw: TestGateway;
  const topic = uniqueName('fc-orders');
  const producers: ToolProcess[] = [];

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'fc-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'fc-green', brokers: 1, nodeIdBase: 301 }),
    ]);
    tools = await bed.tools();
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', replication: { type: 'mirrormaker2', topics: 'fc-.*', groups: null } }],
      stateTopic: uniqueName('_turnout_state'),
      adminToken: TOKEN,
    });
  });

  after(async () => {
    await Promise.all(producers.map((p) => p.stop()));
    await gw?.stop();
  });

  test('Java defaults pause without an error; console-producer timeouts may fail sends; every acknowledged record is on the source', {
    timeout: 180_000,
  }, async (t) => {
    for (const c of [blue, green]) {
      const r = await tools.run(KafkaTool.Topics, [
        ...tools.connectionArgs(KafkaTool.Topics, c.bootstrap()),
        '--create',
        '--if-not-exists',
        '--topic',
        topic,
        '--partitions',
        '1',
        '--replication-factor',
        '1',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const spawn = (prefix: string, extra: Record<string, string>) => {
      const p = tools.spawn(KafkaTool.VerifiableProducer, [
        ...tools.connectionArgs(KafkaTool.VerifiableProducer, gw.bootstrap.orders, tools.saslClientConfig('alice', undefined, extra)),
        '--topic',
        topic,
        '--throughput',
        '20',
        '--max-messages',
        '-1',
        '--acks',
        '-1',
        '--value-prefix',
        prefix,
      ]);
      producers.push(p);
      return p;
    };
    // VerifiableProducer sets retries=0 unless told: restore each profile's own value.
    const javaDefaults = spawn('1', { retries: '2147483647', 'enable.idempotence': 'true' });
    const consoleDefaults = spawn('2', { 'request.timeout.ms': '1500', retries: '3', 'retry.backoff.ms': '100', 'linger.ms': '1000' });
    await eventually(async () => {
      for (const p of producers) assert.ok(acked(p).length >= 40, `${acked(p).length} acked\n${p.stderr.slice(-1000)}`);
    }, 60_000);

    const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green', by: 'fence-clients test' }),
    });
    const report = (await res.json()) as SwitchReport;
    const fenced = report.phases.find((p) => p.phase === 'fenced')?.ms ?? 0;
    const released = report.phases.find((p) => p.phase === 'released')?.ms ?? report.durationMs;
    t.diagnostic(`planned switch ${report.outcome} after ${report.durationMs} ms; writes held for ${released - fenced} ms`);
    assert.equal(report.outcome, 'refused', report.message);
    assert.match(report.message, /did not catch up within the fence budget of 10000 ms/);
    assert.match(report.message, /writes continue on "blue"; nothing was lost/, 'blue answers: here the comfort is true');

    // Both keep producing to blue afterwards.
    const after = producers.map((p) => acked(p).length);
    await eventually(async () => {
      producers.forEach((p, i) => {
        assert.ok(acked(p).length >= after[i] + 40, `${acked(p).length - after[i]} acked since the abort\n${p.stderr.slice(-1000)}`);
      });
    }, 60_000);

    await Promise.all(producers.map((p) => p.stop()));
    const javaErrors = failed(javaDefaults);
    const consoleErrors = failed(consoleDefaults);
    const byException = new Map<string, number>();
    for (const e of consoleErrors) byException.set(String(e.exception), (byException.get(String(e.exception)) ?? 0) + 1);
    t.diagnostic(
      `send errors: Java defaults ${javaErrors.length}, console-producer defaults ${consoleErrors.length} (${[...byException].map(([k, n]) => `${n} ${k}`).join(', ')})`,
    );
    assert.deepEqual(javaErrors, [], "a fence within the default budget is only a pause for Java's defaults");
    // Whether the console-producer profile's sends fail depends on where its requests fall in the
    // fence (one run: 41 failed sends; another: none): what it sees is reported, not asserted. What
    // holds either way is below: nothing acknowledged is lost.

    // Every acknowledged record of both is on blue; a failed send may or may not be there (never acknowledged).
    const ends = await tools.endOffsets(blue.bootstrap(), topic);
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    const read = await tools.run(
      KafkaTool.ConsoleConsumer,
      [
        ...tools.connectionArgs(KafkaTool.ConsoleConsumer, blue.bootstrap()),
        '--topic',
        topic,
        '--from-beginning',
        '--max-messages',
        String(total),
        '--timeout-ms',
        '20000',
      ],
      { timeoutMs: 60_000 },
    );
    const onBlue = new Set(read.stdout.split('\n').filter(Boolean));
    for (const p of producers) {
      const missing = acked(p).filter((v) => !onBlue.has(v));
      assert.deepEqual(missing, [], 'acknowledged records missing on blue');
    }
    const failedOnBlue = consoleErrors.filter((e) => onBlue.has(String(e.value))).length;
    t.diagnostic(
      `of the console-producer profile's failed sends, ${failedOnBlue} are on blue nevertheless (sent again by an attempt the client had given up on)`,
    );
  });
});
