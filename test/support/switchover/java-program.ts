// Compiles test/support/java/SwitchoverClient.java against the kafka-clients of one Kafka version
// (cached outside the git tree, keyed by the source's hash) and starts it as a long-running client.
// Its log (warnings, plus INFO from the producer internals and metadata, which say what the client
// did at a switch: producer id and epoch changes, cluster id, disconnects) goes to stderr.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, javaExecutable, resolveKafka } from '../../../src/testbed/jars.ts';
import { Heap, javaCommandLine, writeLogConfig } from '../../../src/testbed/jvm.ts';
import { DEFAULT_KAFKA_VERSION, kafkaLine, LogBackend } from '../../../src/testbed/versions.ts';
import { type ClientTarget, runChild } from '../clients/common.ts';
import { javaClientConfig } from '../clients/java.ts';
import { LongRunningClient } from './long-running.ts';

const SOURCE = fileURLToPath(new URL('../java/SwitchoverClient.java', import.meta.url));
const MAIN = 'SwitchoverClient';

/** Loggers logged at INFO (the rest at WARN). */
const INFO_LOGGERS = [
  'org.apache.kafka.clients.Metadata',
  'org.apache.kafka.clients.producer.internals.TransactionManager',
  'org.apache.kafka.clients.producer.internals.Sender',
];

interface Compiled {
  classpath: string;
  libDir: string;
  logConfigFlag: string;
}

const compiled = new Map<string, Promise<Compiled>>();

export function compileSwitchoverClient(version: string = DEFAULT_KAFKA_VERSION): Promise<Compiled> {
  let pending = compiled.get(version);
  if (!pending) {
    pending = compileUncached(version);
    compiled.set(version, pending);
    pending.catch(() => compiled.delete(version));
  }
  return pending;
}

async function compileUncached(version: string): Promise<Compiled> {
  const jars = await resolveKafka(version);
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const dir = join(cacheDir(), 'test-clients', `switchover-java-kafka-${version}-${hash}`);
  if (!existsSync(join(dir, 'compiled'))) {
    // Compiled in a private folder and renamed into place: concurrent runs never see half a class.
    const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(staging, { recursive: true });
      await runChild({
        client: 'java',
        step: `compile SwitchoverClient (Kafka ${version})`,
        command: 'javac',
        args: ['--release', '17', '-nowarn', '-cp', jars.classpath, '-d', staging, SOURCE],
        timeoutMs: 120_000,
        installHint: 'Install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless).',
      });
      await mkdir(join(staging, 'compiled'));
      await rename(staging, dir).catch((err) => {
        if (!existsSync(join(dir, 'compiled'))) throw err;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  const logDir = mkdtempSync(join(tmpdir(), 'turnout-switchover-java-'));
  process.on('exit', () => rmSync(logDir, { recursive: true, force: true }));
  return { classpath: `${dir}${delimiter}${jars.classpath}`, libDir: jars.libDir, logConfigFlag: logConfig(version, logDir) };
}

function logConfig(version: string, dir: string): string {
  if (kafkaLine(version).logBackend !== LogBackend.Log4j2) return writeLogConfig(version, dir, { stderr: true });
  const path = join(dir, 'log4j2.properties');
  const lines = [
    'status = warn',
    'appender.out.type = Console',
    'appender.out.target = SYSTEM_ERR',
    'appender.out.name = OUT',
    'appender.out.layout.type = PatternLayout',
    'appender.out.layout.pattern = [%d{HH:mm:ss.SSS}] %p %m (%c{1})%n',
    'rootLogger.level = WARN',
    'rootLogger.appenderRef.out.ref = OUT',
    ...INFO_LOGGERS.flatMap((name, i) => [`logger.l${i}.name = ${name}`, `logger.l${i}.level = INFO`]),
    '',
  ];
  writeFileSync(path, lines.join('\n'));
  return `-Dlog4j2.configurationFile=${path}`;
}

/** Starts `SwitchoverClient <mode> <args...> <config...>` connected to `target`. */
export async function startSwitchoverClient(
  name: string,
  target: ClientTarget,
  mode: 'idempotent' | 'transactional' | 'admin',
  args: readonly string[],
  config: Readonly<Record<string, string>> = {},
  version: string = DEFAULT_KAFKA_VERSION,
): Promise<LongRunningClient> {
  const c = await compileSwitchoverClient(version);
  const env = { ...process.env };
  delete env.JAVA_TOOL_OPTIONS;
  const configArgs = Object.entries({ ...javaClientConfig(target), ...config }).map(([k, v]) => `${k}=${v}`);
  return new LongRunningClient(
    name,
    javaExecutable(),
    javaCommandLine({
      jars: { version, libDir: c.libDir, classpath: c.classpath },
      main: MAIN,
      args: [mode, ...args, ...configArgs],
      heap: Heap.tool,
      logConfigFlag: c.logConfigFlag,
    }),
    env,
  );
}
