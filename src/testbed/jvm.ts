// Starting Kafka's JVMs: one place for the flags that make them start fast and stay small on a
// 2-core machine, and for the logging setup (Kafka 4.x logs through log4j 2, 3.x through reload4j,
// i.e. the log4j 1 API, and each needs its own config format).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { javaExecutable, type KafkaJars } from './jars.ts';
import { GroupProcess } from './processes.ts';
import { kafkaLine, LogBackend } from './versions.ts';

// Serial GC and the C1-only JIT cut start-up time and CPU use; the peak throughput they give up
// does not matter for tests. Shared class data (CDS) is on by default, -Xshare:auto keeps it soft.
const FAST_START = [
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-XX:-UsePerfData',
  '-Xshare:auto',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
  '-Djava.net.preferIPv4Stack=true',
];

export const Heap = {
  broker: ['-Xms64m', '-Xmx384m'],
  mirrorMaker: ['-Xms64m', '-Xmx384m'],
  tool: ['-Xms16m', '-Xmx256m'],
} as const;

export type LogTarget = { readonly file: string } | { readonly stderr: true };

/** Writes a log config into `dir` and returns the JVM flag that selects it. Daemons log to a file
 *  at INFO; tools log warnings to stderr, where run() collects them. */
export function writeLogConfig(version: string, dir: string, target: LogTarget): string {
  const backend = kafkaLine(version).logBackend;
  const level = 'file' in target ? 'INFO' : 'WARN';
  if (backend === LogBackend.Log4j2) {
    const path = join(dir, 'log4j2.properties');
    const appender =
      'file' in target
        ? ['appender.out.type = File', `appender.out.fileName = ${target.file}`]
        : ['appender.out.type = Console', 'appender.out.target = SYSTEM_ERR'];
    writeFileSync(
      path,
      [
        'status = warn',
        ...appender,
        'appender.out.name = OUT',
        'appender.out.layout.type = PatternLayout',
        'appender.out.layout.pattern = [%d] %p %m (%c)%n',
        `rootLogger.level = ${level}`,
        'rootLogger.appenderRef.out.ref = OUT',
        '',
      ].join('\n'),
    );
    return `-Dlog4j2.configurationFile=${path}`;
  }
  const path = join(dir, 'log4j.properties');
  const appender =
    'file' in target
      ? ['log4j.appender.out=org.apache.log4j.FileAppender', `log4j.appender.out.File=${target.file}`]
      : ['log4j.appender.out=org.apache.log4j.ConsoleAppender', 'log4j.appender.out.Target=System.err'];
  writeFileSync(
    path,
    [
      `log4j.rootLogger=${level}, out`,
      ...appender,
      'log4j.appender.out.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  return `-Dlog4j.configuration=file:${path}`;
}

export interface JvmOptions {
  readonly jars: KafkaJars;
  readonly main: string;
  readonly args: readonly string[];
  readonly heap: readonly string[];
  /** The flag returned by writeLogConfig. */
  readonly logConfigFlag: string;
  readonly cwd?: string;
  readonly outputFile?: string;
  readonly holdsProcessOpen?: boolean;
  readonly extraJvmFlags?: readonly string[];
}

export function javaCommandLine(o: JvmOptions): string[] {
  return [...FAST_START, ...o.heap, ...(o.extraJvmFlags ?? []), o.logConfigFlag, '-cp', o.jars.classpath, o.main, ...o.args];
}

export function spawnJvm(o: JvmOptions): GroupProcess {
  // Drop JAVA_TOOL_OPTIONS so a developer's setting cannot change heaps or add agents under the
  // tests (KAFKA_OPTS and friends are read only by the bin/ scripts, which we do not use).
  const env = { ...process.env };
  delete env.JAVA_TOOL_OPTIONS;
  return new GroupProcess(javaExecutable(), javaCommandLine(o), {
    cwd: o.cwd,
    env,
    outputFile: o.outputFile,
    holdsProcessOpen: o.holdsProcessOpen,
  });
}
