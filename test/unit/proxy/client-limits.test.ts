// The stateful parts of the client limits (src/proxy/limits.ts), driven directly: the process's
// buffered-bytes budget, the connection counts checked at accept, and warnings aggregated per
// reason so that a flood of bad clients gives a few log lines, not one per client.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../../src/observability/log.ts';
import { ConnectionAdmission, describePeer, MemoryBudget, RefuseReason, WarningAggregator } from '../../../src/proxy/limits.ts';

test('the memory budget lets connections wait past its limit and wakes them all below 90% of it', () => {
  const budget = new MemoryBudget(1000);
  const woken: string[] = [];
  const states: boolean[] = [];
  budget.onWaiting = (w) => states.push(w);
  budget.adjust(0, 600);
  budget.adjust(0, 500);
  assert.equal(budget.used, 1100);
  assert.ok(budget.over);
  const a = () => woken.push('a');
  const b = () => woken.push('b');
  budget.wait(a);
  budget.wait(b);
  budget.wait(a); // waiting twice is waiting once
  assert.equal(budget.waiting, 2);
  assert.equal(budget.pauses, 2);
  budget.adjust(600, 450); // 950: under the limit, above the low-water mark
  assert.deepEqual(woken, [], 'no wake-up between 90% and 100%: waiters would flap');
  budget.adjust(450, 400); // 900
  assert.deepEqual(woken, ['a', 'b']);
  assert.equal(budget.waiting, 0);
  assert.deepEqual(states, [true, false], 'the re-count poller runs only while someone waits');
});

test('a closed connection stops waiting for the budget', () => {
  const budget = new MemoryBudget(100);
  let woken = 0;
  const resume = () => woken++;
  budget.adjust(0, 200);
  budget.wait(resume);
  budget.cancel(resume);
  budget.adjust(200, 0);
  assert.equal(woken, 0);
  assert.equal(budget.used, 0);
});

test('connections are refused at accept over the process, route and address limits, and counted again once closed', () => {
  const admission = new ConnectionAdmission({ maxConnections: 4, maxConnectionsPerAddress: 2 });
  assert.equal(admission.admit('r1', null, '10.0.0.1'), null);
  assert.equal(admission.admit('r1', null, '10.0.0.1'), null);
  assert.equal(admission.admit('r1', null, '10.0.0.1'), RefuseReason.MaxConnectionsPerAddress);
  assert.equal(admission.admit('r2', 1, '10.0.0.2'), null);
  assert.equal(admission.admit('r2', 1, '10.0.0.3'), RefuseReason.MaxConnectionsPerRoute);
  assert.equal(admission.admit('r1', null, '10.0.0.4'), null);
  assert.equal(admission.open, 4);
  assert.equal(admission.admit('r1', null, '10.0.0.5'), RefuseReason.MaxConnections);
  assert.equal(admission.open, 4, 'a refusal counts nothing');
  admission.release('r1', '10.0.0.1');
  assert.equal(admission.admit('r1', null, '10.0.0.1'), null, 'a closed connection frees its place');
  assert.equal(admission.admit('r2', 1, '10.0.0.3'), RefuseReason.MaxConnections, 'the process limit comes first');
  admission.release('r2', '10.0.0.2');
  assert.equal(admission.admit('r2', 1, '10.0.0.3'), null, 'the route has room again');
});

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  const log = createLogger('debug', sink);
  return {
    log,
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('repeated warnings are logged once per reason, then summed up once per window; a quiet reason logs in full again', async () => {
  const { log, lines } = capture();
  const warnings = new WarningAggregator(log, 60_000);
  try {
    for (let i = 0; i < 1000; i++)
      warnings.warn(
        log,
        'plain/frame_too_large',
        { reason: 'frame_too_large', limit: 100, configKey: 'gateway.limits.x', client: `10.0.0.1:${i}` },
        'connection closed',
      );
    for (let i = 0; i < 3; i++) warnings.warn(log, 'plain/idle', { reason: 'idle' }, 'connection closed');
    await new Promise((r) => setImmediate(r));
    const warn = () => lines().filter((l) => l.level === 'warn');
    assert.equal(warn().length, 2, 'one full line per reason');
    assert.equal(warn()[0].client, '10.0.0.1:0');
    assert.equal(lines().filter((l) => l.level === 'debug').length, 999 + 2, 'the rest at debug only');

    warnings.flush();
    await new Promise((r) => setImmediate(r));
    const summaries = warn().filter((l) => typeof l.suppressed === 'number');
    assert.deepEqual(
      summaries.map((l) => [l.reason, l.suppressed]),
      [
        ['plain/frame_too_large', 999],
        ['plain/idle', 2],
      ],
    );
    assert.equal(summaries[0].configKey, 'gateway.limits.x', 'the summary names the limit to raise');
    assert.equal(summaries[0].client, undefined, "but not one client's address");
    assert.match(String(summaries[0].msg), /999 more "connection closed" \(plain\/frame_too_large\) suppressed/);

    warnings.flush(); // a window with nothing suppressed forgets the reason
    warnings.warn(log, 'plain/idle', { reason: 'idle' }, 'connection closed');
    await new Promise((r) => setImmediate(r));
    assert.equal(warn().length, 5, 'after a quiet window the next one is logged in full');
  } finally {
    warnings.stop();
  }
});

test('a socket closed before its address was read is described, never as undefined:undefined', () => {
  assert.equal(describePeer('10.1.2.3', 5000), '10.1.2.3:5000');
  assert.equal(describePeer('::1', 5000), '[::1]:5000');
  assert.doesNotMatch(describePeer(undefined, undefined), /undefined/);
  assert.match(describePeer(undefined, undefined), /unknown/);
});
