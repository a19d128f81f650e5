// The client matrix of issue 13: every client family in its DEFAULT configuration and with the
// settings production teams commonly turn on (test/support/switchover/client-matrix.ts), each as
// a producer + group consumer on a topic of its own, through the gateway while its route is
// switched blue -> green -> blue, checking Kafka's delivery rule. Plus the two-producer
// producer-id collision (issue 13, finding 1).
//
// The gateway is the production default: `turnout start` as a process of its own, with a YAML file
// and workers: auto (two worker processes here), so no client shares its process or event loop.
// Each cell has a route of its own (same gateway, same clusters), so that a cell whose client
// blocks a planned switch (compressed batches, an all-topics metadata request) fails alone instead
// of hiding what the others do. The cells run concurrently; the gateway performs their switches
// one after the other. The planned run asserts, per cell: both switches switched, no acknowledged
// record lost, no fatal client error (the client stayed usable, its process did not exit), no
// send that failed for good (the README: a planned switch pauses writes, never fails them), and
// the producer and the consumer still working after the switch back. The hot run (fresh clients,
// hot switches blue -> green -> blue) asserts the switches, no fatal error and still working; its
// losses and failed sends are reported, not asserted: a hot switch does not wait for replication
// and is the baseline, not the zero-loss promise.
//
// Finding 2 (idempotent producers die at a switch BACK) is the matrix's librdkafka
// enable.idempotence=true and sarama idempotent cells; findings 3-6 show up as the franz-go,
// KIP-848, compression and sarama cells failing. TURNOUT_MATRIX_CELLS=id,id runs only those cells.
//
// WHAT IT FOUND on 8e2a57a, before the issue 13 fixes (17 of 29 tests failed; Kafka 4.3.1,
// confluent-kafka 2.16.1 / librdkafka 2.16.0, franz-go v1.22.3, sarama v1.62.0):
// - collision: producer A kept blue's id 27, green gave B id 27; 100 records acknowledged, 50 in
//   the partition, each of B's 50 acknowledged at the offset of A's record with the same sequence.
// - Java and librdkafka group.protocol=consumer: ConsumerGroupHeartbeat GROUP_ID_NOT_FOUND at the
//   first switch; Java's member "transitioned to fatal state" and VerifiableConsumer exited,
//   librdkafka's consumer got _FATAL; ~240 acknowledged records never consumed (planned and hot).
// - librdkafka enable.idempotence=true: fatal OUT_OF_ORDER_SEQUENCE_NUMBER ("sequence
//   desynchronization with broker 1") at the switch back; no record acknowledged after it.
// - librdkafka lz4 / zstd: every planned switch failed (HTTP 500, "record batch at offset 0 is
//   compressed (lz4); only uncompressed batches are supported"); hot switches fine.
// - franz-go (both): "metadata has a new ID for a topic we already hold ... we do not adopt the
//   new ID"; every send after the first planned switch failed with UNKNOWN_TOPIC_ID (~230), offset
//   commits failed with error 100; franz-go KIP-848 also got GROUP_ID_NOT_FOUND (it retries).
// - sarama (both): every planned switch refused (HTTP 409, "vs-green.heartbeats missing on the
//   destination": its all-topics metadata marked MirrorMaker's topic as in use); hot switches
//   fine but for one "out of order sequence number" send error of the idempotent producer at the
//   switch back (reported, not asserted, in the hot run).
// - @platformatic/kafka: the consumer's message stream closed at the first switch ("fetch failed
//   2 times. [Connection closed; Cannot find broker with node id 1]"); ~180 records never consumed.
// - Java defaults, librdkafka defaults, kafkajs: passed.
// On a302271 every test passes.
import assert from 'node:assert/strict';

/**
 * Cells whose HOT-switch failures are reported, not asserted, with why. @platformatic/kafka 2.12
 * gives up its consumer after 3 failed attempts of one operation ("listCommits failed 4 times:
 * Cannot get a connection: the broker is not available in the current cluster metadata"): at a
 * hot switch the brokers' node ids change (blue 1, green 401-403 here) while it keeps the old
 * group coordinator's id, which it only forgets on a network error, and nothing waits for the
 * group to settle. "fetch failed 4 times: Connection closed; The fetch session epoch is invalid"
 * was the other way it failed (in a planned run too, once in ~7 CI runs): its retried fetch
 * repeated the session and epoch of the fetch loop already running on the new node; the gateway
 * now answers such a repeat itself (test/integration/switchover/data-path-at-switches.test.ts).
 * Virtual broker ids per route (the same ids on every cluster) would remove the cause; not built
 * yet.
 */
const HOT_SWITCH_KNOWN_LIMITS: ReadonlyMap<string, string> = new Map([
  ['platformatic', '@platformatic/kafka gives up after 3 retries when node ids change at a hot switch'],
]);

import { after, before, describe, type TestContext, test } from 'node:test';
import { runSwitchoverScenario, type ScenarioMode, type ScenarioResult } from '../../../src/scenario/switchover.ts';
import { VerifiablePair } from '../../../src/scenario/verifiable-clients.ts';
import { DEFAULT_KAFKA_VERSION } from '../../../src/testbed/versions.ts';
import { type ClientTarget, stopAllClients } from '../../support/clients/common.ts';
import { readUncommitted } from '../../support/clients/java.ts';
import { domainFor } from '../../support/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway-process.ts';
import {
  cellNames,
  fatalErrorsOf,
  type MatrixCell,
  type MatrixPair,
  selectedCells,
  type TwoWayClusters,
  twoWayClusters,
} from '../../support/switchover/client-matrix.ts';
import { startCollision } from '../../support/switchover/go-clients.ts';
import { type ClientEvent, warningLines } from '../../support/switchover/long-running.ts';
import { PlatformaticPair } from '../../support/switchover/platformatic-clients.ts';
import { ProcessPair } from '../../support/switchover/process-pair.ts';
import { createScenarioTopics, KafkajsPair } from '../../support/switchover/scenario-clients.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'client-matrix-token';
const ALICE = { username: 'alice', password: 'alice-secret' } as const;
const COLLISION_ROUTE = 'm-collision';
/** Records per second of every producer: 13 pairs, their JVMs and the clusters share 2 cores. */
const RATE = 20;
const routeOf = (cell: MatrixCell) => `m-${cell.id}`;
/** Every cell, or those named in TURNOUT_MATRIX_CELLS (comma-separated ids). */
const CELLS = selectedCells();

interface CellRun {
  readonly cell: MatrixCell;
  readonly pair: MatrixPair;
  readonly result?: ScenarioResult;
  /** The scenario failed before its first switch (a client died or never got going). */
  readonly error?: string;
}

interface Check {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The client's own log lines at warning level or above (@platformatic/kafka: its event log), for diagnostics. */
function clientWarnings(pair: MatrixPair): string[] {
  if (pair instanceof PlatformaticPair)
    return pair
      .log()
      .split('\n')
      .filter((l) => l !== '');
  if (pair instanceof VerifiablePair) {
    const l = pair.logs();
    return [...warningLines(l.producer).map((w) => `producer: ${w}`), ...warningLines(l.consumer).map((w) => `consumer: ${w}`)];
  }
  if (pair instanceof KafkajsPair) return pair.clients.warnings();
  if (pair instanceof ProcessPair) return warningLines(pair.log());
  return [];
}

const acksAfter = (pair: MatrixPair, at: number) => pair.acked().filter((s) => s.at > at).length;
const consumedAfter = (pair: MatrixPair, at: number) => pair.consumed().filter((s) => s.at > at).length;

/** What a cell's run shows; `strict`: the planned run's checks (loss and failed sends asserted too). */
function checksOf(run: CellRun, strict: boolean): Check[] {
  const { pair, result } = run;
  const fatal = fatalErrorsOf(pair);
  if (result === undefined) {
    return [
      { what: 'reached the first switch', ok: false, detail: run.error ?? 'no result' },
      { what: 'no fatal client error', ok: fatal.length === 0, detail: fatal.join(' | ') },
    ];
  }
  const c = result.clients[0];
  const last = result.switches.at(-1);
  const afterLast = last?.answeredAt ?? Infinity;
  const checks: Check[] = [
    {
      what: 'every switch switched',
      ok: result.switches.every((s) => s.outcome === 'switched'),
      detail: result.switches
        .filter((s) => s.outcome !== 'switched')
        .map((s) => `${s.from} -> ${s.to}: ${s.outcome} (HTTP ${s.httpStatus}) ${s.message}`)
        .join(' | '),
    },
    {
      what: 'no fatal client error, the client did not stop by itself',
      ok: fatal.length === 0 && !c.crashed,
      detail: [...fatal, ...(c.crashed && fatal.length === 0 ? [`stopped by itself; its log ends: ${clientWarnings(pair).slice(-3).join(' | ')}`] : [])]
        .join(' | ')
        .slice(0, 3000),
    },
    { what: 'records acknowledged after the last switch', ok: acksAfter(pair, afterLast) > 0, detail: `${acksAfter(pair, afterLast)} of ${c.acked}` },
    { what: 'records consumed after the last switch', ok: consumedAfter(pair, afterLast) > 0, detail: `${consumedAfter(pair, afterLast)} of ${c.consumed}` },
  ];
  if (strict) {
    checks.push(
      {
        what: 'no acknowledged record lost',
        ok: c.lost === 0,
        detail: `${c.lost} of ${c.acked} acknowledged never consumed (by switch window ${c.lostBySwitch.join(',')}), e.g. ${c.lostSample.slice(0, 5).join(', ')}`,
      },
      {
        what: 'no send failed for good',
        ok: c.sendErrors === 0,
        detail: `${c.sendErrors} failed: ${c.problems
          .filter((p) => /send/.test(p))
          .join(' | ')
          .slice(0, 1500)}`,
      },
    );
  }
  return checks;
}

function reportCell(t: TestContext, run: CellRun): void {
  const { cell, pair, result } = run;
  if (result === undefined) {
    t.diagnostic(`${cell.id}: no switch happened: ${(run.error ?? '').slice(0, 2500)}`);
  } else {
    const c = result.clients[0];
    t.diagnostic(
      `${cell.id} (${c.description}): acked ${c.acked}, consumed ${c.consumed} (${c.distinctConsumed} distinct), lost ${c.lost}, duplicates ${c.duplicates}, send errors ${c.sendErrors}, crashed ${c.crashed}; settled ${result.settled}`,
    );
    for (const s of result.switches) {
      t.diagnostic(
        `${cell.id}:   ${result.mode} switch ${s.index} ${s.from} -> ${s.to}: ${s.outcome} in ${s.durationMs} ms${s.outcome === 'switched' ? '' : `: ${s.message.slice(0, 600)}`}`,
      );
    }
    t.diagnostic(`${cell.id}:   counters ${JSON.stringify(c.counters)}`);
    for (const p of c.problems) t.diagnostic(`${cell.id}:   problem: ${p.slice(0, 1500)}`);
  }
  // One line per kind of warning (numbers aside), with how often it came.
  const warnings = clientWarnings(pair);
  const kinds = new Map<string, { line: string; n: number }>();
  for (const line of warnings) {
    const key = line.replace(/\d+/g, '#');
    const k = kinds.get(key);
    if (k) k.n++;
    else kinds.set(key, { line, n: 1 });
  }
  t.diagnostic(`${cell.id}:   client log, warnings and errors: ${warnings.length} line(s), ${kinds.size} kind(s)`);
  for (const { line, n } of [...kinds.values()].slice(0, 15)) t.diagnostic(`${cell.id}:     ${n > 1 ? `(x${n}) ` : ''}${line.slice(0, 400)}`);
}

describe('client matrix: every client, default and common settings, through planned and hot switches', () => {
  let bed: TwoWayClusters;
  let gw: GatewayProcess;
  const run = uniqueName('cm');

  before(async () => {
    bed = await twoWayClusters();
    // The production default: `turnout start` with a YAML file and workers: auto (2 here).
    const replication = { type: 'mirrormaker2', topics: null, groups: null } as const;
    gw = await startGatewayProcess({
      domains: [domainFor(bed.blue, 'blue'), domainFor(bed.green, 'green')],
      routes: [...CELLS.map(routeOf), COLLISION_ROUTE].map((name) => ({ name, domain: 'blue', listener: 'sasl' as const, brokerPortCount: 16, replication })),
      stateTopic: `_turnout_state-${run}`,
      adminToken: TOKEN,
    });
    const workers = await gw.workers();
    assert.ok(workers.length >= 2, `workers: auto started ${workers.length} worker process(es)`);
  });

  after(async () => {
    await stopAllClients();
    await gw?.stop();
  });

  const target = (route: string): ClientTarget => ({ bootstrap: gw.bootstrap[route], sasl: ALICE });

  /** Every cell on its own route, concurrently: `switches` switches of `mode`, blue -> green -> ... */
  async function runMatrix(t: TestContext, mode: ScenarioMode, switches: number): Promise<CellRun[]> {
    const runs = await Promise.all(
      CELLS.map(async (cell): Promise<CellRun> => {
        const route = routeOf(cell);
        const names = cellNames(cell, 'vs', `${run}-${mode}`);
        await createScenarioTopics([bed.blue, bed.green], [names.topic]);
        const pair = cell.make({ tools: bed.tools, target: target(route), ...names, rate: RATE });
        try {
          const result = await runSwitchoverScenario({
            adminUrl: gw.adminUrl,
            token: TOKEN,
            route,
            bootstrap: gw.bootstrap[route],
            domains: ['blue', 'green'],
            clients: [pair],
            switches,
            mode,
            pauseMs: 6_000,
            warmupRecords: 30,
            warmupTimeoutMs: 120_000,
            settleTimeoutMs: 40_000,
            by: `client-matrix test (${cell.id})`,
            log: (line) => t.diagnostic(`${cell.id}: ${line}`),
          });
          return { cell, pair, result };
        } catch (err) {
          return { cell, pair, error: (err as Error).message };
        }
      }),
    );
    t.diagnostic('| cell | switches | acked | lost | send errors | fatal | acked / consumed after the last switch |');
    for (const r of runs) {
      const c = r.result?.clients[0];
      const afterLast = r.result?.switches.at(-1)?.answeredAt ?? Infinity;
      t.diagnostic(
        `| ${r.cell.id} | ${r.result?.switches.map((s) => s.outcome).join(', ') ?? 'none'} | ${c?.acked ?? '-'} | ${c?.lost ?? '-'} | ${c?.sendErrors ?? '-'} | ${fatalErrorsOf(r.pair).length + (c?.crashed ? 1 : 0)} | ${acksAfter(r.pair, afterLast)} / ${consumedAfter(r.pair, afterLast)} |`,
      );
    }
    for (const r of runs) reportCell(t, r);
    const warnings = gw.logEntries().filter((e) => e.level === 'warn' || e.level === 'error');
    t.diagnostic(`gateway warnings and errors: ${warnings.length}`);
    for (const w of warnings.slice(-15))
      t.diagnostic(
        `  ${w.level} ${w.msg} ${JSON.stringify({ ...w, level: undefined, msg: undefined, time: undefined, pid: undefined, hostname: undefined }).slice(0, 300)}`,
      );
    return runs;
  }

  async function assertCells(t: TestContext, runs: readonly CellRun[], strict: boolean): Promise<void> {
    for (const r of runs) {
      await t.test(r.cell.label, (tt) => {
        const failed = checksOf(r, strict)
          .filter((c) => !c.ok)
          .map((c) => `${c.what}: ${c.detail}`);
        const known = strict ? undefined : HOT_SWITCH_KNOWN_LIMITS.get(r.cell.id);
        if (known !== undefined && failed.length > 0) {
          // Reported, not asserted: see HOT_SWITCH_KNOWN_LIMITS. The planned run asserts this cell in full.
          // Marked todo, so that the runner shows it as a known gap (a test that asserts nothing fails).
          tt.todo(`KNOWN LIMIT (${known}): ${failed.join('; ')}`);
          return;
        }
        assert.deepEqual(failed, [], `${r.cell.label} (route ${routeOf(r.cell)})`);
      });
    }
  }

  test('planned switches blue -> green -> blue: per client, 0 acknowledged records lost, 0 fatal errors, 0 failed sends, still producing and consuming', {
    timeout: 480_000,
  }, async (t) => {
    const runs = await runMatrix(t, 'planned', 2);
    await assertCells(t, runs, true);
  });

  test('hot switches blue -> green -> blue: per client, 0 fatal errors, still producing and consuming (losses reported only)', {
    timeout: 420_000,
  }, async (t) => {
    const runs = await runMatrix(t, 'hot', 2);
    await assertCells(t, runs, false);
  });

  test('producer-id collision: an idempotent producer connected before a planned switch and one connected after it write one partition; every acknowledged record is in it', {
    timeout: 180_000,
  }, async (t) => {
    const topic = `vs-collision-${run}`;
    await createScenarioTopics([bed.blue, bed.green], [topic], 1);
    const c = await startCollision(target(COLLISION_ROUTE), topic, { records: 50, align: { blue: bed.blue.bootstrap(), green: bed.green.bootstrap() } });
    await c.waitFor('producer A has its producer id', (ev) => ev.some((e) => e.ready === true), 60_000);
    const res = await fetch(`${gw.adminUrl}/routes/${COLLISION_ROUTE}/switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green', by: 'client-matrix test (collision)' }),
    });
    const report = (await res.json()) as { outcome?: string; message?: string };
    assert.equal(report.outcome, 'switched', JSON.stringify(report));
    c.send('switched');
    const done = await c.waitFor('both producers done', (ev) => ev.find((e) => e.done === true), 120_000);
    await c.stop();
    const ev = c.events();
    const pick = (f: (e: ClientEvent) => boolean) => ev.filter(f).map((e) => JSON.stringify(e));
    t.diagnostic(
      `alignment and producer ids: ${pick((e) => e.aligned !== undefined || e.alignedAfterSwitch !== undefined || (e.producer !== undefined && e.ack === undefined && e.sendError === undefined)).join(' ')}`,
    );
    t.diagnostic(`done: ${JSON.stringify(done)}`);
    const acked = ev.filter((e) => typeof e.ack === 'string') as ClientEvent[];
    const sendErrors = ev.filter((e) => e.sendError !== undefined);
    for (const e of sendErrors.slice(0, 5)) t.diagnostic(`send error: ${JSON.stringify(e)}`);
    // Precondition: when producer A's id is one green's allocator can hand out (the gateway passed
    // blue's id on as it was), green was brought to it, so that B gets the same id from green.
    const aligned = ev.find((e) => e.alignedAfterSwitch !== undefined)?.alignedAfterSwitch as { met?: boolean; applicable?: boolean } | undefined;
    assert.ok(
      aligned !== undefined && (aligned.met === true || aligned.applicable === false),
      `precondition: green's producer id allocator brought to producer A's id before producer B connected: ${JSON.stringify(aligned)}`,
    );

    const onGreen = new Map<string, bigint[]>();
    for (const r of await readUncommitted({ bootstrap: bed.green.bootstrap() }, DEFAULT_KAFKA_VERSION, topic, { timeoutMs: 30_000 })) {
      onGreen.set(r.value, [...(onGreen.get(r.value) ?? []), r.offset]);
    }
    const missing = acked.filter((e) => !onGreen.has(e.ack as string));
    const sharedOffsets = new Map<number, string[]>();
    for (const e of acked) sharedOffsets.set(e.offset as number, [...(sharedOffsets.get(e.offset as number) ?? []), e.ack as string]);
    const doubled = [...sharedOffsets].filter(([, values]) => values.length > 1);
    t.diagnostic(
      `acknowledged ${acked.length} (A ${acked.filter((e) => e.producer === 'A').length}, B ${acked.filter((e) => e.producer === 'B').length}), ${sendErrors.length} send errors; ${onGreen.size} distinct values in the partition on green; ${missing.length} acknowledged but absent; ${doubled.length} offsets acknowledged to two records, e.g. ${doubled
        .slice(0, 5)
        .map(([o, v]) => `${o}: ${v.join(' & ')}`)
        .join(', ')}`,
    );
    assert.ok(acked.length > 0, 'records were acknowledged');
    const some = (list: string[]) => (list.length === 0 ? [] : [`${list.length}, e.g. ${list.slice(0, 8).join(', ')}`]);
    assert.deepEqual(
      some(missing.map((e) => `${e.producer} ${e.ack} (acknowledged at offset ${e.offset})`)),
      [],
      'acknowledged records absent from the partition',
    );
    assert.deepEqual(some(doubled.map(([o, v]) => `offset ${o}: ${v.join(' & ')}`)), [], 'offsets acknowledged to two records');
  });
});
