// The queue of switch state records waiting to be appended to one streaming domain's state topic.
//
// Each domain has its own queue, so a domain that is down only delays its own writes: a switch
// never waits, one record after another, for the full timeout of a dead cluster. Records are
// written in the order they were queued, several per batch. A record queued again under the same
// key before it was written replaces the waiting one (the state topic is compacted: only the last
// value of a key matters). When an append fails, the callers waiting for it learn at once; records
// marked `keep` stay queued and are retried until the domain takes them (the committed state, the
// audit trail, this instance's heartbeat), the others are dropped (prepare and ack records only
// matter while their switch runs).
import { StateLogError, StateLogErrorCode } from './state-log.ts';

export interface QueuedRecord {
  key: string;
  value: string;
}

interface Entry {
  value: string;
  keep: boolean;
  waiters: { resolve: () => void; reject: (err: Error) => void }[];
}

export class StateWriter {
  private readonly appendBatch: (records: QueuedRecord[]) => Promise<unknown>;
  private readonly retryMs: number;
  private readonly onRetry: (err: Error, queued: number) => void;
  private pending = new Map<string, Entry>();
  private flushing = false;
  private closed = false;
  /** The last append failed and nothing has been written since. */
  failing = false;
  /** Why the last append failed (null once one succeeds). */
  lastError: Error | null = null;

  constructor(appendBatch: (records: QueuedRecord[]) => Promise<unknown>, opts: { retryMs?: number; onRetry?: (err: Error, queued: number) => void } = {}) {
    this.appendBatch = appendBatch;
    this.retryMs = opts.retryMs ?? 1000;
    this.onRetry = opts.onRetry ?? (() => {});
  }

  /** Records queued and not yet written. */
  get queued(): number {
    return this.pending.size;
  }

  /** Resolves once the record is in the topic; rejects when the first attempt to append it fails. */
  write(key: string, value: string, keep: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new StateLogError(StateLogErrorCode.Closed, 'the state writer is closed'));
    return new Promise((resolve, reject) => {
      const known = this.pending.get(key);
      const waiters = known?.waiters ?? [];
      waiters.push({ resolve, reject });
      // Re-inserted at the end: the newest value keeps its place after what was queued before it.
      this.pending.delete(key);
      this.pending.set(key, { value, keep: keep || (known?.keep ?? false), waiters });
      void this.flush();
    });
  }

  close(): void {
    this.closed = true;
    const err = new StateLogError(StateLogErrorCode.Closed, 'the state writer is closed');
    for (const e of this.pending.values()) for (const w of e.waiters) w.reject(err);
    this.pending.clear();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.closed && this.pending.size > 0) {
        const batch = [...this.pending];
        this.pending = new Map();
        try {
          await this.appendBatch(batch.map(([key, e]) => ({ key, value: e.value })));
          this.failing = false;
          this.lastError = null;
          for (const [, e] of batch) for (const w of e.waiters) w.resolve();
        } catch (err) {
          this.failing = true;
          this.lastError = err as Error;
          for (const [, e] of batch) for (const w of e.waiters) w.reject(err as Error);
          // Kept records go back before anything queued meanwhile; a newer value of a key wins.
          const newer = this.pending;
          this.pending = new Map();
          for (const [key, e] of batch) if (e.keep && !newer.has(key)) this.pending.set(key, { value: e.value, keep: true, waiters: [] });
          for (const [key, e] of newer) this.pending.set(key, e);
          if (this.pending.size > 0 && !this.closed) {
            this.onRetry(err as Error, this.pending.size);
            await new Promise((r) => setTimeout(r, this.retryMs).unref());
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
