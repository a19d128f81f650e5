// Which checks of `npm run verify:switchover` decide its exit code (`--verdicts`), on fabricated
// planned runs: under `delivery` a lost record, a switch that did not switch, a crashed pair, a
// failed send or a re-read by a caught-up group of a pair without a known gap fails the run, while a
// huge stall or the known gaps' re-reads do not; under `all` every target fails it. The report and
// the printed summary name the verdicts that decided.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckId, type Environment, KNOWN_REREAD_GAPS, renderVerificationReport, VerdictSet, verdicts } from '../../../scripts/verify-switchover/report.ts';
import type { ClientResult, ScenarioResult, SwitchResult } from '../../../src/scenario/switchover.ts';
import { describeCluster } from '../../../src/testbed/types.ts';

const SWITCHES = 2;
const summary = (p99: number) => ({ n: SWITCHES, p50: p99 / 2, p99, max: p99 });

function pair(name: string, over: Partial<ClientResult> = {}): ClientResult {
  return {
    name,
    description: name,
    topic: `vs-${name}`,
    group: `vs-${name}-group`,
    acked: 100,
    consumed: 100,
    distinctConsumed: 100,
    lost: 0,
    lostSample: [],
    lostBySwitch: [0, 0, 0],
    duplicates: 0,
    duplicatesBySwitch: [0, 0, 0],
    repeatGapMs: summary(0),
    repeatAfterSwitchMs: summary(0),
    duplicateSample: [],
    sendErrors: 0,
    producerStallMs: [300, 300],
    consumerStallMs: [400, 400],
    producerStall: summary(300),
    consumerStall: summary(400),
    steadyProducerGapMs: 40,
    steadyConsumerGapMs: 40,
    groupAtSwitch: [
      { installed: true, caughtUp: true },
      { installed: true, caughtUp: false },
    ],
    crashed: false,
    problems: [],
    counters: {},
    ...over,
  };
}

function planned(clients: ClientResult[], over: { outcomes?: string[]; producerStallP99?: number } = {}): ScenarioResult {
  const outcomes = over.outcomes ?? ['switched', 'switched'];
  const switches: SwitchResult[] = outcomes.map((outcome, i) => ({
    index: i + 1,
    from: i % 2 ? 'green' : 'blue',
    to: i % 2 ? 'blue' : 'green',
    requestedAt: 1_000 * (i + 1),
    answeredAt: 1_000 * (i + 1) + 200,
    httpStatus: 200,
    outcome,
    mode: 'planned',
    durationMs: 200,
    phases: [],
    message: '',
    groups: [],
    sourceEnds: new Map(),
  }));
  const sum = (f: (c: ClientResult) => number) => clients.reduce((n, c) => n + f(c), 0);
  return {
    mode: 'planned',
    route: 'orders',
    bootstrap: '127.0.0.1:1',
    domains: ['blue', 'green'],
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 60_000,
    pauseMs: 3_000,
    switches,
    clients,
    settled: true,
    settleMs: 10,
    totals: {
      acked: sum((c) => c.acked),
      consumed: sum((c) => c.consumed),
      lost: sum((c) => c.lost),
      duplicates: sum((c) => c.duplicates),
      sendErrors: sum((c) => c.sendErrors),
      crashed: clients.filter((c) => c.crashed).length,
      switched: outcomes.filter((o) => o === 'switched').length,
      switchDuration: summary(200),
      producerStall: summary(over.producerStallP99 ?? 300),
      consumerStall: summary(400),
    },
  };
}

const JAVA_MANUAL = 'Java idempotent / manual commit';
const clean = () => [pair(JAVA_MANUAL), pair('Java non-idempotent / auto-commit'), pair('librdkafka'), pair('kafkajs')];
const failing = (r: ScenarioResult, set: VerdictSet) =>
  verdicts(r, set)
    .checks.filter((c) => c.verdict && !c.met)
    .map((c) => c.id);

describe('verify:switchover verdicts', () => {
  test('a clean planned run meets the verdicts under both sets', () => {
    for (const set of Object.values(VerdictSet)) {
      const v = verdicts(planned(clean()), set);
      assert.equal(v.met, true, set);
      assert.deepEqual(failing(planned(clean()), set), [], set);
    }
  });

  test('under delivery, a lost record, a switch that did not switch, a crashed pair or a failed send fails the run', () => {
    const lost = planned([pair('kafkajs', { lost: 1, lostSample: ['k-17'] }), ...clean().slice(1)]);
    assert.equal(verdicts(lost, VerdictSet.delivery).met, false);
    assert.deepEqual(failing(lost, VerdictSet.delivery), [CheckId.lost]);
    assert.deepEqual(failing(planned(clean(), { outcomes: ['switched', 'failed'] }), VerdictSet.delivery), [CheckId.switched]);
    assert.deepEqual(failing(planned([pair('librdkafka', { crashed: true }), ...clean().slice(1)]), VerdictSet.delivery), [CheckId.crashed]);
    assert.deepEqual(failing(planned([pair('librdkafka', { sendErrors: 3 }), ...clean().slice(1)]), VerdictSet.delivery), [CheckId.sendErrors]);
  });

  test('a producer stall p99 of a minute is reported under delivery and fails the run under all', () => {
    const r = planned(clean(), { producerStallP99: 60_000 });
    const stall = verdicts(r, VerdictSet.delivery).checks.find((c) => c.id === CheckId.producerStall);
    assert.deepEqual([stall?.met, stall?.verdict], [false, false]);
    assert.equal(verdicts(r, VerdictSet.delivery).met, true);
    assert.deepEqual(failing(r, VerdictSet.all), [CheckId.producerStall]);
  });

  test('re-reads by a caught-up group fail the run under delivery unless the pair is a known gap, whose re-reads are reported', () => {
    assert.ok(KNOWN_REREAD_GAPS[JAVA_MANUAL] !== undefined);
    // Switch 1 (window 1) is the one at which every fabricated group was caught up.
    const kafkajs = planned([...clean().slice(0, 3), pair('kafkajs', { duplicates: 5, duplicatesBySwitch: [0, 5, 0] })]);
    assert.deepEqual(failing(kafkajs, VerdictSet.delivery), [CheckId.caughtUpReReads]);
    const java = planned([pair(JAVA_MANUAL, { duplicates: 18, duplicatesBySwitch: [0, 18, 0] }), ...clean().slice(1)]);
    assert.deepEqual(failing(java, VerdictSet.delivery), []);
    const known = verdicts(java, VerdictSet.delivery).checks.find((c) => c.id === CheckId.knownGapReReads);
    assert.deepEqual([known?.met, known?.verdict], [false, false]);
    assert.match(known?.measured ?? '', /^18 \(Java idempotent \/ manual commit: 18 over 1 caught-up switch/);
    assert.deepEqual(failing(java, VerdictSet.all), [CheckId.caughtUpReReads]);
    // Re-reads at a switch where the group was not caught up are reported under both sets.
    const notCaughtUp = planned([...clean().slice(0, 3), pair('kafkajs', { duplicates: 7, duplicatesBySwitch: [0, 0, 7] })]);
    assert.deepEqual([failing(notCaughtUp, VerdictSet.delivery), failing(notCaughtUp, VerdictSet.all)], [[], []]);
  });

  test('the report and the printed summary say which verdicts decided the exit code', () => {
    const env: Environment = {
      cpuModel: 'cpu',
      cpus: 2,
      memoryGiB: 4,
      os: 'os',
      kernel: 'kernel',
      java: 'java',
      node: 'v24',
      kafkajs: '2',
      librdkafka: '2',
      confluentKafkaPython: '2',
      platformatic: '1',
      franzGo: '1',
      sarama: '1',
      gitCommit: 'abc',
    };
    const cluster = (name: string, nodeId: number) =>
      describeCluster({
        name,
        version: '4.1.0',
        clusterId: name,
        logDir: '/tmp/x',
        startupMs: 1,
        brokers: [
          { nodeId, host: '127.0.0.1', plaintextPort: 9000 + nodeId, saslPort: 9100 + nodeId, controllerPort: 9200 + nodeId, running: true, dir: '/tmp/x' },
        ],
      });
    const render = (r: ScenarioResult, set: VerdictSet) =>
      renderVerificationReport({
        env,
        command: 'npm run verify:switchover',
        runs: [{ result: r, clientLogs: [], gatewayWarnings: [] }],
        gatewayLog: { file: 'gateway.log', lines: 0, warnings: [] },
        runDir: '/tmp/x',
        durationMs: 60_000,
        kafkaVersion: '4.1.0',
        blue: cluster('vs-blue', 1),
        green: cluster('vs-green', 401),
        load: [1],
        verdictSet: set,
        stateTopic: '_turnout_state-x',
        sharedBed: true,
      });
    const stalled = render(planned(clean(), { producerStallP99: 60_000 }), VerdictSet.delivery);
    assert.equal(stalled.verdictsMet, true);
    assert.match(
      stalled.summary,
      /^verdicts \(--verdicts delivery\) deciding the exit code: lost, caught-up re-reads, switched, crashed, send errors; reported only: caught-up re-reads of known gaps, producer stall p99$/m,
    );
    assert.match(stalled.summary, /^reported NOT MET producer stall p99/m);
    assert.match(stalled.summary, /^every verdict met: exit 0$/m);
    assert.match(stalled.markdown, /^\*\*Verdicts met\*\* \(planned run; `--verdicts delivery`: .*exit code 0\)\.$/m);
    assert.match(stalled.markdown, /^\| producer stall p99 over all pairs and switches \| .* \| \*\*NOT met\*\* \| no, reported only \|$/m);
    assert.match(stalled.markdown, /vs-blue \(node id 1, SASL 127\.0\.0\.1:9101\)/);
    const lost = render(planned([pair('kafkajs', { lost: 2 }), ...clean().slice(1)]), VerdictSet.delivery);
    assert.equal(lost.verdictsMet, false);
    assert.match(lost.summary, /^verdicts NOT met: lost: exit 1$/m);
    const all = render(planned(clean(), { producerStallP99: 60_000 }), VerdictSet.all);
    assert.equal(all.verdictsMet, false);
    assert.match(
      all.summary,
      /^verdicts \(--verdicts all\) deciding the exit code: lost, caught-up re-reads, producer stall p99, switched, crashed, send errors$/m,
    );
    assert.match(all.markdown, /^\*\*Verdicts NOT met\*\* \(planned run; `--verdicts all`: every target decides the exit code; exit code 1\)\.$/m);
  });
});
