// `npm run verify:switchover`: the switchover verification scenario at full size, written up as
// docs/switchover-verification.md. Starts its own Kafka clusters "vs-blue" and "vs-green" with
// MirrorMaker 2 both ways, an in-process gateway with one route ("orders", mirrormaker2
// replication, switch state on), and runs client pairs through N planned switches, then fresh
// pairs through a few hot switches as the baseline: the four original pairs (Java idempotent +
// manual commit, Java non-idempotent + auto-commit, librdkafka, kafkajs) and the client matrix's
// Java group.protocol=consumer, librdkafka enable.idempotence=true, franz-go and sarama (defaults)
// (test/support/switchover/client-matrix.ts VERIFICATION_CELLS), all on the one route. Everything
// it started is stopped on success, failure, Ctrl-C and SIGTERM (the test bed's exit hook and
// reaper cover a hard crash).
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runSwitchoverScenario, type ScenarioMode, type ScenarioResult } from '../src/scenario/switchover.ts';
import { TestBed } from '../src/testbed/bed.ts';
import { kafkaTools } from '../src/testbed/tools.ts';
import { describeCluster } from '../src/testbed/types.ts';
import { DEFAULT_KAFKA_VERSION } from '../src/testbed/versions.ts';
import { domainFor, startGateway, type TestGateway } from '../test/support/gateway.ts';
import { stopAllClients } from '../test/support/clients/common.ts';
import { createScenarioTopics, scenarioPairs } from '../test/support/switchover/scenario-clients.ts';
import { verificationPairs } from '../test/support/switchover/client-matrix.ts';
import { rdkafkaPython } from '../test/support/clients/python-venv.ts';
import { buildGoClients } from '../test/support/switchover/go-clients.ts';
import { collectEnvironment, renderVerificationReport, type GatewayLogSummary, type VerificationRun } from './verify-switchover/report.ts';

const USAGE = `usage: npm run verify:switchover -- [options]

Runs Kafka's VerifiableProducer/VerifiableConsumer (idempotent + manual commit, non-idempotent +
auto-commit, and idempotent + auto-commit with group.protocol=consumer), librdkafka pairs (defaults,
and enable.idempotence=true), a kafkajs pair, and franz-go and sarama pairs (defaults) through the
gateway while it switches a route back and forth between two clusters (MirrorMaker 2 both ways),
and checks that every acknowledged record is consumed. Writes a Markdown report.

  --switches N          planned switches (default 20)
  --hot-switches N      hot switches of the baseline run (default 4; 0 skips it)
  --pause SECONDS       pause after each switch before the next (default 8)
  --java-rate N         records per second of each Java producer (default 100)
  --classic-only        only the four original pairs (Java x2, librdkafka, kafkajs)
  --out FILE            report file (default docs/switchover-verification.md)
  -h, --help            this text
`;

const ROUTE = 'orders';
const TOKEN = 'verify-switchover-token';
const log = (line: string) => process.stderr.write(`verify-switchover: ${line}\n`);

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      switches: { type: 'string', default: '20' },
      'hot-switches': { type: 'string', default: '4' },
      pause: { type: 'string', default: '8' },
      'java-rate': { type: 'string', default: '100' },
      'classic-only': { type: 'boolean', default: false },
      out: { type: 'string', default: 'docs/switchover-verification.md' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not "${text}"`);
    return n;
  };
  return {
    help: values.help,
    switches: int('switches', values.switches, 1),
    hotSwitches: int('hot-switches', values['hot-switches'], 0),
    pauseMs: Number(values.pause) * 1000,
    javaRate: int('java-rate', values['java-rate'], 1),
    classicOnly: values['classic-only'],
    out: values.out,
  };
}

let o: ReturnType<typeof options>;
try {
  o = options();
  if (!(o.pauseMs >= 0)) throw new Error('--pause must be a number of seconds');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (o.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const bed = new TestBed();
let gw: TestGateway | undefined;
let stopping: Promise<void> | undefined;
let gatewayFile: WriteStream | undefined;

/** Stops the clients, the gateway, MirrorMaker and the clusters; at most ~30 s, then exit hooks kill the rest. */
function stopEverything(): Promise<void> {
  stopping ??= (async () => {
    const cap = new Promise<void>((r) => setTimeout(r, 30_000).unref());
    await Promise.race([
      (async () => {
        await stopAllClients().catch(() => {});
        await gw?.stop().catch(() => {});
        await bed.stop().catch(() => {});
      })(),
      cap,
    ]);
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the clients, the gateway, MirrorMaker 2 and both clusters (logs in ${bed.runDir})`);
    if (stopping) process.exit(130); // a second Ctrl-C: the exit hook kills every process group at once
    void stopEverything().finally(() => process.exit(130));
  });
}

const started = Date.now();
let exitCode = 1;
// The machine's 1-minute load average every 5 s: everything runs on one machine, and other work on
// it shows up as stalls.
const load: number[] = [loadavg()[0]];
const loadTimer = setInterval(() => load.push(loadavg()[0]), 5_000);
loadTimer.unref();
try {
  // The librdkafka virtualenv and the Go clients, before anything starts (cached across runs).
  rdkafkaPython((t) => log(t.trim()));
  if (!o.classicOnly) await buildGoClients((t) => log(t.trim()));
  const env = collectEnvironment();
  log(`logs in ${bed.runDir}; starting Kafka ${DEFAULT_KAFKA_VERSION} clusters vs-blue and vs-green`);
  process.env.TURNOUT_CLIENT_LOG_DIR ??= bed.runDir; // each client program's own log, kept beside the gateway's
  const [blue, green] = (await Promise.all([
    bed.cluster({ name: 'vs-blue', brokers: 1, nodeIdBase: 1 }),
    bed.cluster({ name: 'vs-green', brokers: 1, nodeIdBase: 401 }),
  ])).map(describeCluster);
  log('starting MirrorMaker 2 both ways (vs-blue -> vs-green and vs-green -> vs-blue, topics vs-.*)');
  await Promise.all([
    bed.mirrorMaker({ name: 'vs-blue-to-green', source: 'vs-blue', target: 'vs-green', topics: 'vs-.*', bothWays: true }),
    bed.mirrorMaker({ name: 'vs-green-to-blue', source: 'vs-green', target: 'vs-blue', topics: 'vs-.*', bothWays: true }),
  ]);
  const tools = await kafkaTools(DEFAULT_KAFKA_VERSION);
  const gatewayLog = join(bed.runDir, 'gateway.log');
  const logSummary: GatewayLogSummary = { file: gatewayLog, lines: 0, warnings: [] };
  const file = createWriteStream(gatewayLog);
  gatewayFile = file;
  const tee = {
    write(chunk: string | Uint8Array): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        logSummary.lines++;
        if (line.includes('"level":"warn"') || line.includes('"level":"error"') || line.includes('"level":"fatal"')) logSummary.warnings.push(line);
      }
      return file.writableEnded ? true : file.write(chunk);
    },
  } as unknown as NodeJS.WritableStream;
  gw = await startGateway({
    domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
    routes: [{ name: ROUTE, domain: 'blue', listener: 'sasl', brokerPortCount: 16, replication: { type: 'mirrormaker2', topics: null, groups: null } }],
    stateTopic: '_turnout_state',
    adminToken: TOKEN,
    logDestination: tee,
  });
  log(`gateway: route ${ROUTE} on ${gw.bootstrap[ROUTE]}, admin ${gw.adminUrl}, log ${gatewayLog}`);

  const runId = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').toLowerCase();
  const runs: VerificationRun[] = [];
  const plan: [ScenarioMode, number][] = [['planned', o.switches], ...(o.hotSwitches > 0 ? [['hot', o.hotSwitches] as [ScenarioMode, number]] : [])];
  for (const [mode, switches] of plan) {
    const pairs = { tools, bootstrap: gw.bootstrap[ROUTE], prefix: 'vs', suffix: `${runId}-${mode}`, javaThroughput: o.javaRate };
    const clients = o.classicOnly ? scenarioPairs(pairs) : verificationPairs(pairs);
    await createScenarioTopics([blue, green], clients.map((c) => c.topic));
    const warningsBefore = logSummary.warnings.length;
    const result: ScenarioResult = await runSwitchoverScenario({
      adminUrl: gw.adminUrl, token: TOKEN, route: ROUTE, bootstrap: gw.bootstrap[ROUTE], domains: ['blue', 'green'],
      clients, switches, mode, pauseMs: o.pauseMs, warmupRecords: 200, settleTimeoutMs: 180_000, by: 'npm run verify:switchover', log,
    });
    runs.push({ result, clientLogs: clients.map((c) => clientLog(c)), gatewayWarnings: logSummary.warnings.slice(warningsBefore) });
  }
  writeFileSync(join(bed.runDir, 'results.json'), JSON.stringify(runs.map((r) => r.result), null, 2));

  const out = resolve(o.out);
  mkdirSync(dirname(out), { recursive: true });
  const command = `npm run verify:switchover${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  clearInterval(loadTimer);
  const report = renderVerificationReport({ env, command, runs, gatewayLog: logSummary, runDir: bed.runDir, durationMs: Date.now() - started, kafkaVersion: tools.version, blue, green, load });
  writeFileSync(out, report.markdown);
  process.stdout.write(`\n${report.summary}\n`);
  log(`report written to ${out} after ${((Date.now() - started) / 60_000).toFixed(1)} minutes; logs and results.json kept in ${bed.runDir}`);
  exitCode = report.targetsMet ? 0 : 1;
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}\nlogs are kept in ${bed.runDir}`);
  exitCode = 1;
} finally {
  await stopEverything();
  await new Promise<void>((r) => (gatewayFile ? gatewayFile.end(r) : r()));
}
process.exit(exitCode);

/** The tail of each client's own log (warnings), for the report's evidence section. */
function clientLog(c: unknown): { name: string; text: string } {
  const x = c as { name: string; logs?: () => { producer: string; consumer: string }; log?: () => string; clients?: { warnings(): string[] } };
  if (x.logs) {
    const l = x.logs();
    return { name: x.name, text: `--- producer ---\n${l.producer}\n--- consumer ---\n${l.consumer}` };
  }
  if (x.log) return { name: x.name, text: x.log() };
  if (x.clients) return { name: x.name, text: x.clients.warnings().join('\n') };
  return { name: x.name, text: '' };
}

