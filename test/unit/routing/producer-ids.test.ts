// Producer ids across switches: tagged per epoch, never a broker's own, and an id from an
// earlier epoch is written as one no cluster has seen in the current epoch.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientProducerId, issueTag, producerIdKind, rewrittenProducerId } from '../../../src/routing/producer-ids.ts';

test('ids handed to clients carry the epoch and stay exact as JavaScript numbers', () => {
  for (const epoch of [0, 1, 2, 4094, 4095, 100_000]) {
    for (const broker of [0n, 1n, 999n, 123_456_789n, (1n << 40n) - 1n]) {
      const id = clientProducerId(broker, epoch);
      assert.ok(id > (1n << 40n) - 1n, 'never an id a broker allocates');
      assert.ok(id < 2n ** 52n, 'below 2^52');
      assert.equal(producerIdKind(id, epoch), 'current');
      assert.equal(producerIdKind(id, epoch + 1), 'earlier');
      assert.equal(id & ((1n << 40n) - 1n), broker);
    }
  }
  assert.equal(issueTag(0), 1n);
  assert.equal(clientProducerId(-1n, 3), -1n);
  assert.equal(clientProducerId(1n << 41n, 3), 1n << 41n, 'ids too large to tag pass as they are');
});

test('untagged and absent ids are left alone', () => {
  assert.equal(producerIdKind(-1n, 5), 'none');
  assert.equal(producerIdKind(0n, 5), 'untagged');
  assert.equal(producerIdKind(42n, 0), 'untagged');
});

test('the franz-go collision: two producers with the same broker id on two clusters stay apart', () => {
  // Producer A got id 0 from blue in epoch 0; producer B gets id 0 from green in epoch 1.
  const a = clientProducerId(0n, 0);
  const b = clientProducerId(0n, 1);
  assert.notEqual(a, b);
  // In epoch 1 A writes with a rewritten id, B with its own: distinct, and neither is a broker's.
  assert.equal(producerIdKind(a, 1), 'earlier');
  const aOnGreen = rewrittenProducerId(a, 1);
  assert.notEqual(aOnGreen, b);
  assert.ok(aOnGreen > 2n ** 52n && aOnGreen < 2n ** 62n);
  // Back on blue in epoch 2, A is a producer blue has not seen (its old sequence state is not met).
  const aBackOnBlue = rewrittenProducerId(a, 2);
  assert.notEqual(aBackOnBlue, a);
  assert.notEqual(aBackOnBlue, aOnGreen);
  // Every worker and gateway computes the same.
  assert.equal(rewrittenProducerId(a, 2), aBackOnBlue);
});

test('rewritten ids of different producers never meet in one epoch', () => {
  const seen = new Set<bigint>();
  for (let issued = 0; issued < 5; issued++) {
    for (let broker = 0n; broker < 50n; broker++) {
      const r = rewrittenProducerId(clientProducerId(broker, issued), 7);
      assert.ok(!seen.has(r));
      seen.add(r);
      assert.ok(r !== clientProducerId(broker, 7));
    }
  }
});

test("the edges of the tagged range: below 2^40 a broker's id, from 2^52 not a client's, negative ids pass as they are", () => {
  assert.equal(producerIdKind((1n << 40n) - 1n, 0), 'untagged', 'the largest id a broker allocates');
  assert.equal(producerIdKind(1n << 40n, 0), 'current', 'the smallest tagged id (tag 1: epoch 0)');
  assert.equal(producerIdKind((1n << 52n) - 1n, 0), 'earlier', 'the largest tagged id (tag 4095)');
  assert.equal(producerIdKind(1n << 52n, 0), 'untagged');
  assert.equal(producerIdKind(rewrittenProducerId(clientProducerId(7n, 0), 1), 1), 'untagged', 'a rewritten id is not one a client was given');
  for (const id of [-1n, -2n, -(1n << 41n), -(1n << 50n)]) assert.equal(clientProducerId(id, 3), id);
});
