// `turnout kafka TOOL [ARGS...]`: Kafka's own command line tools (kafka-topics.sh and friends)
// without a Kafka download: the tool's main class runs on a JVM from the jars the test bed already
// resolves from Maven Central and caches. Arguments, stdin, stdout and stderr pass straight through,
// and the command exits with the tool's status.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { javaExecutable, resolveKafka } from '../testbed/jars.ts';
import { Heap, javaCommandLine, writeLogConfig } from '../testbed/jvm.ts';
import { DEFAULT_KAFKA_VERSION, KafkaTool, type KafkaToolName, kafkaLine } from '../testbed/versions.ts';

export const KAFKA_TOOLS: readonly KafkaToolName[] = Object.values(KafkaTool);

export interface KafkaToolOptions {
  readonly kafkaVersion?: string;
}

/** The tool name as given, with an optional "kafka-" prefix and ".sh" suffix (the script names). */
export function toolByName(name: string): KafkaToolName | undefined {
  const bare = name.replace(/^kafka-/, '').replace(/\.sh$/, '');
  return KAFKA_TOOLS.find((t) => t === bare);
}

/** Exit code when the tool could not be started (unknown name, no Java, jars not resolvable). */
export const KAFKA_TOOL_NOT_STARTED = 2;

/** Runs the tool in the foreground and returns its exit status (128 + signal number if killed). */
export async function runKafkaTool(name: string, args: readonly string[], opts: KafkaToolOptions = {}): Promise<number> {
  const tool = toolByName(name);
  if (tool === undefined) {
    process.stderr.write(`turnout kafka: unknown tool "${name}"; one of: ${KAFKA_TOOLS.join(', ')}\n`);
    return KAFKA_TOOL_NOT_STARTED;
  }
  const version = opts.kafkaVersion ?? process.env.TURNOUT_KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
  let jars;
  let main: string;
  try {
    main = kafkaLine(version).tools[tool];
    jars = await resolveKafka(version, (line) => process.stderr.write(`turnout: ${line}\n`));
  } catch (err) {
    process.stderr.write(`turnout kafka: ${(err as Error).message}\n`);
    return KAFKA_TOOL_NOT_STARTED;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'turnout-kafka-tool-'));
  try {
    // Tools log warnings to stderr only, so their stdout stays the tool's answer.
    const logFlag = writeLogConfig(version, scratch, { stderr: true });
    const env = { ...process.env };
    delete env.JAVA_TOOL_OPTIONS;
    const child = spawn(javaExecutable(), javaCommandLine({ jars, main, args, heap: Heap.tool, logConfigFlag: logFlag }), { stdio: 'inherit', env });
    // Ctrl-C reaches the JVM directly (same process group); Node waits for it to finish its
    // shutdown hooks (the console consumer prints its count) instead of dying first.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve) => {
      child.on('error', (err) => {
        process.stderr.write(`turnout kafka: cannot start ${javaExecutable()}: ${err.message}\n`);
        resolve(KAFKA_TOOL_NOT_STARTED);
      });
      child.on('close', (code, signal) => {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
        resolve(code ?? 128 + (signal !== null ? osConstants.signals[signal] : 0));
      });
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
