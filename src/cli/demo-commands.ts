// The commands `turnout demo` prints for the user to try, in order. One function builds them, so
// the integration test runs exactly what a newcomer would paste: Kafka's tools through
// `./turnout kafka` (nothing else to install), then preflight, a planned switch, status and back.
import { KafkaTool, type KafkaToolName, kafkaLine } from '../testbed/versions.ts';

export interface DemoCommandsInput {
  /** Gateway bootstrap, host:port. */
  readonly bootstrap: string;
  readonly adminUrl: string;
  readonly token: string;
  /** Client .properties file with the SASL settings of the demo user. */
  readonly clientConfig: string;
  readonly kafkaVersion: string;
  /** Route, its current and other streaming domain. */
  readonly route: string;
  readonly from: string;
  readonly to: string;
}

export interface DemoCommand {
  /** What it shows, printed as a comment above it. */
  readonly note: string;
  /** The arguments after `./turnout`. */
  readonly args: readonly string[];
  /** Reads lines from stdin until Ctrl-D (the console producer). */
  readonly readsStdin?: boolean;
  /** Runs until Ctrl-C (the console consumer). */
  readonly runsUntilStopped?: boolean;
}

export const DEMO_TOPIC = 'orders';
export const DEMO_GROUP = 'demo';

export function demoCommands(i: DemoCommandsInput): DemoCommand[] {
  const line = kafkaLine(i.kafkaVersion);
  const kafka = (tool: KafkaToolName, ...rest: string[]) => [
    'kafka',
    tool,
    '--bootstrap-server',
    i.bootstrap,
    line.clientConfigFlag[tool],
    i.clientConfig,
    ...rest,
  ];
  const admin = ['--admin', i.adminUrl];
  const withToken = [...admin, '--token', i.token];
  return [
    { note: 'list every topic (clients that list all topics do not make them "in use")', args: kafka(KafkaTool.Topics, '--list') },
    {
      note: `create "${DEMO_TOPIC}" (MirrorMaker 2 creates it on ${i.to} within seconds)`,
      args: kafka(KafkaTool.Topics, '--create', '--if-not-exists', '--topic', DEMO_TOPIC, '--partitions', '3', '--replication-factor', '1'),
    },
    { note: 'type a few lines, then Ctrl-D', args: kafka(KafkaTool.ConsoleProducer, '--topic', DEMO_TOPIC), readsStdin: true },
    {
      note: 'read them back in a consumer group; leave it running in another terminal, or Ctrl-C',
      args: kafka(KafkaTool.ConsoleConsumer, '--topic', DEMO_TOPIC, '--group', DEMO_GROUP, '--from-beginning'),
      runsUntilStopped: true,
    },
    { note: "the group's committed offsets", args: kafka(KafkaTool.ConsumerGroups, '--describe', '--group', DEMO_GROUP) },
    { note: 'what a switch would find (topics in use, replication lag, group offsets)', args: ['preflight', i.route, '--to', i.to, ...withToken] },
    {
      note: 'planned switch: writes are held about a second while replication catches up and group offsets move',
      args: ['switch', i.route, '--to', i.to, ...withToken],
    },
    { note: 'where the route points now', args: ['status', ...admin] },
    {
      note: `write more, now to ${i.to}, with Kafka's verifiable producer (one JSON line per acknowledged record)`,
      args: kafka(KafkaTool.VerifiableProducer, '--topic', DEMO_TOPIC, '--max-messages', '10'),
    },
    { note: `transactions on ${i.to} (none: no client used one)`, args: kafka(KafkaTool.Transactions, 'list') },
    { note: 'and back (rollback is the same command)', args: ['switch', i.route, '--to', i.from, ...withToken] },
  ];
}

/** One command as the user types it. */
export function formatDemoCommand(c: DemoCommand): string {
  return ['./turnout', ...c.args].map(shellQuote).join(' ');
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
