// Collects the gateway's JSON log lines in memory so a test can assert on them (one line per bad
// connection, no secrets). Pass it as startGateway's `logDestination`. With TURNOUT_TEST_LOGS set
// the lines are also echoed to stderr.
export interface LogEntry {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export class LogCapture {
  readonly lines: string[] = [];
  private partial = '';
  private readonly echo = process.env.TURNOUT_TEST_LOGS !== undefined;

  /** The stream interface pino writes to. */
  write(chunk: string | Uint8Array): boolean {
    const text = this.partial + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) if (line.length > 0) this.lines.push(line);
    if (this.echo) process.stderr.write(chunk);
    return true;
  }

  /** Everything logged so far, as one string (for "no secret appears" checks). */
  text(): string {
    return this.lines.join('\n') + this.partial;
  }

  entries(): LogEntry[] {
    return this.lines.map((l) => JSON.parse(l) as LogEntry);
  }

  /** The "connection closed" lines of the connection whose client used local port `clientPort`. */
  closesOf(clientPort: number): LogEntry[] {
    return this.entries().filter((e) => e.msg === 'connection closed' && typeof e.client === 'string' && e.client.endsWith(`:${clientPort}`));
  }
}

/** As the NodeJS.WritableStream type that createLogger and startGateway take. */
export function asStream(capture: LogCapture): NodeJS.WritableStream {
  return capture as unknown as NodeJS.WritableStream;
}
