// Correcting a record batch's CRC after a few bytes changed, without reading the rest: must equal
// a full recomputation for every position and length.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32c, crc32cAfterChange } from '../../../src/protocol/crc32c.ts';

test('crc32cAfterChange equals recomputing the checksum', () => {
  for (const size of [8, 9, 61, 1000, 70_000]) {
    for (let trial = 0; trial < 20; trial++) {
      const region = randomBytes(size);
      const at = Math.floor(Math.random() * (size - 7));
      const before = crc32c(region);
      const old = Buffer.from(region.subarray(at, at + 8));
      randomBytes(8).copy(region, at);
      const after = crc32cAfterChange(before, old, region.subarray(at, at + 8), size - at - 8);
      assert.equal(after, crc32c(region), `size ${size}, bytes ${at}..${at + 8}`);
    }
  }
});

test('changing nothing keeps the checksum', () => {
  const region = randomBytes(300);
  const c = crc32c(region);
  assert.equal(crc32cAfterChange(c, region.subarray(10, 18), region.subarray(10, 18), 282), c);
});
