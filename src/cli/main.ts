// The `turnout` command line: parses arguments and hands each subcommand to its module.
// Subcommand modules are imported lazily so that `turnout --help` stays instant.

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { KafkaTool } from '../testbed/versions.ts';

const KAFKA_TOOL_LIST = Object.values(KafkaTool).join(', ');

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .enablePositionalOptions()
    .name('turnout')
    .description('Kafka gateway: moves live producers and consumers between Kafka clusters without client restarts')
    .version(packageVersion(), '-V, --version', 'print the Turnout version')
    .showHelpAfterError();

  program
    .command('demo')
    .description('start local "blue" and "green" Kafka clusters with MirrorMaker 2 between them and print their addresses; runs until interrupted')
    .option('--kafka-version <version>', 'Apache Kafka version to run (resolved from Maven Central)')
    .option('--scenario', 'also run a producer and consumer through a planned switch to green and back, and print the verification summary')
    .action(async (opts: { kafkaVersion?: string; scenario?: boolean }) => {
      const { runDemo } = await import('./demo.ts');
      await runDemo(opts);
    });

  program
    .command('kafka')
    .description(
      `run one of Kafka's own command line tools from the jars Turnout caches (no Kafka download needed): ${KAFKA_TOOL_LIST}; arguments, stdin and stdout pass through, and the exit status is the tool's`,
    )
    .usage('[--kafka-version <version>] <tool> [tool arguments...]')
    .option('--kafka-version <version>', "Apache Kafka version of the tools (default: $TURNOUT_KAFKA_VERSION, else the test bed's default)")
    .argument('<tool>', 'tool name as in bin/kafka-<tool>.sh, e.g. topics, console-producer')
    .argument('[args...]', "the tool's own arguments, e.g. --bootstrap-server HOST:PORT --list")
    .passThroughOptions()
    .allowUnknownOption()
    .helpOption(false)
    .action(async (tool: string, args: string[], opts: { kafkaVersion?: string }, command: Command) => {
      if (tool === '--help' || tool === '-h') command.help();
      const { runKafkaTool } = await import('./kafka.ts');
      process.exitCode = await runKafkaTool(tool, args, opts);
    });

  program
    .command('validate')
    .description('check a gateway config file and print what it configures; lists every problem otherwise (exit 1, or 2 if unreadable)')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .action(async (opts: { config: string }) => {
      const { runValidate } = await import('./validate.ts');
      process.exitCode = runValidate(opts);
    });

  program
    .command('start')
    .description('run the gateway with a config file until SIGTERM/SIGINT (then stop gracefully)')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .option('--watch-config', 'reload the config file when it changes (as with SIGHUP), e.g. a mounted Kubernetes ConfigMap')
    .action(async (opts: { config: string; watchConfig?: boolean }) => {
      const { runStart } = await import('./start.ts');
      await runStart(opts);
    });

  const adminOptions = (c: Command): Command =>
    c
      .option('--admin <url>', 'admin API of a running gateway (default: from -c, else $TURNOUT_ADMIN_URL, else http://127.0.0.1:9190)')
      .option('-c, --config <file>', 'take the admin address and token from this gateway config file')
      .option('--token <token>', 'admin token (default: $TURNOUT_ADMIN_TOKEN, else gateway.admin.token from -c)')
      .option('--json', 'print JSON');

  adminOptions(
    program
      .command('preflight')
      .description('check what a switch of a route would find now (topics, replication lag, group offsets and their translation), without changing anything')
      .argument('[route]', 'route name (without it, the configured routes are listed)')
      .option('--to <domain>', 'streaming domain the switch would go to (required)')
      .option('--topics <names>', 'comma-separated topics to check besides those clients used through the route')
      .option('--max-lag <records>', 'fail (exit 1) when a partition is more records behind than this'),
  ).action(
    async (
      route: string | undefined,
      opts: { to?: string; topics?: string; maxLag?: string; admin?: string; config?: string; token?: string; json?: boolean },
    ) => {
      const { runPreflight } = await import('./preflight.ts');
      process.exitCode = await runPreflight(route, opts);
    },
  );

  adminOptions(
    program
      .command('switch')
      .description('point a route at another streaming domain, on every live gateway instance at once (or on none); rollback is the same command')
      .argument('[route]', 'route name (without it, the configured routes are listed)')
      .option('--to <domain>', 'streaming domain to switch to (required)')
      .option('--bootstrap-server-id <id>', "listener of the destination (default: the one with the route's current listener id)")
      .option('--force', 'switch even if an instance did not prepare or the destination is unreachable; reported as forced')
      .option('--by <who>', 'who is switching, for the audit log (default: cli:USER@HOST, USER from $USER or the login name)')
      .option(
        '--mode <mode>',
        'planned (fence writes, wait for replication, move group offsets, flip; the default when the route has replication) or hot (flip at once)',
      )
      .option('--topics <names>', 'comma-separated topics a planned switch covers besides those clients used through the route'),
  ).action(
    async (
      route: string | undefined,
      opts: {
        to?: string;
        bootstrapServerId?: string;
        force?: boolean;
        by?: string;
        admin?: string;
        config?: string;
        token?: string;
        json?: boolean;
        mode?: string;
        topics?: string;
      },
    ) => {
      const { runSwitch } = await import('./switch.ts');
      process.exitCode = await runSwitch(route, opts);
    },
  );

  adminOptions(
    program.command('status').description("show each route's active streaming domain, switch epoch, connections per domain, last switch, and the fleet"),
  ).action(async (opts: { admin?: string; config?: string; token?: string; json?: boolean }) => {
    const { runStatus } = await import('./status.ts');
    process.exitCode = await runStatus(opts);
  });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv, { from: 'user' });
}
