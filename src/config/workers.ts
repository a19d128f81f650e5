// How many worker processes `turnout start` runs for a config: gateway.workers as written, with
// "auto" resolved to the CPUs this process may use. Workers share route state through the state
// log (each is a fleet member), so without it "auto" means one worker.
import { availableParallelism } from 'node:os';
import { MAX_WORKERS } from './schema.ts';
import type { GatewayConfig } from './types.ts';

export interface WorkerPlan {
  count: number;
  /** Why the count is what it is, for the start log. */
  why: string;
}

export function resolveWorkers(config: Pick<GatewayConfig, 'workers' | 'state'>, cpus: number = availableParallelism()): WorkerPlan {
  const written = config.workers ?? 'auto';
  if (written !== 'auto') return { count: written, why: `gateway.workers: ${written}` };
  if (config.state === null) {
    return { count: 1, why: 'gateway.workers is "auto", but gateway.state is disabled and workers share route state through the state log: one worker' };
  }
  const count = Math.min(MAX_WORKERS, Math.max(1, Math.floor(cpus)));
  return { count, why: `gateway.workers is "auto": one worker per available CPU (${cpus})` };
}
