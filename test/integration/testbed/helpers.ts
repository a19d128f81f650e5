// Shared steps of the test bed's own tests: produce lines with the console producer, read them back
// with the console consumer, each over a chosen listener and SASL user.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, type ListenerKind, type ToolResult } from '../../../src/testbed/index.ts';

/** Topic and group names unique to one test, so tests sharing a cluster never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export interface ClientChoice {
  readonly listener?: ListenerKind;
  /** SASL user and password; defaults to alice's when the listener is SASL. */
  readonly user?: string;
  readonly password?: string;
}

function clientArgs(tools: KafkaTools, tool: (typeof KafkaTool)[keyof typeof KafkaTool], cluster: ClusterDescriptor, c: ClientChoice): string[] {
  const listener = c.listener ?? 'plaintext';
  const config = listener === 'sasl' ? tools.saslClientConfig(c.user ?? 'alice', c.password) : undefined;
  return tools.connectionArgs(tool, cluster.bootstrap(listener), config);
}

export async function produceLines(
  tools: KafkaTools,
  cluster: ClusterDescriptor,
  topic: string,
  lines: readonly string[],
  c: ClientChoice = {},
): Promise<ToolResult> {
  return tools.run(KafkaTool.ConsoleProducer, [...clientArgs(tools, KafkaTool.ConsoleProducer, cluster, c), '--topic', topic], {
    input: lines.map((l) => `${l}\n`).join(''),
  });
}

/** Reads `count` records from the beginning of `topic` and returns their values. */
export async function consumeLines(
  tools: KafkaTools,
  cluster: ClusterDescriptor,
  topic: string,
  count: number,
  c: ClientChoice & { readonly group?: string } = {},
): Promise<string[]> {
  const group = c.group ? ['--group', c.group] : [];
  const r = await tools.run(KafkaTool.ConsoleConsumer, [
    ...clientArgs(tools, KafkaTool.ConsoleConsumer, cluster, c),
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    String(count),
    '--timeout-ms',
    '30000',
    ...group,
  ]);
  assert.equal(r.exitCode, 0, `console consumer failed:\n${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.length > 0);
}
