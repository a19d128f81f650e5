// Keeps an idempotent producer's batches in order on the cluster a route switched to.
//
// A producer that started before the last switch writes there under an id the cluster has never
// seen (routing/producer-ids.ts), and a broker takes the first batch of an unknown producer as the
// start of its sequence, whatever its sequence number. Kafka's own leader changes never meet that:
// the new leader has the producer's state, so a batch that arrives ahead of an earlier one is
// refused OUT_OF_ORDER_SEQUENCE_NUMBER and retried after it. At a switch, a retried batch A can go
// to a broker that no longer leads its partition (the client's metadata is stale for a moment)
// while a later batch B already reaches the new leader: B would be written first, A refused, and
// Java would then bump its epoch and write A after B (seen in CI: "green p1: i-267@11 then
// i-272@0").
//
// So, per (producer, partition), until the new cluster holds the producer's state, the gateway
// asks the previous cluster where the producer stood there (DescribeProducers: its epoch and last
// sequence number) and lets through only the batch that comes next, batches that follow it on the
// same connection (which the broker handles in order), and batches from before it (already on
// the previous cluster; holding them protects nothing). Any other batch is refused with
// NOT_LEADER_OR_FOLLOWER (produce-refusal.ts): a plain "retry", which every client repeats after
// the batches before it. Once the new cluster answers DescribeProducers with state for the
// producer, the broker keeps the order itself and the gate opens for good.
//
// Where the previous cluster cannot be asked (unreachable: the disaster a hot switch is for; no
// service credentials) or holds nothing from the producer, there is nothing to compare with and
// batches go through as before. Every process decides alone from the same answers, so workers and
// fleet members need not talk.
import type { ProducerSequence } from '../routing/route.ts';

/** One batch of a Produce request, as the gate sees it. */
export interface GateBatch {
  /** "topic:partition". */
  readonly key: string;
  /** The producer id as written to the current cluster. */
  readonly producerId: bigint;
  /** The producer id as the previous cluster saw it. */
  readonly previousId: bigint;
  readonly epoch: number;
  readonly baseSequence: number;
  readonly count: number;
}

export type GateDecision =
  | { readonly kind: 'forward' }
  /** Refuse the whole request (retriable): these partitions' batches would arrive out of order. */
  | { readonly kind: 'refuse'; readonly partitions: readonly string[] }
  /** Ask again once these lookups are done. */
  | { readonly kind: 'wait'; readonly until: Promise<unknown> };

export interface SequenceLookups {
  /** Where producers stand on the previous cluster, by their id there. */
  previous(producerId: bigint, keys: string[]): Promise<Map<string, ProducerSequence | null>>;
  /** Where producers stand on the current cluster. */
  current(producerId: bigint, keys: string[]): Promise<Map<string, ProducerSequence | null>>;
}

interface Entry {
  /** looking: the previous cluster is being asked; gated: it was; open: nothing to enforce (any more). */
  state: 'looking' | 'gated' | 'open';
  lookup: Promise<unknown> | null;
  /** The producer's epoch on the previous cluster and the first sequence the current one must get in it. */
  epoch: number;
  first: number;
  /** The connection that forwarded the last batch let through, and the sequence that follows it. */
  conn: number;
  nextEpoch: number;
  next: number;
  /** A lookup on the current cluster in progress. */
  checking: Promise<unknown> | null;
  /** The last such lookup found no state there: the batch that asked for it is refused. */
  refuseOnce: boolean;
}

const MAX_SEQUENCE = 0x7fffffff;
const following = (seq: number, count: number): number => (seq + count) % (MAX_SEQUENCE + 1);

export class SequenceGate {
  private readonly entries = new Map<string, Entry>();
  private readonly lookups: SequenceLookups;
  private readonly maxEntries: number;
  /** The previous cluster could not be asked once: it is not asked again (a producer would wait for each). */
  private previousUnavailable = false;
  /** Called once per failed lookup (the first failure of each kind is worth a log line). */
  private readonly onLookupFailed: (which: 'previous' | 'current', err: Error) => void;

  constructor(lookups: SequenceLookups, onLookupFailed: (which: 'previous' | 'current', err: Error) => void, maxEntries = 100_000) {
    this.lookups = lookups;
    this.onLookupFailed = onLookupFailed;
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether the batches of one Produce request may go to the current cluster now (`conn`: the connection's id). */
  decide(conn: number, batches: readonly GateBatch[]): GateDecision {
    const waits: Promise<unknown>[] = [];
    const refused: string[] = [];
    const unknown = new Map<bigint, { keys: string[]; ids: string[] }>();
    for (const b of batches) {
      const id = `${b.producerId}|${b.key}`;
      let e = this.entries.get(id);
      if (e === undefined) {
        e = {
          state: this.previousUnavailable ? 'open' : 'looking',
          lookup: null,
          epoch: -1,
          first: 0,
          conn: -1,
          nextEpoch: -1,
          next: -1,
          checking: null,
          refuseOnce: false,
        };
        this.remember(id, e);
        if (e.state === 'looking') {
          const u = unknown.get(b.previousId) ?? { keys: [], ids: [] };
          u.keys.push(b.key);
          u.ids.push(id);
          unknown.set(b.previousId, u);
        }
        continue;
      }
      if (e.state === 'open') continue;
      if (e.state === 'looking') {
        if (e.lookup !== null) waits.push(e.lookup);
        continue;
      }
      if (this.inOrder(e, conn, b)) continue;
      if (e.checking !== null) {
        waits.push(e.checking);
      } else if (e.refuseOnce) {
        e.refuseOnce = false;
        refused.push(b.key);
      } else {
        waits.push(this.check(e, b));
      }
    }
    for (const [previousId, u] of unknown) waits.push(this.lookPrevious(previousId, u.keys, u.ids));
    if (waits.length > 0) return { kind: 'wait', until: Promise.all(waits) };
    if (refused.length > 0) return { kind: 'refuse', partitions: refused };
    return { kind: 'forward' };
  }

  /** The request decide() let through was forwarded on `conn`: later batches on that connection follow it. */
  forwarded(conn: number, batches: readonly GateBatch[]): void {
    for (const b of batches) {
      const e = this.entries.get(`${b.producerId}|${b.key}`);
      if (e === undefined || e.state !== 'gated') continue;
      e.conn = conn;
      e.nextEpoch = b.epoch;
      e.next = following(b.baseSequence, b.count);
    }
  }

  private inOrder(e: Entry, conn: number, b: GateBatch): boolean {
    // A new epoch starts its sequences at 0 (the producer reset them: Java's epoch bump).
    const first = b.epoch === e.epoch ? e.first : 0;
    if (b.baseSequence === first) return true;
    if (conn === e.conn && b.epoch === e.nextEpoch && b.baseSequence === e.next) return true;
    // From before the switch's cut, in the epoch the previous cluster knew: not ahead of anything.
    return b.epoch === e.epoch && b.baseSequence < e.first;
  }

  private lookPrevious(previousId: bigint, keys: string[], ids: string[]): Promise<unknown> {
    const lookup = this.lookups.previous(previousId, keys).then(
      (states) => {
        keys.forEach((key, i) => {
          const e = this.entries.get(ids[i]);
          if (e === undefined) return;
          const s = states.get(key);
          e.lookup = null;
          if (s === undefined || s === null || s.lastSequence < 0) {
            e.state = 'open'; // the previous cluster holds nothing from it: nothing to keep in order
          } else {
            e.state = 'gated';
            e.epoch = s.epoch;
            e.first = following(s.lastSequence, 1);
          }
        });
      },
      (err: unknown) => {
        this.previousUnavailable = true;
        for (const id of ids) {
          const e = this.entries.get(id);
          if (e !== undefined) {
            e.state = 'open';
            e.lookup = null;
          }
        }
        this.onLookupFailed('previous', err instanceof Error ? err : new Error(String(err)));
      },
    );
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e !== undefined) e.lookup = lookup;
    }
    return lookup;
  }

  /** Asks the current cluster whether it holds the producer's state for this partition yet. */
  private check(e: Entry, b: GateBatch): Promise<unknown> {
    const checking = this.lookups.current(b.producerId, [b.key]).then(
      (states) => {
        e.checking = null;
        const s = states.get(b.key);
        if (s !== undefined && s !== null && s.lastSequence >= 0) e.state = 'open';
        else e.refuseOnce = true;
      },
      (err: unknown) => {
        e.checking = null;
        e.state = 'open'; // cannot tell: holding batches back for good would be worse
        this.onLookupFailed('current', err instanceof Error ? err : new Error(String(err)));
      },
    );
    e.checking = checking;
    return checking;
  }

  private remember(id: string, e: Entry): void {
    if (this.entries.size >= this.maxEntries) {
      // Oldest first (insertion order); a forgotten entry is looked up again if it comes back.
      let drop = Math.ceil(this.maxEntries / 10);
      for (const k of this.entries.keys()) {
        if (drop-- <= 0) break;
        this.entries.delete(k);
      }
    }
    this.entries.set(id, e);
  }
}
