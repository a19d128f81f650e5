// Turnout's codec writes exactly the bytes Kafka's own generated Java classes write: every
// populated message of every API and version, encoded by Turnout, is read by kafka-clients
// and re-encoded there, and the two encodings must be identical.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Writer } from '../../../src/protocol/writer.ts';
import { CODEC_KAFKA_VERSION, kafkaClientsJar } from '../../../tools/codegen/main.ts';
import { allMessageVersions, loadMessage, populate, prng } from '../../support/messages.ts';

const source = fileURLToPath(new URL('../../support/java/CodecEcho.java', import.meta.url));

test("every API message encoded by Turnout is re-encoded identically by Kafka's Java classes", async () => {
  const jar = kafkaClientsJar(CODEC_KAFKA_VERSION);
  const dir = mkdtempSync(join(tmpdir(), 'turnout-echo-'));
  try {
    execFileSync('javac', ['-cp', jar, '-d', dir, source], { stdio: 'pipe' });
    const lines: string[] = [];
    const labels: string[] = [];
    let seed = 1;
    for (const { name, version } of allMessageVersions()) {
      const m = await loadMessage(name);
      if (m.schema.type !== 'request' && m.schema.type !== 'response') continue;
      for (let i = 0; i < 3; i++) {
        const msg = populate(m, version, prng(seed++ * 104729), { unknownTags: true });
        const w = new Writer();
        m.write(w, version, msg);
        lines.push(`${m.schema.type} ${m.schema.apiKey} ${version} ${w.toBuffer().toString('hex')}`);
        labels.push(`${name} v${version} (seed ${seed - 1})`);
      }
    }
    const r = spawnSync('java', ['-cp', `${dir}:${jar}`, 'CodecEcho'], { input: `${lines.join('\n')}\n`, maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, String(r.stderr));
    const answers = String(r.stdout).trimEnd().split('\n');
    assert.equal(answers.length, lines.length);
    const failures: string[] = [];
    answers.forEach((a, i) => {
      const sent = lines[i].split(' ')[3];
      if (!a.startsWith('OK ')) failures.push(`${labels[i]}: Java could not read it: ${a}`);
      else if (a.slice(3) !== sent) failures.push(`${labels[i]}: Java re-encoded different bytes\n  turnout ${sent}\n  java    ${a.slice(3)}`);
    });
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${lines.length} messages differ`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
