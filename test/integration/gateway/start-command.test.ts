// `turnout start -c FILE` as an operator runs it: a YAML file with two routes to two clusters
// (one SASL passthrough, one PLAINTEXT), secrets from the environment, JSON logs on stdout, the
// admin endpoints, and a graceful exit on SIGTERM. An invalid file is refused before anything
// listens.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { freePortBlock } from '../../support/gateway.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = process.execPath;

let dir: string;
let sasl: ClusterDescriptor;
let plain: ClusterDescriptor;
let tools: KafkaTools;
const children: ChildProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'turnout-start-'));
  const bed = await testBed();
  [sasl, plain] = await Promise.all([
    bed.cluster({ name: 'k4-three', brokers: 3, nodeIdBase: 101 }),
    bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' }),
  ]);
  tools = await bed.tools();
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(configFile: string, env: Record<string, string>): Running {
  const child = spawn(NODE, [join(ROOT, 'bin/turnout.js'), 'start', '-c', configFile], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms; gateway output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('turnout start serves two routes to two clusters, exposes admin endpoints, and stops on SIGTERM', async () => {
  const base = await freePortBlock(20);
  const config = `
gateway:
  admin: { listen: "127.0.0.1:${base}" }
  log: { level: info }
  shutdownTimeoutMs: 3000
streamingDomains:
  - name: secure
    type: kafka
    kafkaCluster:
      name: ${sasl.name}
      bootstrapServers:
        - id: sasl-listener
          endpoint: "${sasl.brokers.map((b) => `${b.host}:${b.saslPort}`).join(',')}"
          security:
            protocol: SASL_PLAINTEXT
            sasl: { mechanism: PLAIN, username: admin, password: "\${SERVICE_PASSWORD}" }
  - name: open
    kafkaCluster:
      name: ${plain.name}
      bootstrapServers:
        - id: plain
          endpoint: "${plain.brokers[0].host}:${plain.brokers[0].plaintextPort}"
routes:
  - name: secure-route
    endpoint: "127.0.0.1:${base + 1}"
    bindAddress: 127.0.0.1
    brokerPorts: { base: ${base + 2}, count: 8 }
    streamingDomain: { name: secure, bootstrapServerId: sasl-listener }
    authentication: { type: passthrough }
  - name: open-route
    endpoint: "127.0.0.1:${base + 10}"
    bindAddress: 127.0.0.1
    brokerPorts: { base: ${base + 11}, count: 8 }
    streamingDomain: { name: open, bootstrapServerId: plain }
`;
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, config);
  const gw = start(file, { SERVICE_PASSWORD: 'admin-secret' });
  const admin = `http://127.0.0.1:${base}`;
  await until('readiness', async () => ((await fetch(`${admin}/ready`)).status === 200 ? true : undefined), 20_000, gw.output);
  assert.equal((await fetch(`${admin}/health`)).status, 200);

  const clientProps = tools.saslClientConfig('kafka', 'kafka-secret');
  for (const [route, bootstrap, props] of [
    ['secure-route', `127.0.0.1:${base + 1}`, clientProps],
    ['open-route', `127.0.0.1:${base + 10}`, undefined],
  ] as const) {
    const topic = `start-cmd-${route}`;
    let r = await tools.run(KafkaTool.Topics, [
      ...tools.connectionArgs(KafkaTool.Topics, bootstrap, props),
      '--create',
      '--if-not-exists',
      '--topic',
      topic,
      '--partitions',
      '2',
      '--replication-factor',
      '1',
    ]);
    assert.equal(r.exitCode, 0, `${route} create: ${r.stderr}`);
    const lines = Array.from({ length: 30 }, (_, i) => `${route}-${i}`);
    r = await tools.run(KafkaTool.ConsoleProducer, [...tools.connectionArgs(KafkaTool.ConsoleProducer, bootstrap, props), '--topic', topic], {
      input: `${lines.join('\n')}\n`,
    });
    assert.equal(r.exitCode, 0, `${route} produce: ${r.stderr}`);
    r = await tools.run(KafkaTool.ConsoleConsumer, [
      ...tools.connectionArgs(KafkaTool.ConsoleConsumer, bootstrap, props),
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      '30',
      '--timeout-ms',
      '20000',
    ]);
    assert.equal(r.exitCode, 0, `${route} consume: ${r.stderr}`);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [...lines].sort());
  }

  const routes = (await (await fetch(`${admin}/routes`)).json()) as { routes: { name: string; domain: string; brokers: unknown[] }[] };
  assert.deepEqual(
    routes.routes.map((r) => [r.name, r.domain, r.brokers.length]),
    [
      ['secure-route', 'secure', 3],
      ['open-route', 'open', 1],
    ],
  );
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  for (const route of ['secure-route', 'open-route']) {
    assert.match(metrics, new RegExp(`turnout_requests_total\\{route="${route}",api="Produce"\\} \\d+`));
    assert.match(metrics, new RegExp(`turnout_request_duration_seconds_bucket\\{le="[^"]+",route="${route}",api="Fetch"\\}`));
    assert.match(metrics, new RegExp(`turnout_bytes_total\\{route="${route}",direction="out"\\} \\d+`));
  }
  assert.match(metrics, /turnout_route_ready\{route="secure-route"\} 1/);

  gw.child.kill('SIGTERM');
  const code = await Promise.race([gw.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000))]);
  assert.equal(code, 0, gw.output());
  const lines = gw.output().trim().split('\n');
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
  assert.ok(lines.some((l) => l.includes('"gateway stopped"')));
  const everything = gw.output() + metrics + JSON.stringify(routes);
  assert.ok(!everything.includes('admin-secret') && !everything.includes('kafka-secret'), 'a password appeared in logs, metrics or the admin API');
});

test('turnout start refuses an invalid config with the validation messages and listens on nothing', async () => {
  const base = await freePortBlock(3);
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `
streamingDomains:
  - name: one
    kafkaCluster: { name: c, bootstrapServers: [{ id: l, endpoint: "localhost:9092" }] }
routes:
  - name: r
    endpoint: "127.0.0.1:${base}"
    streamingDomain: { name: two, bootstrapServerId: l }
`,
  );
  const gw = start(file, {});
  const code = await gw.exited;
  assert.equal(code, 1);
  assert.match(gw.output(), /routes\[0\]\.streamingDomain\.name: unknown streaming domain "two"/);
  assert.match(gw.output(), /did not start/);
  const probe = await fetch(`http://127.0.0.1:${base}/`).then(
    () => 'open',
    () => 'closed',
  );
  assert.equal(probe, 'closed');
});
