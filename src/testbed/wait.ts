// Small helpers for waiting on processes: polling a condition with a deadline, and reading the end
// of a log file to put into an error message.
import { readFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls `check` every `intervalMs` until it returns a value other than undefined or the deadline
 *  passes; `onTimeout` builds the error to throw. `check` may throw to abort the wait. */
export async function pollUntil<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  onTimeout: () => Error,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw onTimeout();
    await sleep(intervalMs);
  }
}

/** The last `lines` lines of a text file, or a note that it does not exist. */
export function tailFile(path: string, lines = 40): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${path})`;
  }
}
