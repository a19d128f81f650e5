// Waiting for a condition in tests that drive processes: the probe may throw while the process
// is not there yet; on timeout the error names the condition, the probe's last error and
// whatever `context` says (typically the end of the process's output).

/** Polls `probe` every 100 ms until it returns a value other than undefined. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not reached within ${timeoutMs} ms${last !== undefined ? ` (last error: ${(last as Error).message})` : ''}\n${context()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
