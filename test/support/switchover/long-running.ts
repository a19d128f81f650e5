// A client program that runs as ONE child process across a route switch (Java, python): its
// stdout is JSON lines (one per event), its stderr the client library's log. Tests read both while
// it runs, mark where the switch happened in the log, and stop it at the end with a "stop" line
// on stdin (SIGKILL if it does not exit in time). Registered with stopAllClients().
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ExitStatus, GroupProcess } from '../../../src/testbed/processes.ts';
import { track } from '../clients/common.ts';

export type ClientEvent = Record<string, unknown>;

export class LongRunningClient {
  readonly name: string;
  readonly #process: GroupProcess;
  readonly #untrack: () => void;
  #stdout = '';
  #stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(name: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv) {
    this.name = name;
    this.#process = new GroupProcess(command, args, { env, holdsProcessOpen: false });
    const child = this.#process.child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.#stdout += d;
      for (const wake of this.#waiters) wake();
    });
    // TURNOUT_CLIENT_LOG_DIR: also keep each client's log in a file there (verify:switchover sets
    // it to its run folder, so that a stall can be read in the client's own words afterwards).
    const logDir = process.env.TURNOUT_CLIENT_LOG_DIR;
    const logFile = logDir ? join(logDir, `client-${name.replace(/[^A-Za-z0-9.-]+/g, '_')}-${this.#process.pid}.log`) : null;
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.#stderr += d;
      if (logFile !== null) appendFileSync(logFile, d);
    });
    child.stdin!.on('error', () => {});
    this.#untrack = track(async () => {
      await this.#process.stop('SIGKILL', 1_000);
    });
    this.#process.exited
      .finally(() => {
        this.#untrack();
        for (const wake of this.#waiters) wake();
      })
      .catch(() => {});
  }

  get pid(): number {
    return this.#process.pid;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get status(): ExitStatus | undefined {
    return this.#process.status;
  }

  /** Resolves when the process has exited, however. */
  get exited(): Promise<ExitStatus> {
    return this.#process.exited;
  }

  isRunning(): boolean {
    return this.#process.isRunning();
  }

  /** Every complete JSON line printed so far. */
  events(): ClientEvent[] {
    const out: ClientEvent[] = [];
    const text = this.#stdout;
    const end = text.lastIndexOf('\n');
    for (const line of text.slice(0, end + 1).split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as ClientEvent);
      } catch {
        // not ours (a library printing to stdout)
      }
    }
    return out;
  }

  send(line: string): void {
    if (this.isRunning()) this.#process.child.stdin!.write(`${line}\n`);
  }

  /** Resolves once `done(events)` is true; fails when the client exits first or time runs out. */
  async waitFor<T>(what: string, done: (events: ClientEvent[]) => T | undefined | false, timeoutMs: number): Promise<T> {
    const check = () => {
      const r = done(this.events());
      return r === undefined || r === false ? undefined : r;
    };
    const first = check();
    if (first !== undefined) return first;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, value?: T) => {
        this.#waiters.delete(wake);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value as T);
      };
      const wake = () => {
        const r = check();
        if (r !== undefined) finish(null, r);
        else if (!this.isRunning()) finish(this.#error(`exited (${JSON.stringify(this.status)}) before ${what}`));
      };
      timer = setTimeout(() => finish(this.#error(`did not reach "${what}" within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /** Sends "stop" and waits for the exit; SIGKILL after `graceMs`. */
  async stop(graceMs = 40_000): Promise<ExitStatus> {
    if (!this.isRunning()) return this.status ?? { code: null, signal: null };
    this.send('stop');
    const timer = setTimeout(() => void this.#process.stop('SIGKILL', 1_000), graceMs);
    try {
      return await this.#process.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #error(what: string): Error {
    return new Error(`${this.name} (pid ${this.pid}) ${what}.\nstdout (end):\n${this.#stdout.slice(-2000)}\nstderr (end):\n${this.#stderr.slice(-3000)}`);
  }
}

/** Log lines at warning level or above, as each library writes them. */
export function warningLines(log: string): string[] {
  return log.split('\n').filter(
    (l) =>
      / (WARN|ERROR|FATAL) /.test(l) || // log4j pattern "[time] LEVEL msg (logger)"
      /^%[0-4]\|/.test(l) || // librdkafka "%<syslog level>|time|FAC|..."
      /^rdkafka error:/.test(l) ||
      /\[(WARN|ERROR)\] /.test(l) || // franz-go's BasicLogger "[LEVEL] msg; key: value"
      (/^\[sarama\] /.test(l) && /error|fail|out of order|unknown|not .*(leader|coordinator)/i.test(l)), // sarama logs without levels
  );
}

/** Retries `check` (which asserts) until it passes or `timeoutMs` is over; then its last error is thrown. */
export async function eventually(check: () => Promise<void> | void, timeoutMs: number, intervalMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/** The JSON events (one per line) a Kafka verifiable tool printed so far; a line still being written is skipped. */
export function jsonEvents(stdout: string): ClientEvent[] {
  const out: ClientEvent[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as ClientEvent);
    } catch {
      // a line still being written
    }
  }
  return out;
}
