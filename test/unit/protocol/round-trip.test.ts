// Every message of every API, in every valid version, survives encode -> decode -> encode:
// the decoded value equals the original and the second encoding equals the first, byte for byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_CODECS } from '../../../src/protocol/generated/index.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { allMessageVersions, loadMessage, MESSAGE_SCHEMAS, populate, prng } from '../../support/messages.ts';

const SAMPLES_PER_VERSION = 4;

test('every request and response of every API key and version round-trips', async () => {
  let checked = 0;
  for (const { name, version } of allMessageVersions()) {
    const m = await loadMessage(name);
    for (let sample = 0; sample < SAMPLES_PER_VERSION; sample++) {
      const seed = (checked + 1) * 7919;
      const msg = populate(m, version, prng(seed), { unknownTags: true });
      const w = new Writer();
      m.write(w, version, msg);
      const bytes = w.toBuffer();
      const r = new Reader(bytes);
      const decoded = m.read(r, version);
      const where = `${name} v${version} (seed ${seed})`;
      assert.equal(r.pos, bytes.length, `${where}: decoder stopped at ${r.pos} of ${bytes.length} bytes`);
      assert.deepStrictEqual(decoded, msg, `${where}: decoded value differs`);
      const w2 = new Writer();
      m.write(w2, version, decoded);
      assert.ok(w2.toBuffer().equals(bytes), `${where}: re-encoding differs`);
      checked++;
    }
  }
  assert.ok(checked > 1000, `only ${checked} samples checked`);
});

test('the API table covers both directions of every request definition', () => {
  for (const codec of API_CODECS) {
    assert.ok(MESSAGE_SCHEMAS[`${codec.name}Request`], `${codec.name}Request schema`);
    assert.ok(MESSAGE_SCHEMAS[`${codec.name}Response`], `${codec.name}Response schema`);
    assert.ok(codec.minVersion <= codec.maxVersion);
  }
  const requests = Object.values(MESSAGE_SCHEMAS).filter((s) => s.type === 'request');
  assert.equal(API_CODECS.length, requests.length);
});

test('default messages encode and decode in every version', async () => {
  for (const { name, version } of allMessageVersions()) {
    const m = await loadMessage(name);
    const msg = m.create(name);
    const w = new Writer();
    m.write(w, version, msg);
    const decoded = m.read(new Reader(w.toBuffer()), version);
    assert.deepStrictEqual(decoded, msg, `${name} v${version}`);
  }
});
