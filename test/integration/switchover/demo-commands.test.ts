// What `turnout demo` tells a newcomer to type works as printed, in the printed order, on a machine
// with only Java, Maven and Node: Kafka's own tools through `turnout kafka` (stdin, stdout and exit
// status passed through), then preflight and a planned switch right after an all-topics listing
// (kafka-topics --list), which must not make every topic count as "in use".
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEMO_ADMIN_TOKEN, demoGatewayConfig } from '../../../src/cli/demo.ts';
import { DEMO_GROUP, DEMO_TOPIC, type DemoCommand, demoCommands, formatDemoCommand } from '../../../src/cli/demo-commands.ts';
import { Gateway } from '../../../src/gateway.ts';
import { silentLogger } from '../../../src/observability/log.ts';
import { DEFAULT_KAFKA_VERSION, SASL_USERS, testBed, writeSaslClientProperties } from '../../../src/testbed/index.ts';
import { freePortBlock } from '../../support/gateway.ts';
import { eventually } from '../../support/switchover/long-running.ts';

const TURNOUT = fileURLToPath(new URL('../../../bin/turnout.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `./turnout ARGS` as a child process, with `input` on its stdin. */
function turnout(args: readonly string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TURNOUT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** The topic names of preflight's topic table. */
const topicRows = (out: string) => {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => l.startsWith('topic '));
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end).map((l) => l.split(/\s+/)[0]);
};

const shown = (c: DemoCommand, r: Run) => `${formatDemoCommand(c)}\nexit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;

describe('the commands turnout demo prints', () => {
  let gateway: Gateway;
  let adminUrl: string;
  let commands: DemoCommand[];
  const scratch = mkdtempSync(join(tmpdir(), 'turnout-demo-commands-'));

  before(async () => {
    const bed = await testBed();
    const [blue, green] = await Promise.all([
      bed.cluster({ name: 'dc-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'dc-green', brokers: 1, nodeIdBase: 2 }),
    ]);
    await Promise.all([
      bed.mirrorMaker({ name: 'dc-blue-to-green', source: 'dc-blue', target: 'dc-green', bothWays: true }),
      bed.mirrorMaker({ name: 'dc-green-to-blue', source: 'dc-green', target: 'dc-blue', bothWays: true }),
    ]);
    const base = (await freePortBlock(19)) + 2;
    gateway = new Gateway(demoGatewayConfig([blue, green], base), { log: silentLogger() });
    await gateway.start();
    adminUrl = `http://127.0.0.1:${base - 2}`;
    const clientConfig = join(scratch, 'client.properties');
    writeSaslClientProperties(clientConfig, 'kafka', SASL_USERS.kafka);
    commands = demoCommands({
      bootstrap: `127.0.0.1:${base}`,
      adminUrl,
      token: DEMO_ADMIN_TOKEN,
      clientConfig,
      kafkaVersion: DEFAULT_KAFKA_VERSION,
      route: 'demo',
      from: 'dc-blue',
      to: 'dc-green',
    });
  });

  after(async () => {
    await gateway?.stop(2000);
    rmSync(scratch, { recursive: true, force: true });
  });

  const topicsInUse = async () => {
    const body = (await (await fetch(`${adminUrl}/routes`)).json()) as { routes: { name: string; topicsInUse?: { topic: string; lastUsed: string }[] }[] };
    return body.routes.find((r) => r.name === 'demo')!.topicsInUse!;
  };

  test('each runs and succeeds in the printed order; the planned switch works right after kafka-topics --list', { timeout: 600_000 }, async () => {
    const lines = ['first order', 'second order', 'third order'];
    for (const c of commands) {
      const tool = c.args[0] === 'kafka' ? c.args[1] : c.args[0];
      let r: Run;
      if (c.readsStdin === true) {
        r = await turnout(c.args, `${lines.join('\n')}\n`);
      } else if (c.runsUntilStopped === true) {
        // A user stops it with Ctrl-C; here it stops by itself after the records typed above.
        r = await turnout([...c.args, '--max-messages', String(lines.length)]);
        for (const l of lines) assert.ok(r.stdout.split('\n').includes(l), shown(c, r));
      } else if (c.args[0] === 'preflight') {
        // Someone typing the commands takes seconds between them; MirrorMaker 2 copies the new
        // topic to the other cluster within that. The first answer must not list unused topics.
        r = await turnout(c.args);
        assert.deepEqual(topicRows(r.stdout), [DEMO_TOPIC], shown(c, r));
        const first = r;
        await eventually(
          async () => {
            if (r.code !== 0) r = await turnout(c.args);
            assert.equal(r.code, 0, `${shown(c, r)}\n(first answer:\n${first.stdout})`);
          },
          60_000,
          2000,
        );
        assert.match(r.stdout, /OK: nothing blocks a planned switch/, shown(c, r));
      } else {
        r = await turnout(c.args);
      }
      assert.equal(r.code, 0, shown(c, r));
      if (tool === 'topics' && c.args.includes('--list')) {
        assert.deepEqual(await topicsInUse(), [], 'listing every topic makes none of them "in use"');
        // Right after the listing, nothing blocks a switch: preflight is SAFE for the route.
        const pf = await turnout(['preflight', 'demo', '--to', 'dc-green', '--admin', adminUrl, '--token', DEMO_ADMIN_TOKEN]);
        assert.equal(pf.code, 0, pf.stdout + pf.stderr);
        assert.match(pf.stdout, /OK: nothing blocks a planned switch/);
        assert.deepEqual(topicRows(pf.stdout), ['(none'], pf.stdout);
        // And a planned switch there and back succeeds.
        for (const to of ['dc-green', 'dc-blue']) {
          const sw = await turnout(['switch', 'demo', '--to', to, '--mode', 'planned', '--admin', adminUrl, '--token', DEMO_ADMIN_TOKEN]);
          assert.equal(sw.code, 0, sw.stdout + sw.stderr);
          assert.match(sw.stdout, /SWITCHED/, sw.stdout);
        }
      }
      if (c.args[0] === 'switch') assert.match(r.stdout, /SWITCHED/, shown(c, r));
      if (tool === 'consumer-groups') assert.match(r.stdout, new RegExp(`${DEMO_GROUP}\\s+${DEMO_TOPIC}`), shown(c, r));
      if (tool === 'verifiable-producer') assert.equal((r.stdout.match(/"producer_send_success"/g) ?? []).length, 10, shown(c, r));
    }
    const used = await topicsInUse();
    assert.deepEqual(
      used.map((t) => t.topic),
      [DEMO_TOPIC],
      'only the topic clients produced to and read from',
    );
    assert.ok(Date.now() - Date.parse(used[0].lastUsed) < 120_000, `last used ${used[0].lastUsed}`);
  });

  test("turnout kafka passes the tool's failure through as its exit status, and names unknown tools", { timeout: 120_000 }, async () => {
    const bootstrap = commands[0].args[3];
    const config = commands[0].args[5];
    const missing = await turnout([
      'kafka',
      'topics',
      '--bootstrap-server',
      bootstrap,
      '--command-config',
      config,
      '--describe',
      '--topic',
      'dc-no-such-topic',
    ]);
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(missing.stdout + missing.stderr, /dc-no-such-topic/);
    const unknown = await turnout(['kafka', 'no-such-tool']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown tool "no-such-tool"; one of: console-producer, console-consumer, consumer-groups, topics/);
  });
});
