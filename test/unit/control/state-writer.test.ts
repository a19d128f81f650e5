// The per-domain queue of switch state writes: a failing domain answers its callers at once and
// keeps only the records that describe lasting state, coalesced by key, until it takes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type QueuedRecord, StateWriter } from '../../../src/control/state-writer.ts';

/** An append that fails while `down` is true, and records every batch it took. */
function fakeDomain() {
  const state = { down: false, batches: [] as QueuedRecord[][], attempts: 0 };
  const append = async (records: QueuedRecord[]) => {
    state.attempts++;
    await new Promise((r) => setTimeout(r, 5));
    if (state.down) throw new Error('no broker answered');
    state.batches.push(records);
  };
  return { state, append };
}

test('records are appended in order; several queued during an append go in the next batch', async () => {
  const d = fakeDomain();
  const w = new StateWriter(d.append, { retryMs: 10 });
  await Promise.all([w.write('a', '1', false), w.write('b', '1', false), w.write('c', '1', true)]);
  assert.deepEqual(
    d.state.batches.flat().map((r) => r.key),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    d.state.batches.map((b) => b.length),
    [1, 2],
  );
  w.close();
});

test('a failed append rejects its callers at once; kept records are retried (newest value per key) until written, the others dropped', async () => {
  const d = fakeDomain();
  d.state.down = true;
  const w = new StateWriter(d.append, { retryMs: 20 });
  await assert.rejects(w.write('prepare/orders', 'p1', false), /no broker answered/);
  const committed = w.write('route/orders', 'epoch-1', true);
  await assert.rejects(committed, /no broker answered/);
  assert.equal(w.failing, true);
  w.write('route/orders', 'epoch-2', true).catch(() => {});
  w.write('instance/a', 'beat-1', true).catch(() => {});
  w.write('instance/a', 'beat-2', true).catch(() => {});
  await new Promise((r) => setTimeout(r, 100));
  d.state.down = false;
  await new Promise((r) => setTimeout(r, 150));
  const written = d.state.batches.flat();
  assert.deepEqual(
    written.map((r) => `${r.key}=${r.value}`),
    ['route/orders=epoch-2', 'instance/a=beat-2'],
  );
  assert.equal(w.queued, 0);
  assert.equal(w.failing, false);
  w.close();
});

test('close rejects what is still queued', async () => {
  const d = fakeDomain();
  d.state.down = true;
  const w = new StateWriter(d.append, { retryMs: 1000 });
  const first = w.write('route/orders', 'x', true);
  const queued = w.write('audit/orders/1', 'y', true);
  await assert.rejects(first);
  w.close();
  await assert.rejects(queued, { code: 'TURNOUT_STATE_LOG_CLOSED', message: /closed/ });
  await assert.rejects(w.write('route/orders', 'z', true), { code: 'TURNOUT_STATE_LOG_CLOSED' }, 'a write after close');
});
