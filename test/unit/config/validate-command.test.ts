// `turnout validate -c FILE` as a user runs it: exit 0 with a summary of what the config sets up,
// 1 with every problem on stderr, 2 when the file cannot be read.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MINIMAL } from './support.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

function turnout(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(NODE, ['bin/turnout.js', ...args], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'turnout-validate-')), 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

test('a valid config exits 0 and summarizes domains, routes (endpoint -> domain/listener) and broker ports', () => {
  const r = turnout(['validate', '-c', 'examples/gateway.yaml'], { KAFKA_PASSWORD: 'kafka-secret' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^examples\/gateway\.yaml: valid\n/);
  assert.match(
    r.stdout,
    /streaming domains \(2\):\n {2}blue: kafka cluster blue-cluster\n {4}sasl-listener: kafka-blue-1:9093,kafka-blue-2:9093,kafka-blue-3:9093 SASL_PLAINTEXT \(PLAIN as kafka\)\n/,
  );
  assert.match(r.stdout, /routes \(1\):\n {2}switchover-route: localhost:19092 -> blue\/sasl-listener\n/);
  assert.match(r.stdout, /0\.0\.0\.0:19093-19108 \(16 broker ports\), client authentication passthrough/);
  assert.match(r.stdout, /admin: 127\.0\.0\.1:9190\n/);
  assert.ok(!r.stdout.includes('kafka-secret'));
});

test('--config is the long form of -c, and the seed example validates without any variables', () => {
  const r = turnout(['validate', '--config', 'examples/seed-001.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /switchover-route: host\.docker\.internal:19092 -> kafka1-domain\/internal-plaintext-listener/);
});

test('an invalid config exits 1 and prints every problem with file:line:column to stderr', () => {
  const file = tempFile(
    MINIMAL.replace('name: kafka1-domain\n      bootstrapServerId', 'name: kafka3-domain\n      bootstrapServerId').replace(
      'routes:',
      'gateway:\n  logg: {}\nroutes:',
    ),
  );
  const r = turnout(['validate', '-c', file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    [
      `${file}:18:3 gateway.logg: unknown key "logg". Fix: did you mean "log"?`,
      `${file}:23:7 routes[0].streamingDomain.name: unknown streaming domain "kafka3-domain" (known: kafka1-domain, kafka2-domain). Fix: use one of the names under streamingDomains.`,
      `${file}: 2 problems`,
      '',
    ].join('\n'),
  );
});

test('a missing environment variable exits 1 and names the variable', () => {
  const r = turnout(['validate', '-c', 'examples/gateway.yaml']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /examples\/gateway\.yaml:\d+:\d+ streamingDomains\[0\]\.kafkaCluster\.bootstrapServers\[0\]\.security\.sasl\.password: environment variable KAFKA_PASSWORD is not set/,
  );
});

test('a file that cannot be read exits 2', () => {
  const missing = turnout(['validate', '-c', join(tmpdir(), 'no-such-turnout-config.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no-such-turnout-config\.yaml: cannot read the config file \(no such file\)/);
  const directory = turnout(['validate', '-c', tmpdir()]);
  assert.equal(directory.code, 2);
  assert.match(directory.stderr, /it is a directory/);
});
