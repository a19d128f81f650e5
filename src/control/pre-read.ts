// The part of a planned switch done before its fence, and what the fenced part is then expected
// to cost. At thousands of partitions, reading every partition's tail on both clusters takes
// seconds; done after the fence, that is seconds of every producer held (issue 25). So it is done
// while writes still flow, in passes: the first reads everything, each further pass only what
// moved during the one before. After the fence, the check reads only what moved since the last
// pass, so the fenced window is about one such pass however many partitions the switch covers.
import type { ClusterAdmin, PartitionKey } from './cluster-admin.ts';
import { ReadDeadlineError } from './partition-reader.ts';
import { type GroupOffsets, groupsOn, type PartitionState, type ReplicationTracker, type TopicComparison } from './replication.ts';

/** Passes before the fence at most. */
const MAX_PASSES = 3;
/** A pass quicker than this leaves so little for after the fence that another one is not worth it. */
const QUICK_PASS_MS = 250;
/** What the fenced part costs besides the check: snapshot, group offsets, install, flip (measured: a few round trips each). */
export const FENCED_OVERHEAD_MS = 1000;

export interface PreRead {
  /** Source ends of the last pass. */
  sourceEnds: Map<PartitionKey, bigint>;
  /** Groups and their committed offsets as before the fence (read again after it). */
  groups: GroupOffsets[];
  states: PartitionState[];
  /** Per pass: how long it took and how many partitions' source ends had moved since the pass before. */
  passes: { ms: number; moved: number }[];
  ms: number;
}

/** The partitions of a comparison that exist on both sides. */
export function comparablePartitions(cmp: { partitions: PartitionKey[]; topics: TopicComparison[] }): PartitionKey[] {
  const both = new Set(cmp.topics.filter((t) => t.destPartitions !== null).map((t) => t.topic));
  return cmp.partitions.filter((k) => both.has(k.slice(0, k.lastIndexOf(':'))));
}

/**
 * Reads, before the fence, what the switch needs: every partition's tails (tracker.check), the
 * groups with offsets on them, MirrorMaker's offset syncs and checkpoints (tracker.prepare), and
 * the destination's coordinators of those groups (for the install); then passes of only what
 * moved, while a pass takes longer than QUICK_PASS_MS.
 */
export async function readBeforeFence(
  tracker: ReplicationTracker,
  src: ClusterAdmin,
  dst: ClusterAdmin,
  keys: readonly PartitionKey[],
  groupPattern: RegExp | null,
  aliases: readonly string[],
): Promise<PreRead> {
  const started = performance.now();
  let sourceEnds = await src.endOffsets(keys);
  const groupsRead = groupsOn(src, new Set(keys), groupPattern);
  groupsRead.catch(() => {});
  let states = await tracker.check(sourceEnds);
  const groups = await groupsRead;
  await tracker.prepare(groups, aliases, keys);
  await dst.coordinators(groups.map((g) => g.groupId)).catch(() => new Map());
  const passes = [{ ms: performance.now() - started, moved: keys.length }];
  while (passes.length < MAX_PASSES && passes[passes.length - 1].ms > QUICK_PASS_MS) {
    const t = performance.now();
    const ends = await src.endOffsets(keys);
    let moved = 0;
    for (const [k, e] of ends) if (sourceEnds.get(k) !== e) moved++;
    sourceEnds = ends;
    states = await tracker.check(sourceEnds);
    passes.push({ ms: performance.now() - t, moved });
  }
  return { sourceEnds, groups, states, passes, ms: performance.now() - started };
}

/** One line for the switch's progress: what was read before the fence and how long it took. */
export function describePreRead(p: PreRead): string {
  const caught = p.states.filter((s) => s.caughtUp).length;
  return (
    `${p.states.length} partition(s) (${caught} caught up) and ${p.groups.length} group(s) read before the fence in ${Math.round(p.ms)} ms; ` +
    `passes ${p.passes.map((x, i) => `${Math.round(x.ms)} ms${i > 0 ? ` (${x.moved} moved)` : ''}`).join(', ')}`
  );
}

/**
 * The expected fenced window: the last pass (what moved during it is about what moves until the
 * fence, and is read after it) plus the fixed steps. Rough on purpose: writes that stop or start
 * between preflight and the switch change it.
 */
export function expectedFencedMs(p: PreRead): number {
  return Math.round(p.passes[p.passes.length - 1].ms + FENCED_OVERHEAD_MS);
}

/**
 * A switch that ran out of its fence budget, in words: the budget and its setting, the phase it
 * was in, how many partitions it had found caught up, how far the read in progress got.
 */
export function outOfBudget(fenceMs: number, phase: string, tracker: ReplicationTracker | null, total: number, err: unknown): string {
  const caught = tracker === null ? 0 : tracker.caughtUpCount(tracker.states.keys());
  const read = err instanceof ReadDeadlineError ? `; the read in progress had ${err.done} of ${err.total} partition(s) done` : '';
  const cause = err instanceof Error && !(err instanceof ReadDeadlineError) ? ` (last error: ${err.message})` : '';
  return (
    `the planned switch did not finish within the fence budget of ${fenceMs} ms (gateway.switchover.fenceTimeoutMs) at phase "${phase}": ` +
    `${caught} of ${total} partition(s) checked and caught up${read}${cause}. Raise gateway.switchover.fenceTimeoutMs, or run turnout preflight to see the expected fenced window.`
  );
}

/** Runs `fn` over `items` with at most `limit` in flight; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}
