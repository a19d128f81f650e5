// `turnout start -c FILE`: runs the gateway in the foreground until SIGTERM or SIGINT, then stops
// gracefully (in-flight requests get gateway.shutdownTimeoutMs). An invalid config is refused
// with the same messages `turnout validate` prints. The gateway runs as a primary process with
// gateway.workers worker processes sharing the listeners (src/cluster).

import { Primary } from '../cluster/primary.ts';
import { formatProblems, loadConfigFile } from '../config/index.ts';
import { createLogger } from '../observability/log.ts';

export interface StartOptions {
  readonly config: string;
  readonly watchConfig?: boolean;
}

export async function runStart(opts: StartOptions): Promise<void> {
  const result = loadConfigFile(opts.config);
  if (!('config' in result)) {
    const n = result.problems.length;
    process.stderr.write(`${formatProblems(opts.config, result.problems)}\n${opts.config}: ${n} problem${n === 1 ? '' : 's'}; the gateway did not start\n`);
    process.exitCode = result.unreadable ? 2 : 1;
    return;
  }
  const log = createLogger(result.config.log.level);
  process.on('uncaughtException', (err) => log.error({ err }, 'unexpected error; the gateway keeps running'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unexpected rejected promise; the gateway keeps running'));
  const primary = new Primary({ configFile: opts.config, configText: result.text, config: result.config, log, watchConfig: opts.watchConfig });
  if (!(await primary.start())) process.exitCode = 1;
}
