// `turnout demo`: two local single-broker Kafka clusters, "blue" and "green", with MirrorMaker 2
// replicating topics and consumer group offsets from blue to green; runs until Ctrl-C or SIGTERM
// and then stops everything it started (a kill -9 is covered by the test bed's reaper).
import { TestBed } from '../testbed/bed.ts';
import { describeCluster, SASL_USERS } from '../testbed/types.ts';
import { DEFAULT_KAFKA_VERSION } from '../testbed/versions.ts';

export interface DemoOptions {
  readonly kafkaVersion?: string;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const version = opts.kafkaVersion ?? DEFAULT_KAFKA_VERSION;
  const bed = new TestBed();
  const started = Date.now();
  let stopping = false;
  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping MirrorMaker 2 and both clusters...\n');
    await bed.stop();
    if (exitCode === 0) bed.removeRunDir();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  process.stdout.write(`starting Kafka ${version} clusters "blue" and "green" and MirrorMaker 2 blue -> green (logs in ${bed.runDir})...\n`);
  try {
    const [blue, green] = await Promise.all([
      bed.cluster({ name: 'blue', kafkaVersion: version, nodeIdBase: 1 }),
      bed.cluster({ name: 'green', kafkaVersion: version, nodeIdBase: 2 }),
    ]);
    const mm2 = await bed.mirrorMaker({ name: 'blue-to-green', source: 'blue', target: 'green' });
    const out: string[] = [];
    for (const c of [blue, green].map(describeCluster)) {
      out.push(
        `${c.name.padEnd(6)} cluster id ${c.clusterId}, broker node id ${c.brokers.map((b) => b.nodeId).join(',')}`,
        `       PLAINTEXT      ${c.bootstrap('plaintext')}`,
        `       SASL_PLAINTEXT ${c.bootstrap('sasl')}  (SASL/PLAIN)`,
      );
    }
    out.push(
      `SASL users: ${Object.entries(SASL_USERS).map(([u, p]) => `${u}/${p}`).join(', ')}`,
      `MirrorMaker 2 ${mm2.source} -> ${mm2.target}: ${mm2.running ? 'running' : 'not running'}, connectors started: ${mm2.connectors.join(', ')}`,
      '  replicates all topics with their names unchanged and syncs consumer group offsets every second',
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${bed.runDir}`,
      'press Ctrl-C to stop',
    );
    process.stdout.write(out.join('\n') + '\n');
  } catch (err) {
    process.stderr.write(`turnout demo: ${(err as Error).message}\nlogs are kept in ${bed.runDir}\n`);
    await stop(1);
  }
  // The brokers' process handles do not keep Node alive; this timer does until a signal arrives.
  setInterval(() => {}, 1 << 30);
}
