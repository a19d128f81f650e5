// Waiting for MirrorMaker 2 to catch up: a topic counts as replicated when every partition's end
// offset on the target has reached the source's, and a group as checkpointed when its committed
// offsets on the target reach the expected ones. Both poll with Kafka's own tools.
import { TestBedError, TestBedErrorCode } from './errors.ts';
import type { KafkaTools } from './tools.ts';
import type { ClusterDescriptor } from './types.ts';
import { pollUntil } from './wait.ts';

export interface ReplicationWait {
  readonly tools: KafkaTools;
  readonly source: ClusterDescriptor;
  readonly target: ClusterDescriptor;
  readonly timeoutMs?: number;
}

/** Resolves with the end offsets once `topic` on the target has caught up with the source. */
export async function waitForReplication(w: ReplicationWait & { readonly topic: string }): Promise<Map<number, number>> {
  let last = '';
  const timeoutMs = w.timeoutMs ?? 60_000;
  return pollUntil(
    async () => {
      const [source, target] = await Promise.all([
        w.tools.endOffsets(w.source.bootstrap(), w.topic),
        w.tools.endOffsets(w.target.bootstrap(), w.topic).catch(() => new Map<number, number>()),
      ]);
      last = `source ${JSON.stringify([...source])}, target ${JSON.stringify([...target])}`;
      if (source.size === 0) return undefined;
      for (const [partition, end] of source) if ((target.get(partition) ?? -1) < end) return undefined;
      return source;
    },
    timeoutMs,
    () =>
      new TestBedError(
        TestBedErrorCode.StartTimeout,
        `topic "${w.topic}" was not replicated from "${w.source.name}" to "${w.target.name}" within ${timeoutMs} ms ` +
          `(end offsets: ${last}); see the MirrorMaker log under ${w.target.logDir}/..`,
      ),
    500,
  );
}

/** Resolves once consumer group `group` has committed offsets on the target at least as high as
 *  `expected` ("topic:partition" -> offset), i.e. MirrorMaker has synced its checkpoints. */
export async function waitForGroupOffsets(
  w: ReplicationWait & { readonly group: string; readonly expected: ReadonlyMap<string, number> },
): Promise<Map<string, number>> {
  let last = '';
  const timeoutMs = w.timeoutMs ?? 60_000;
  return pollUntil(
    async () => {
      const offsets = await w.tools.groupOffsets(w.target.bootstrap(), w.group);
      last = JSON.stringify([...offsets]);
      for (const [key, offset] of w.expected) if ((offsets.get(key) ?? -1) < offset) return undefined;
      return offsets;
    },
    timeoutMs,
    () =>
      new TestBedError(
        TestBedErrorCode.StartTimeout,
        `offsets of group "${w.group}" did not reach ${JSON.stringify([...w.expected])} on "${w.target.name}" ` + `within ${timeoutMs} ms (last seen ${last})`,
      ),
    500,
  );
}
