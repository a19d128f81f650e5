// The worker processes of `turnout start`, one per slot 1..N: forking (node:cluster, round-robin
// handoff of accepted connections), calls to a worker and their answers, and a replacement for a
// worker that died — same slot, same instance id — after a backoff that grows while replacements
// keep dying young. Connections on the other workers are not touched by any of it.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { WorkerProcessStatus } from '../admin/server.ts';
import type { SwitchPhase } from '../control/records.ts';
import { TurnoutError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import { type CallName, type Calls, fromWire, isOurs, Kind, type StartMessage, type ToPrimary, type ToWorker, type WireError } from './messages.ts';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A worker that served this long before it died starts its slot's backoff over. */
const STABLE_AFTER_MS = 30_000;

export interface Slot {
  readonly worker: number;
  readonly instanceId: string;
  process: Worker | null;
  state: WorkerProcessStatus['state'];
  servingSince: number | null;
  /** Replacements in a row that died young: the backoff's exponent. */
  failures: number;
  restarts: number;
  lastExit: string | undefined;
  /** What the worker said went wrong before it exited. */
  failure: WireError | null;
  timer: NodeJS.Timeout | null;
  exited: Promise<void>;
}

interface Pending {
  slot: Slot;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: SwitchPhase) => void;
  timer?: NodeJS.Timeout;
}

export interface PoolOptions {
  count: number;
  /** The fleet instance id of the whole gateway; workers are `${id}-w${n}` (just `id` with one worker). */
  instanceId: string;
  log: Logger;
  /** What a worker starting now is told (the config text may change with a reload). */
  startMessage: (slot: Slot) => Omit<StartMessage, 'kind' | 'worker' | 'instanceId'>;
  /** A worker started serving, or one exited; for the metrics. */
  onChange: () => void;
  onRestart: () => void;
}

export class WorkerPool {
  readonly slots: Slot[];
  private readonly options: PoolOptions;
  private readonly log: Logger;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Replacements stop once the pool stops. */
  private stopping = false;
  /** Before the first round of starts has settled, a dead worker is not replaced: the caller decides. */
  private replacing = false;
  private readonly firstStart = new Map<Slot, (error: WireError | null) => void>();

  constructor(options: PoolOptions) {
    this.options = options;
    this.log = options.log;
    this.slots = Array.from({ length: options.count }, (_, i) => ({
      worker: i + 1,
      instanceId: options.count === 1 ? options.instanceId : `${options.instanceId}-w${i + 1}`,
      process: null,
      state: 'starting',
      servingSince: null,
      failures: 0,
      restarts: 0,
      lastExit: undefined,
      failure: null,
      timer: null,
      exited: Promise.resolve(),
    }));
    // The design depends on the primary handing out connections (even spread, a dead worker's
    // share going to the others), not on the kernel's accept() race; SCHED_RR is also node's
    // default outside Windows, unless NODE_CLUSTER_SCHED_POLICY says otherwise.
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], silent: false });
  }

  /**
   * Forks every worker and waits until each serves or has failed. Returns the failures (worker,
   * error); from then on, a worker that dies is replaced.
   */
  async start(): Promise<{ worker: number; error: WireError }[]> {
    const results = await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<{ worker: number; error: WireError } | null>((resolve) => {
            this.firstStart.set(s, (error) => resolve(error === null ? null : { worker: s.worker, error }));
            this.fork(s);
          }),
      ),
    );
    this.replacing = true;
    const failed = results.filter((r) => r !== null);
    if (failed.length < this.slots.length && !this.stopping) {
      for (const f of failed) {
        const slot = this.slots[f.worker - 1];
        slot.failures = 1;
        this.log.error(
          { worker: f.worker, err: f.error.message, code: f.error.code, restartInMs: FIRST_BACKOFF_MS },
          'worker failed to start; starting a replacement',
        );
        this.replace(slot, FIRST_BACKOFF_MS);
      }
    }
    return failed;
  }

  /** Workers serving now, lowest slot first. */
  serving(): Slot[] {
    return this.slots.filter((s) => s.state === 'serving' && s.process?.isConnected() === true);
  }

  /** The worker that takes switches, preflights and reloads: the lowest serving slot. */
  first(): Slot {
    const s = this.serving()[0];
    if (s === undefined)
      throw new TurnoutError('TURNOUT_NO_WORKER', 'no worker process is serving right now (starting or being replaced); try again when /ready answers 200');
    return s;
  }

  call<C extends CallName>(
    slot: Slot,
    call: C,
    args: Calls[C]['args'],
    opts: { timeoutMs?: number; onProgress?: (p: SwitchPhase) => void } = {},
  ): Promise<Calls[C]['result']> {
    return new Promise((resolve, reject) => {
      const w = slot.process;
      if (w === null || !w.isConnected()) {
        reject(new TurnoutError('TURNOUT_WORKER_EXITED', `worker ${slot.worker} is not running`));
        return;
      }
      const id = this.nextId++;
      const p: Pending = { slot, resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress };
      if (opts.timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new TurnoutError('TURNOUT_WORKER_TIMEOUT', `worker ${slot.worker} did not answer "${call}" within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      }
      this.pending.set(id, p);
      const m: ToWorker = { kind: Kind.Call, id, call, args };
      w.send(m, (err: Error | null) => {
        if (err === null || !this.pending.has(id)) return;
        this.settle(id);
        reject(new TurnoutError('TURNOUT_WORKER_EXITED', `worker ${slot.worker} cannot be reached: ${err.message}`));
      });
    });
  }

  status(): WorkerProcessStatus[] {
    return this.slots.map((s) => ({
      worker: s.worker,
      instance: s.instanceId,
      pid: s.process?.process.pid ?? null,
      state: s.state,
      restarts: s.restarts,
      ...(s.lastExit !== undefined ? { lastExit: s.lastExit } : {}),
    }));
  }

  /** Asks every worker to stop gracefully; SIGKILL for those still running after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.timer !== null) clearTimeout(s.timer);
      s.timer = null;
      if (s.process === null) continue;
      s.state = 'stopping';
      if (s.process.isConnected()) s.process.send({ kind: Kind.Stop } satisfies ToWorker, () => {});
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const all = Promise.all(this.slots.map((s) => s.exited));
    if ((await Promise.race([all, deadline])) === 'late') {
      const late = this.slots.filter((s) => s.process !== null);
      this.log.warn({ workers: late.map((s) => s.worker) }, 'workers did not stop in time; killing them');
      this.kill();
      await all;
    }
    clearTimeout(timer);
  }

  /** SIGKILL to every worker, at once (a second signal). */
  kill(): void {
    this.stopping = true;
    for (const s of this.slots) s.process?.process.kill('SIGKILL');
  }

  private fork(slot: Slot): void {
    slot.state = 'starting';
    slot.failure = null;
    slot.servingSince = null;
    const w = cluster.fork();
    slot.process = w;
    slot.exited = new Promise((resolve) =>
      w.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        this.onExit(slot, w, code, signal);
        resolve();
      }),
    );
    w.on('message', (m: unknown) => {
      if (isOurs<ToPrimary>(m)) this.onMessage(slot, w, m);
    });
    w.on('error', (err) => this.log.debug({ worker: slot.worker, err: err.message }, 'worker channel error'));
  }

  private onMessage(slot: Slot, w: Worker, m: ToPrimary): void {
    switch (m.kind) {
      case Kind.Hello: {
        const start: ToWorker = this.stopping
          ? { kind: Kind.Stop }
          : { kind: Kind.Start, worker: slot.worker, instanceId: slot.instanceId, ...this.options.startMessage(slot) };
        w.send(start, () => {});
        return;
      }
      case Kind.Ready:
        slot.state = this.stopping ? 'stopping' : 'serving';
        slot.servingSince = Date.now();
        if (this.replacing) this.log.info({ worker: slot.worker, pid: w.process.pid, instance: slot.instanceId }, 'worker serving again');
        this.settleFirstStart(slot, null);
        this.options.onChange();
        return;
      case Kind.Failed:
        slot.failure = m.error;
        return;
      case Kind.Reply: {
        const p = this.settle(m.id);
        if (p === undefined) return; // timed out meanwhile
        if (m.ok) p.resolve(m.value);
        else p.reject(fromWire(m.error));
        return;
      }
      case Kind.Progress:
        this.pending.get(m.id)?.onProgress?.(m.phase);
        return;
      case Kind.Rejoin:
        // To every other live worker: the client's other connections may be there.
        for (const other of this.slots) {
          if (other === slot || other.process === null || !other.process.isConnected()) continue;
          other.process.send(m, () => {});
        }
        return;
      default:
    }
  }

  private onExit(slot: Slot, w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.process !== w) return;
    const servedMs = slot.servingSince === null ? 0 : Date.now() - slot.servingSince;
    slot.process = null;
    slot.servingSince = null;
    slot.lastExit = `${new Date().toISOString()} pid ${w.process.pid} ${signal !== null ? `signal ${signal}` : `code ${code}`}${slot.failure !== null ? `: ${slot.failure.message}` : ''}`;
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.settle(id);
      p.reject(
        new TurnoutError(
          'TURNOUT_WORKER_EXITED',
          `worker ${slot.worker} (pid ${w.process.pid}) exited before it answered; for a switch, /routes and the fleet show whether it went through`,
        ),
      );
    }
    this.options.onChange();
    const first = this.firstStart.has(slot);
    this.settleFirstStart(
      slot,
      slot.failure ?? { message: `worker ${slot.worker} exited (${signal !== null ? `signal ${signal}` : `code ${code}`}) before it served` },
    );
    if (this.stopping) {
      slot.state = 'stopping';
      return;
    }
    if (first) return; // start() decides: replace it, or give up when no worker could start
    if (servedMs >= STABLE_AFTER_MS) slot.failures = 0;
    slot.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (slot.failures - 1));
    this.log.error(
      { worker: slot.worker, pid: w.process.pid, code, signal, ...(slot.failure !== null ? { err: slot.failure.message } : {}), restartInMs: delay },
      'worker exited; starting a replacement',
    );
    this.replace(slot, delay);
  }

  private replace(slot: Slot, delayMs: number): void {
    slot.state = 'restarting';
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (this.stopping) return;
      slot.restarts++;
      this.options.onRestart();
      this.fork(slot);
    }, delayMs);
  }

  private settleFirstStart(slot: Slot, error: WireError | null): void {
    const done = this.firstStart.get(slot);
    if (done === undefined) return;
    this.firstStart.delete(slot);
    done(error);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }
}
