// Producer ids through a route that switches clusters. Each cluster allocates producer ids from
// its own counter, starting near 0, so an idempotent producer that keeps the id one cluster gave
// it and writes to another can share that id with a producer the second cluster hands out later:
// the broker then takes one producer's batches for retries of the other's and acknowledges them
// without writing them. And a producer that comes back to a cluster that still holds its
// sequence numbers from before is out of sequence there, which librdkafka treats as fatal.
//
// The gateway therefore hands idempotent producers ids from a space no broker allocates from:
// the broker's id (below 2^40) plus a tag of the route's switch epoch in bits 40-51. The broker
// takes any id it never saw as a new producer that may start at any sequence, so these ids work
// as they are, and ids given out in one epoch never meet ids of another. A producer whose tag is
// not the current epoch's started on an earlier cluster: on the wire its id is replaced by one
// that carries, in bits 52-61, the epoch it is being written in, so that on every cluster and
// after every switch it is a producer the cluster has not seen, never one it confuses with
// another. The mapping is a pure function of (id, epoch): every worker and every gateway of the
// fleet agrees without talking. Transactional producers keep the cluster's own ids, which their
// transaction coordinator knows; on another cluster their transaction fails and they start again.
//
// Values stay below 2^52 as clients see them (JavaScript clients that hold ids as numbers stay
// exact); the replaced ids the brokers see stay below 2^62.

const LOW_BITS = 40n;
const LOW_MASK = (1n << LOW_BITS) - 1n;
const ISSUE_SHIFT = 40n;
const REWRITE_SHIFT = 52n;
const CLIENT_MAX = (1n << REWRITE_SHIFT) - 1n;

/** Tag of the ids given out in `epoch`: 1..4095 (never 0, so a tagged id is never a broker's). */
export function issueTag(epoch: number): bigint {
  return BigInt(1 + (epoch % 4095));
}

function rewriteTag(epoch: number): bigint {
  return BigInt(1 + (epoch % 1023));
}

/** The id a client is given for a non-transactional producer id the broker allocated in `epoch`. */
export function clientProducerId(brokerId: bigint, epoch: number): bigint {
  if (brokerId < 0n || brokerId > LOW_MASK) return brokerId; // not ours to tag: passed as it is
  return brokerId | (issueTag(epoch) << ISSUE_SHIFT);
}

export type ProducerIdKind =
  /** -1: not an idempotent producer. */
  | 'none'
  /** A broker's own id (transactional producers, producers from before the gateway tagged ids). */
  | 'untagged'
  /** Given out in the current epoch: valid as it is. */
  | 'current'
  /** Given out in an earlier epoch, on whichever cluster the route pointed at then. */
  | 'earlier';

export function producerIdKind(id: bigint, epoch: number): ProducerIdKind {
  if (id < 0n) return 'none';
  if (id <= LOW_MASK || id > CLIENT_MAX) return 'untagged';
  return id >> ISSUE_SHIFT === issueTag(epoch) ? 'current' : 'earlier';
}

/** The id written to the cluster in `epoch` for a producer whose id was given out in an earlier epoch. */
export function rewrittenProducerId(id: bigint, epoch: number): bigint {
  return (id & CLIENT_MAX) | (rewriteTag(epoch) << REWRITE_SHIFT);
}
