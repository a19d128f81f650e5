// `turnout demo`: two local single-broker Kafka clusters, "blue" and "green", with MirrorMaker 2
// replicating topics both ways (each record crosses once: copies are marked and not copied back),
// and the gateway in front of blue with a route whose switches are planned (zero loss); runs until
// Ctrl-C or SIGTERM and then stops everything it started (a kill -9 is covered by the test bed's
// reaper).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, type GatewayConfig, Secret, virtualClusterId } from '../config/index.ts';
import { Gateway } from '../gateway.ts';
import { createLogger } from '../observability/log.ts';
import { clientTable, runSwitchoverScenario, switchTable } from '../scenario/switchover.ts';
import { VerifiablePair } from '../scenario/verifiable-clients.ts';
import { TestBed } from '../testbed/bed.ts';
import { isKafkaCached, resolveKafka } from '../testbed/jars.ts';
import { canBind } from '../testbed/ports.ts';
import { kafkaTools, writeSaslClientProperties } from '../testbed/tools.ts';
import type { ClusterDescriptor } from '../testbed/types.ts';
import { describeCluster, SASL_USERS } from '../testbed/types.ts';
import { DEFAULT_KAFKA_VERSION, KafkaTool } from '../testbed/versions.ts';
import { demoCommands, formatDemoCommand } from './demo-commands.ts';

export interface DemoOptions {
  readonly kafkaVersion?: string;
  /** Also run a producer and consumer through a planned switch to green and back, and print the result. */
  readonly scenario?: boolean;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const version = opts.kafkaVersion ?? DEFAULT_KAFKA_VERSION;
  const bed = new TestBed();
  const started = Date.now();
  let stopping = false;
  let gateway: Gateway | null = null;
  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the gateway, MirrorMaker 2 and both clusters...\n');
    await gateway?.stop(2000);
    await bed.stop();
    if (exitCode === 0) bed.removeRunDir();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const step = (what: string) => {
    const t = Date.now();
    process.stdout.write(`${what}...\n`);
    return (done: string) => process.stdout.write(`  ${done} in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
  };
  try {
    if (!isKafkaCached(version)) {
      const done = step(`downloading Kafka ${version} from Maven Central (first run only)`);
      await resolveKafka(version, (line) => process.stdout.write(`  ${line}\n`));
      done('jars ready');
    }
    let done = step(`starting Kafka ${version} clusters "blue" and "green" (one KRaft broker each; logs in ${bed.runDir})`);
    const [blue, green] = await Promise.all([
      bed.cluster({ name: 'blue', kafkaVersion: version, nodeIdBase: 1 }),
      bed.cluster({ name: 'green', kafkaVersion: version, nodeIdBase: 2 }),
    ]);
    done('both clusters up');
    done = step('starting MirrorMaker 2 blue -> green and green -> blue');
    const [mm2, mm2back] = await Promise.all([
      bed.mirrorMaker({ name: 'blue-to-green', source: 'blue', target: 'green', bothWays: true }),
      bed.mirrorMaker({ name: 'green-to-blue', source: 'green', target: 'blue', bothWays: true }),
    ]);
    done('MirrorMaker 2 running');
    const base = await firstFreeBlock([19092, 29092, 39092], 17);
    gateway = new Gateway(demoGatewayConfig([describeCluster(blue), describeCluster(green)], base), { log: createLogger('warn', process.stderr) });
    await gateway.start();
    const clientConfig = join(bed.runDir, 'client.properties');
    writeSaslClientProperties(clientConfig, DEMO_USER, SASL_USERS[DEMO_USER]);
    const out: string[] = [''];
    for (const c of [blue, green].map(describeCluster)) {
      out.push(
        `${c.name.padEnd(6)} cluster id ${c.clusterId}, broker node id ${c.brokers.map((b) => b.nodeId).join(',')}`,
        `       PLAINTEXT      ${c.bootstrap('plaintext')}`,
        `       SASL_PLAINTEXT ${c.bootstrap('sasl')}  (SASL/PLAIN)`,
      );
    }
    out.push(
      `SASL users: ${Object.entries(SASL_USERS)
        .map(([u, p]) => `${u}/${p}`)
        .join(', ')}`,
      ...[mm2, mm2back].map(
        (m) => `MirrorMaker 2 ${m.source} -> ${m.target}: ${m.running ? 'running' : 'not running'}, connectors started: ${m.connectors.join(', ')}`,
      ),
      '  both ways, topic names unchanged; copies carry a turnout.replicated header and are never copied back',
      '',
      `gateway   bootstrap 127.0.0.1:${base} (route "demo" -> blue, SASL/PLAIN passthrough), brokers on ports ${base + 1}-${base + 16}`,
      `          admin     http://127.0.0.1:${base - 2}/routes  /metrics  /ready`,
      '',
      `try it, in this order, from ${fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '')} (Kafka's own tools run through ./turnout kafka; client settings for the user ${DEMO_USER} are in ${clientConfig}):`,
    );
    const commands = demoCommands({
      bootstrap: `127.0.0.1:${base}`,
      adminUrl: `http://127.0.0.1:${base - 2}`,
      token: DEMO_ADMIN_TOKEN,
      clientConfig,
      kafkaVersion: version,
      route: 'demo',
      from: 'blue',
      to: 'green',
    });
    for (const c of commands) out.push(`  # ${c.note}`, `  ${formatDemoCommand(c)}`);
    out.push('', `ready in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${bed.runDir}`, 'press Ctrl-C to stop');
    process.stdout.write(`${out.join('\n')}\n`);
    if (opts.scenario === true)
      await demoScenario(version, [describeCluster(green), describeCluster(blue)], `127.0.0.1:${base}`, `http://127.0.0.1:${base - 2}`);
  } catch (err) {
    process.stderr.write(`turnout demo: ${(err as Error).message}\nlogs are kept in ${bed.runDir}\n`);
    await stop(1);
  }
  // The brokers' process handles do not keep Node alive; this timer does until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

/**
 * `--scenario`: Kafka's VerifiableProducer (idempotent, acks=all) and VerifiableConsumer (a group
 * that commits after each batch) run through the gateway while the route is switched to green and
 * back with planned switches; then the delivery check: every acknowledged record consumed, none
 * lost, and how many were read twice.
 */
async function demoScenario(version: string, clusters: ClusterDescriptor[], bootstrap: string, adminUrl: string): Promise<void> {
  const tools = await kafkaTools(version);
  const topic = 'demo-scenario';
  for (const c of clusters) {
    const r = await tools.run(KafkaTool.Topics, [
      ...tools.connectionArgs(KafkaTool.Topics, c.bootstrap()),
      '--create',
      '--if-not-exists',
      '--topic',
      topic,
      '--partitions',
      '3',
      '--replication-factor',
      '1',
    ]);
    if (r.exitCode !== 0) throw new Error(`cannot create topic ${topic}: ${r.stderr}`);
  }
  process.stdout.write(`\nscenario: VerifiableProducer and VerifiableConsumer on "${topic}" through ${bootstrap}; planned switches blue -> green -> blue...\n`);
  const pair = new VerifiablePair({ tools, name: 'java', bootstrap, topic, group: 'demo-scenario-app', idempotent: true, autoCommit: false, user: 'kafka' });
  const result = await runSwitchoverScenario({
    adminUrl,
    token: DEMO_ADMIN_TOKEN,
    route: 'demo',
    bootstrap,
    domains: ['blue', 'green'],
    clients: [pair],
    switches: 2,
    mode: 'planned',
    pauseMs: 5000,
    by: 'demo --scenario',
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  const t = result.totals;
  const lines = ['', ...switchTable(result), '', ...clientTable(result), ''];
  lines.push(
    t.lost === 0 && t.crashed === 0 && result.settled
      ? `verified: ${t.acked} records acknowledged, all consumed (${t.lost} lost, ${t.duplicates} read twice) across ${t.switched} planned switches; producer stall max ${Math.round(t.producerStall.max)} ms`
      : `NOT VERIFIED: ${t.lost} acknowledged records were not consumed${t.crashed > 0 ? `, ${t.crashed} client pair(s) crashed` : ''}${result.settled ? '' : ' (consumption did not settle in time)'}`,
    'the clusters, MirrorMaker 2 and the gateway keep running; press Ctrl-C to stop',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The first base port p of `candidates` such that p-2 .. p+count-1 are free. */
async function firstFreeBlock(candidates: number[], count: number): Promise<number> {
  for (const base of candidates) {
    let free = true;
    for (let p = base - 2; p < base + count && free; p++) free = await canBind(p);
    if (free) return base;
  }
  throw new Error(`no free ports for the gateway around ${candidates.join(', ')}`);
}

/** One route, "demo", in front of the first cluster (blue); the second (green) is a second streaming
 *  domain, ready for a switch. The admin listener is on base-2, broker ports base+1..base+16. */
export function demoGatewayConfig(clusters: ClusterDescriptor[], base: number): GatewayConfig {
  return {
    admin: { host: '127.0.0.1', port: base - 2 },
    adminToken: new Secret(DEMO_ADMIN_TOKEN),
    instanceId: 'demo',
    state: { topic: DEFAULTS.stateTopic },
    switchover: { drainTimeoutMs: DEFAULTS.drainTimeoutMs, fleetTimeoutMs: DEFAULTS.fleetTimeoutMs, fenceTimeoutMs: DEFAULTS.fenceTimeoutMs },
    audit: { file: null },
    log: { level: 'warn' },
    limits: {
      maxFrameBytes: DEFAULTS.maxFrameBytes,
      maxBufferedBytesPerConnection: DEFAULTS.maxBufferedBytesPerConnection,
      upstreamConnectTimeoutMs: DEFAULTS.upstreamConnectTimeoutMs,
    },
    shutdownTimeoutMs: 5000,
    streamingDomains: clusters.map((c) => ({
      name: c.name,
      type: 'kafka',
      kafkaCluster: {
        name: c.name,
        bootstrapServers: [
          {
            id: 'sasl-listener',
            endpoints: c.brokers.map((b) => ({ host: b.host, port: b.saslPort })),
            security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'admin', password: new Secret(SASL_USERS.admin) } },
          },
        ],
      },
    })),
    routes: [
      {
        name: 'demo',
        endpoint: { host: '127.0.0.1', port: base },
        bindAddress: '127.0.0.1',
        brokerPorts: { base: base + 1, count: 16 },
        streamingDomain: { name: clusters[0].name, bootstrapServerId: 'sasl-listener' },
        authentication: { type: 'passthrough' },
        clusterId: virtualClusterId('demo'),
        replication: { type: 'mirrormaker2', topics: null, groups: null },
      },
    ],
  };
}

/** The user of the printed client commands. */
const DEMO_USER = 'kafka';

/** The demo's admin token (a local demo; real deployments set gateway.admin.token from a secret). */
export const DEMO_ADMIN_TOKEN = 'demo-admin-token';
