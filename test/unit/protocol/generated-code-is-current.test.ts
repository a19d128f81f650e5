// The committed generated codec is exactly what the generator produces from the pinned
// Kafka release, so nobody can hand-edit it or forget to regenerate.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KAFKA_VERSION } from '../../../src/protocol/index.ts';
import { CODEC_KAFKA_VERSION, staleFiles } from '../../../tools/codegen/main.ts';

test('committed generated code matches the generator output for the pinned Kafka version', () => {
  assert.equal(KAFKA_VERSION, CODEC_KAFKA_VERSION);
  assert.deepEqual(staleFiles(CODEC_KAFKA_VERSION), [], 'run `npm run generate` and commit the result');
});
