// Child processes that cannot outlive the Node process that started them. Each child runs in its
// own process group (detached), so stopping it also stops anything it forked, and a terminal's
// Ctrl-C reaches only Node, which then stops the children in order. Every group is registered with
// the reaper (src/testbed/reaper.ts), which kills them if this process dies without cleaning up,
// and with an exit hook that kills leftovers when this process exits on its own.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const REAPER = fileURLToPath(new URL('./reaper.ts', import.meta.url));
const groups = new Set<number>();
let reaper: ChildProcess | undefined;

function reaperStdin(): NodeJS.WritableStream & { unref?: () => void } {
  if (!reaper) {
    reaper = spawn(process.execPath, [REAPER, String(process.pid)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    reaper.unref();
    // The pipe must not keep this process alive; its closing at our death is the reaper's signal.
    (reaper.stdin as unknown as { unref(): void }).unref();
    reaper.stdin!.on('error', () => {}); // reaper gone: the exit hook below still cleans up
    process.on('exit', killAllSync);
  }
  return reaper.stdin!;
}

/** Puts process group `pgid` under the reaper's and the exit hook's protection. */
export function registerGroup(pgid: number): void {
  groups.add(pgid);
  reaperStdin().write(`+${pgid}\n`);
}

export function unregisterGroup(pgid: number): void {
  if (groups.delete(pgid)) reaperStdin().write(`-${pgid}\n`);
}

/** Kills every registered group at once; safe inside a process 'exit' handler. */
export function killAllSync(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

export interface GroupOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Append stdout and stderr to this file (daemons) instead of piping them to us (tools). */
  readonly outputFile?: string;
  /** Keep this Node process alive while the child runs (a tool awaited right now). Daemons and
   *  background tools do not, so a test process can exit; the exit hook and reaper clean up. */
  readonly holdsProcessOpen?: boolean;
}

/** A child process in its own registered process group. */
export class GroupProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;

  constructor(command: string, args: readonly string[], options: GroupOptions = {}) {
    let stdio: StdioOptions = ['pipe', 'pipe', 'pipe'];
    let fd: number | undefined;
    if (options.outputFile) {
      fd = openSync(options.outputFile, 'a');
      stdio = ['ignore', fd, fd];
    }
    try {
      this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio, detached: true });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    this.exited = new Promise<ExitStatus>((resolve, reject) => {
      this.child.once('error', reject); // spawn failure, e.g. ENOENT
      this.child.once('exit', (code, signal) => {
        this.#status = { code, signal };
        unregisterGroup(this.pid);
        // What the leader forked may outlive it and hold the pipes of its output: after a grace
        // for the last output, they no longer keep this process alive. (The group is not kept
        // registered: with pid_max at 32768 on these machines, its id can soon be another's.)
        setTimeout(() => {
          for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) {
            (stream as unknown as { unref?: () => void } | null)?.unref?.();
          }
        }, 2000).unref();
        resolve(this.#status);
      });
    });
    this.exited.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    if (this.child.pid === undefined) {
      this.pid = -1;
      return;
    }
    this.pid = this.child.pid;
    registerGroup(this.pid);
    if (!options.holdsProcessOpen) {
      this.child.unref();
      for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) {
        (stream as unknown as { unref?: () => void } | null)?.unref?.();
      }
    }
  }

  get status(): ExitStatus | undefined {
    return this.#status;
  }

  isRunning(): boolean {
    return this.pid > 0 && this.#status === undefined;
  }

  /** SIGTERM (or `signal`) to the whole group, then SIGKILL if it is still alive after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<ExitStatus> {
    if (!this.isRunning()) return this.#status ?? { code: null, signal: null };
    this.child.ref(); // whoever awaits the stop must also see the exit event
    signalGroup(this.pid, signal);
    const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
