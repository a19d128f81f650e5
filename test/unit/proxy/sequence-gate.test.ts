// The sequence gate (src/proxy/sequence-gate.ts) driven through its lookup seam: a fake previous
// cluster that knows where producers stood, and a fake current cluster whose state appears once a
// batch is "written".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GateBatch, type GateDecision, SequenceGate, type SequenceLookups } from '../../../src/proxy/sequence-gate.ts';
import type { ProducerSequence } from '../../../src/routing/route.ts';

const NEW_ID = 9000n;
const OLD_ID = 7n;

function batch(key: string, baseSequence: number, count = 5, epoch = 0): GateBatch {
  return { key, producerId: NEW_ID, previousId: OLD_ID, epoch, baseSequence, count };
}

class FakeClusters implements SequenceLookups {
  readonly previousState = new Map<string, ProducerSequence>();
  readonly currentState = new Map<string, ProducerSequence>();
  previousCalls = 0;
  currentCalls = 0;
  previousDown = false;

  async previous(producerId: bigint, keys: string[]): Promise<Map<string, ProducerSequence | null>> {
    this.previousCalls++;
    if (this.previousDown) throw new Error('connect ECONNREFUSED');
    assert.equal(producerId, OLD_ID, 'the previous cluster is asked by the id it saw');
    return new Map(keys.map((k) => [k, this.previousState.get(k) ?? null]));
  }

  async current(producerId: bigint, keys: string[]): Promise<Map<string, ProducerSequence | null>> {
    this.currentCalls++;
    assert.equal(producerId, NEW_ID);
    return new Map(keys.map((k) => [k, this.currentState.get(k) ?? null]));
  }
}

/** Decides until the gate answers forward or refuse (as the connection does: a wait sends the request through again). */
async function settle(gate: SequenceGate, conn: number, batches: GateBatch[]): Promise<GateDecision['kind']> {
  for (let i = 0; i < 5; i++) {
    const d = gate.decide(conn, batches);
    if (d.kind !== 'wait') {
      if (d.kind === 'forward') gate.forwarded(conn, batches);
      return d.kind;
    }
    await d.until;
  }
  throw new Error('the gate kept asking to wait');
}

const failures: string[] = [];
const onFailed = (which: string, err: Error) => failures.push(`${which}: ${err.message}`);

test('a batch ahead of the next one is refused until the cluster holds the producer; the next one goes first', async () => {
  const c = new FakeClusters();
  c.previousState.set('t:1', { epoch: 0, lastSequence: 14 }); // next: 15
  const gate = new SequenceGate(c, onFailed);
  // B (20..24) reaches the gateway first, on the new leader's connection.
  assert.equal(await settle(gate, 2, [batch('t:1', 20)]), 'refuse');
  // A (15..19), the retry, on the stale connection: the one the cluster must get first.
  assert.equal(await settle(gate, 1, [batch('t:1', 15)]), 'forward');
  c.currentState.set('t:1', { epoch: 0, lastSequence: 19 }); // A written
  assert.equal(await settle(gate, 2, [batch('t:1', 20)]), 'forward');
  // From then on the broker keeps the order: no more lookups.
  const calls = c.currentCalls;
  assert.equal(await settle(gate, 3, [batch('t:1', 25)]), 'forward');
  assert.equal(c.currentCalls, calls);
  assert.equal(c.previousCalls, 1, 'the previous cluster is asked once per producer and partition');
});

test('batches that follow on the connection that sent the first one go on without lookups', async () => {
  const c = new FakeClusters();
  c.previousState.set('t:0', { epoch: 3, lastSequence: 99 });
  const gate = new SequenceGate(c, onFailed);
  assert.equal(await settle(gate, 1, [batch('t:0', 100, 5, 3)]), 'forward');
  assert.equal(await settle(gate, 1, [batch('t:0', 105, 5, 3)]), 'forward');
  assert.equal(await settle(gate, 1, [batch('t:0', 110, 2, 3)]), 'forward');
  assert.equal(c.currentCalls, 0);
});

test('a request is refused whole when one of its partitions is ahead, and nothing of it counts as sent', async () => {
  const c = new FakeClusters();
  c.previousState.set('t:0', { epoch: 0, lastSequence: 4 });
  c.previousState.set('t:1', { epoch: 0, lastSequence: 9 });
  const gate = new SequenceGate(c, onFailed);
  assert.equal(await settle(gate, 1, [batch('t:0', 5), batch('t:1', 15)]), 'refuse');
  // t:0's batch was not forwarded: its retry on another connection is still the first.
  assert.equal(await settle(gate, 2, [batch('t:0', 5)]), 'forward');
});

test('a new producer epoch starts at sequence 0; batches from before the cut are not held', async () => {
  const c = new FakeClusters();
  c.previousState.set('t:0', { epoch: 0, lastSequence: 49 });
  const gate = new SequenceGate(c, onFailed);
  assert.equal(await settle(gate, 1, [batch('t:0', 0, 5, 1)]), 'forward', 'epoch bump: sequence 0');
  assert.equal(await settle(gate, 2, [batch('t:0', 40, 5, 0)]), 'forward', 'already on the previous cluster');
  assert.equal(c.currentCalls, 0);
});

test('where the previous cluster holds nothing from the producer, or cannot be asked, batches go through unchecked', async () => {
  const c = new FakeClusters();
  const gate = new SequenceGate(c, onFailed);
  assert.equal(await settle(gate, 1, [batch('t:0', 30)]), 'forward');
  assert.equal(c.currentCalls, 0);

  const down = new FakeClusters();
  down.previousDown = true;
  failures.length = 0;
  const g2 = new SequenceGate(down, onFailed);
  assert.equal(await settle(g2, 1, [batch('t:0', 30)]), 'forward');
  assert.equal(await settle(g2, 1, [batch('t:1', 30)]), 'forward');
  assert.equal(down.previousCalls, 1, 'an unreachable previous cluster is not asked again (each producer would wait for it)');
  assert.deepEqual(failures, ['previous: connect ECONNREFUSED']);
});

test('the gate forgets its oldest entries past its bound', async () => {
  const c = new FakeClusters();
  const gate = new SequenceGate(c, onFailed, 100);
  for (let p = 0; p < 250; p++) await settle(gate, 1, [batch(`t:${p}`, 0)]);
  assert.ok(gate.size <= 100, `${gate.size} entries`);
});
