// `npm run bench`: the same Kafka workloads directly against the brokers and through the gateway,
// interleaved over several rounds, written up as a Markdown report (docs/benchmarks.md).
// See scripts/bench/run.ts for what runs and scripts/bench/report.ts for what is reported.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseBenchOptions, USAGE } from './bench/options.ts';
import { renderReport } from './bench/report.ts';
import { runBenchmark } from './bench/run.ts';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

// Ctrl-C or SIGTERM: exit through process.exit so the exit hooks of the test bed and of the
// gateway's process group kill every JVM and the gateway (a reaper process covers a hard crash).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the gateway and the Kafka processes`);
    process.exit(130);
  });
}

let options;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (options === null) {
  process.stdout.write(USAGE);
  process.exit(0);
}

try {
  const results = await runBenchmark(options, log);
  const out = resolve(options.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderReport(results, out));
  const failed = results.runs.filter((r) => r.error).length;
  log(`report written to ${out} after ${(results.durationSeconds / 60).toFixed(1)} minutes${failed ? `; ${failed} run(s) failed, see the report` : ''}`);
  process.exit(failed ? 1 : 0);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
}
