// The `turnout` command line: parses arguments and hands each subcommand to its module.
// Subcommand modules are imported lazily so that `turnout --help` stays instant.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('turnout')
    .description('Kafka gateway: moves live producers and consumers between Kafka clusters without client restarts')
    .version(packageVersion(), '-V, --version', 'print the Turnout version')
    .showHelpAfterError();

  program
    .command('demo')
    .description('start local "blue" and "green" Kafka clusters with MirrorMaker 2 between them and print their addresses; runs until interrupted')
    .option('--kafka-version <version>', 'Apache Kafka version to run (resolved from Maven Central)')
    .action(async (opts: { kafkaVersion?: string }) => {
      const { runDemo } = await import('./demo.ts');
      await runDemo(opts);
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
    .action(async (opts: { config: string }) => {
      const { runStart } = await import('./start.ts');
      await runStart(opts);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv, { from: 'user' });
}
