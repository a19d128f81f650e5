// Turnout's CLI as a child process, for integration tests whose gateway runs in the test process
// (so it must not block the event loop): resolves with the exit code and output, never throws.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A CLI runner that passes `token` as TURNOUT_ADMIN_TOKEN. */
export function turnoutCli(token: string): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    try {
      const r = await promisify(execFile)(process.execPath, [`${ROOT}/bin/turnout.js`, ...args], {
        env: { ...process.env, TURNOUT_ADMIN_TOKEN: token },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
}
