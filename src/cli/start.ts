// `turnout start -c FILE`: runs the gateway in the foreground until SIGTERM or SIGINT, then stops
// gracefully (in-flight requests get gateway.shutdownTimeoutMs). An invalid config is refused
// with the same messages `turnout validate` prints.
import { watchFile } from 'node:fs';
import { formatProblems, loadConfigFile } from '../config/index.ts';
import { Gateway } from '../gateway.ts';
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
  const config = result.config;
  const log = createLogger(config.log.level);
  // A bug in one connection's handling must not take every other connection down with it.
  process.on('uncaughtException', (err) => log.error({ err }, 'unexpected error; the gateway keeps running'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unexpected rejected promise; the gateway keeps running'));

  const gateway = new Gateway(config, { log });
  try {
    await gateway.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message, code: (err as { code?: string }).code }, 'gateway failed to start');
    process.exitCode = 1;
    return;
  }
  log.info({ config: opts.config, pid: process.pid, node: process.version }, 'gateway started');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'stopping');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Reload: a route whose streamingDomain changed in the file is switched there (fleet-wide).
  // An invalid file is reported and changes nothing.
  let reloading = Promise.resolve();
  const reload = (why: string): void => {
    reloading = reloading.then(async () => {
      const next = loadConfigFile(opts.config);
      if (!('config' in next)) {
        log.error({ config: opts.config, why, problems: formatProblems(opts.config, next.problems) }, 'config reload refused: the file has problems; nothing changed');
        return;
      }
      log.info({ config: opts.config, why }, 'reloading config');
      const reports = await gateway.reload(next.config, `config-reload (${why})`);
      for (const r of reports) log.info({ route: r.route, outcome: r.outcome, epoch: r.epoch }, r.message);
    }).catch((err: unknown) => log.error({ err }, 'config reload failed'));
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watchConfig === true) {
    // Polling the file's stat sees ConfigMap updates (an atomic symlink swap) that fs.watch misses.
    watchFile(opts.config, { interval: 2000 }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) reload('file changed');
    });
  }
}
