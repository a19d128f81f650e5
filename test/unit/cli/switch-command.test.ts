// `turnout switch` / `preflight` / `status` as a user meets them, against a stub admin API: the
// missing route argument is named with the configured routes; -c FILE needs only gateway.admin's
// variables, not the clusters' passwords; --by never says "undefined"; and a connection that drops
// after the switch request was sent is reported as "outcome unknown" with its own exit code.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultSwitchedBy, SwitchExit } from '../../../src/cli/switch.ts';
import { loadAdminSettings } from '../../../src/config/index.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process (asynchronous: the stub server runs in this process). */
function turnout(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/turnout.js', ...args],
      { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      },
    );
  });
}

/** A stub admin API; `handle` answers each request. */
async function stub(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; port: number; close(): void }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handle(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, close: () => server.close() };
}

function configFile(adminPort: number): string {
  const file = join(mkdtempSync(join(tmpdir(), 'turnout-switch-cli-')), 'gateway.yaml');
  writeFileSync(
    file,
    `gateway:
  admin:
    listen: "127.0.0.1:\${ADMIN_PORT:-${adminPort}}"
    token: \${TURNOUT_TOKEN_FOR_TEST:-file-token}
streamingDomains:
  - name: blue
    kafkaCluster:
      name: blue
      bootstrapServers:
        - id: sasl
          endpoint: "kafka-1:9093"
          security: { protocol: SASL_PLAINTEXT, sasl: { mechanism: PLAIN, username: admin, password: "\${BLUE_PASSWORD}" } }
routes:
  - name: orders
    endpoint: "127.0.0.1:19092"
    streamingDomain: { name: blue, bootstrapServerId: sasl }
  - name: payments
    endpoint: "127.0.0.1:29092"
    streamingDomain: { name: blue, bootstrapServerId: sasl }
`,
  );
  return file;
}

const REPORT = {
  route: 'orders',
  outcome: 'switched',
  forced: false,
  from: 'blue',
  to: 'green',
  listener: 'sasl',
  epoch: 1,
  mode: 'hot',
  durationMs: 5,
  message: 'switched',
  instances: [],
  stateWritten: [],
  stateNotWritten: [],
};

test('switch without a route names the missing argument and lists the configured routes', async () => {
  const file = configFile(1);
  const r = await turnout(['switch', '-c', file, '--to', 'green']);
  assert.equal(r.code, SwitchExit.NotAsked, r.stderr);
  assert.match(r.stderr, /missing the route argument: turnout switch ROUTE --to DOMAIN/);
  assert.match(r.stderr, /configured routes \(.*gateway\.yaml\): orders, payments/);
  const p = await turnout(['preflight', '-c', file]);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /missing the route argument: turnout preflight ROUTE/);
  const noTo = await turnout(['switch', 'orders', '-c', file]);
  assert.equal(noTo.code, 2);
  assert.match(noTo.stderr, /missing --to DOMAIN/);
});

test("without -c the routes come from the running gateway's /routes", async () => {
  const admin = await stub((_req, _body, res) => res.end(JSON.stringify({ routes: [{ name: 'orders' }, { name: 'audit' }] })));
  try {
    const r = await turnout(['switch', '--admin', admin.url]);
    assert.match(r.stderr, new RegExp(`configured routes \\(${admin.url}\\): orders, audit`));
  } finally {
    admin.close();
  }
});

test("-c FILE reads the admin address and token without the clusters' passwords in the environment", async () => {
  let seen: { auth?: string; body?: { by?: string } } = {};
  const admin = await stub((req, body, res) => {
    seen = { auth: req.headers.authorization, body: body === '' ? undefined : JSON.parse(body) };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/status' ? { instance: 'x', routes: [], instances: [] } : REPORT));
  });
  try {
    const file = configFile(admin.port);
    const status = await turnout(['status', '-c', file]);
    assert.equal(status.code, 0, status.stderr);
    const sw = await turnout(['switch', 'orders', '--to', 'green', '-c', file]);
    assert.equal(sw.code, 0, sw.stderr);
    assert.equal(seen.auth, 'Bearer file-token');
    // $USER unset (cron, containers): the audit names the login user and host, never "undefined".
    assert.match(seen.body?.by ?? '', /^cli:[^@\s]+@\S+$/);
    assert.doesNotMatch(seen.body?.by ?? '', /undefined/);
  } finally {
    admin.close();
  }
});

test('a config whose gateway.admin needs an unset variable says so', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'turnout-switch-cli-')), 'gateway.yaml');
  writeFileSync(file, 'gateway:\n  admin:\n    token: ${NO_SUCH_TOKEN_VAR}\nstreamingDomains: []\nroutes: []\n');
  const r = loadAdminSettings(file, {});
  assert.ok('problems' in r);
  assert.match(r.problems[0].message, /NO_SUCH_TOKEN_VAR is not set/);
  assert.equal(r.problems[0].line, 3);
});

test('--by defaults to the login name and host when $USER is unset', () => {
  assert.equal(
    defaultSwitchedBy(
      { USER: 'ann' },
      () => 'x',
      () => 'h1',
    ),
    'cli:ann@h1',
  );
  assert.equal(
    defaultSwitchedBy(
      {},
      () => 'bob',
      () => 'h1',
    ),
    'cli:bob@h1',
  );
  const noPasswd = defaultSwitchedBy(
    {},
    () => {
      throw new Error('ENOENT');
    },
    () => 'h1',
  );
  assert.match(noPasswd, /^cli:uid \d+@h1$/);
});

test('a connection dropped after the switch request was sent: "outcome unknown", exit 3', async () => {
  // The gateway accepted the switch, streamed a first step, then the connection died.
  const midStream = await stub((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify({ progress: { ms: 0, phase: 'prepare', detail: 'asking the fleet' } })}\n`);
    setTimeout(() => res.socket?.destroy(), 50);
  });
  // The gateway read the request and dropped the connection before answering.
  const beforeAnswer = await stub((req) => req.socket.destroy());
  try {
    for (const admin of [midStream, beforeAnswer]) {
      const r = await turnout(['switch', 'orders', '--to', 'green', '--admin', admin.url, '--token', 't']);
      assert.equal(r.code, SwitchExit.OutcomeUnknown, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /outcome unknown: .*check with `turnout status`/);
      assert.doesNotMatch(r.stdout + r.stderr, /SWITCHED|FAILED|REFUSED|refused/);
    }
  } finally {
    midStream.close();
    beforeAnswer.close();
  }
});

test('a gateway that cannot be reached at all was not switched: exit 2, not "unknown"', async () => {
  const gone = await stub(() => {});
  gone.close();
  await new Promise((r) => setTimeout(r, 50));
  const r = await turnout(['switch', 'orders', '--to', 'green', '--admin', gone.url, '--token', 't']);
  assert.equal(r.code, SwitchExit.NotAsked, r.stderr);
  assert.match(r.stderr, /cannot reach the gateway admin API/);
});
