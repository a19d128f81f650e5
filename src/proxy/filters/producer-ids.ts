// Idempotent producers keep distinct ids across switches (see routing/producer-ids.ts): ids the
// brokers allocate for non-transactional producers are tagged with the switch epoch on their way
// to the client, and a producer still using an id from an earlier epoch has it replaced in each
// record batch it writes (the batch's CRC is corrected for the 8 changed bytes without reading
// the records). A connection learns from its first Produce request whether its producer needs
// that; the usual answer, "no", puts its Produce requests back on the opaque fast path.

import { crc32cAfterChange } from '../../protocol/crc32c.ts';
import type { InitProducerIdRequest } from '../../protocol/generated/messages/init-producer-id-request.ts';
import type { InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id-response.ts';
import { ApiKey, type DecodedResponse, decodeRequest, peekProduceAcks } from '../../protocol/index.ts';
import {
  BATCH_BASE_SEQUENCE_OFFSET,
  BATCH_CRC_OFFSET,
  BATCH_PRODUCER_EPOCH_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  BATCH_RECORD_COUNT_OFFSET,
  batchProducerId,
  forEachBatch,
  isTransactionalBatch,
  scanProduceRequest,
} from '../../protocol/produce-scan.ts';
import { clientProducerId, producerIdKind, rewrittenProducerId } from '../../routing/producer-ids.ts';
import type { Route } from '../../routing/route.ts';
import type { FilterContext, ProxyFilter, RequestAction } from '../filter.ts';
import { refusedProduceResponse } from '../produce-refusal.ts';
import { type GateBatch, SequenceGate } from '../sequence-gate.ts';

const KEY = 'producer-ids';

interface State {
  /** Whether each InitProducerId request waiting for its answer named a transactional id. */
  inits: boolean[];
  /** The connection's producer needs nothing rewritten (learned from its first batch with an id). */
  plain: boolean;
}

function stateOf(ctx: FilterContext): State {
  let s = ctx.state.get(KEY) as State | undefined;
  if (s === undefined) {
    s = { inits: [], plain: false };
    ctx.state.set(KEY, s);
  }
  return s;
}

export class ProducerIdFilter implements ProxyFilter {
  readonly name = 'producer-ids';
  readonly requestApiKeys = [ApiKey.Produce, ApiKey.InitProducerId] as const;

  cutThrough(ctx: FilterContext): boolean {
    return (ctx.state.get(KEY) as State | undefined)?.plain === true;
  }

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number, apiVersion: number): RequestAction | undefined {
    const s = stateOf(ctx);
    if (apiKey === ApiKey.InitProducerId) {
      let transactional = true; // unreadable: leave the answer alone
      try {
        transactional = decodeRequest<InitProducerIdRequest>(frame).body.transactionalId !== null;
      } catch {
        // the broker answers it with an error
      }
      s.inits.push(transactional);
      return undefined;
    }
    if (s.plain || apiVersion < 3) return undefined;
    return rewriteProduce(ctx, s, frame);
  }

  wantsResponse(apiKey: number): boolean {
    return apiKey === ApiKey.InitProducerId;
  }

  onResponse(ctx: FilterContext, _apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const transactional = stateOf(ctx).inits.shift() ?? true;
    const body = response.body as InitProducerIdResponse;
    if (transactional || body.errorCode !== 0 || body.producerId < 0n) return false;
    const id = clientProducerId(body.producerId, ctx.epoch);
    if (id === body.producerId) return false;
    body.producerId = id;
    return true;
  }
}

/** A batch whose producer id is from an earlier epoch: where it is in the frame, and what the gate needs. */
interface EarlierBatch extends GateBatch {
  readonly start: number;
  readonly end: number;
}

/**
 * Replaces ids from earlier epochs in the request's batches, in place; learns whether the
 * connection needs it. Such batches first pass the route's sequence gate (sequence-gate.ts).
 */
function rewriteProduce(ctx: FilterContext, s: State, frame: Buffer): RequestAction | undefined {
  let sawBatch = false;
  const earlier: EarlierBatch[] = [];
  const previous = ctx.route.previous;
  const topics: (string | null)[] = [];
  try {
    scanProduceRequest(frame, {
      topic(name) {
        topics.push(name); // up to v12 (the highest the gateway offers) topics are named
      },
      records(topicIndex, partition, start, end) {
        forEachBatch(frame, start, end, (batchStart, batchEnd, magic) => {
          sawBatch = true;
          if (magic < 2) return; // message sets of old clients carry no producer id
          const id = batchProducerId(frame, batchStart);
          if (isTransactionalBatch(frame, batchStart) || producerIdKind(id, ctx.epoch) !== 'earlier') return;
          earlier.push({
            start: batchStart,
            end: batchEnd,
            key: `${topics[topicIndex] ?? ''}:${partition}`,
            producerId: rewrittenProducerId(id, ctx.epoch),
            // As the cluster before the last switch saw it: its own issue, or replaced for its epoch.
            previousId: previous === null || producerIdKind(id, previous.epoch) === 'current' ? id : rewrittenProducerId(id, previous.epoch),
            epoch: frame.readInt16BE(batchStart + BATCH_PRODUCER_EPOCH_OFFSET),
            baseSequence: frame.readInt32BE(batchStart + BATCH_BASE_SEQUENCE_OFFSET),
            count: frame.readInt32BE(batchStart + BATCH_RECORD_COUNT_OFFSET),
          });
        });
      },
    });
  } catch (err) {
    // Malformed: the broker rejects it; nothing to learn from it.
    ctx.log.debug({ err: (err as Error).message }, 'unreadable Produce request; forwarded as it is');
    return undefined;
  }
  if (sawBatch && earlier.length === 0) s.plain = true;
  if (earlier.length === 0) return undefined;
  // acks=0: no answer is expected, so none can say "retry"; such writes were never ordered anyway.
  const gate = peekProduceAcks(frame) === 0 ? null : gateOf(ctx);
  if (gate !== null) {
    const decision = gate.decide(ctx.id, earlier);
    if (decision.kind === 'wait') return { defer: decision.until };
    if (decision.kind === 'refuse') {
      ctx.route.metrics.producerBatchesHeldBack(decision.partitions.length);
      ctx.log.debug(
        { partitions: decision.partitions },
        'batches of a producer from before the last switch would reach the cluster ahead of earlier ones; refused for a retry',
      );
      return { respond: refusedProduceResponse(frame, 'an earlier batch of this producer must reach the cluster first; retry') };
    }
    gate.forwarded(ctx.id, earlier);
  }
  for (const b of earlier) {
    const at = b.start + BATCH_PRODUCER_ID_OFFSET;
    const old = Buffer.from(frame.subarray(at, at + 8));
    frame.writeBigInt64BE(b.producerId, at);
    const crcAt = b.start + BATCH_CRC_OFFSET;
    const after = b.end - (b.start + BATCH_PRODUCER_EPOCH_OFFSET);
    frame.writeUInt32BE(crc32cAfterChange(frame.readUInt32BE(crcAt), old, frame.subarray(at, at + 8), after), crcAt);
  }
  ctx.log.debug('producer id from before the last switch replaced in a Produce request');
  return { replace: frame };
}

/** One gate per route and epoch in this process; null where the previous cluster cannot be asked. */
const gates = new WeakMap<Route, { epoch: number; gate: SequenceGate }>();

function gateOf(ctx: FilterContext): SequenceGate | null {
  const route = ctx.route;
  const previous = route.previous;
  const lookup = route.producerLookup;
  // Connections of an earlier epoch are retiring: nothing of theirs reaches the current cluster.
  if (previous === null || lookup === null || ctx.epoch !== route.epoch) return null;
  const known = gates.get(route);
  if (known !== undefined && known.epoch === route.epoch) return known.gate;
  const reported = new Set<string>();
  const gate = new SequenceGate(
    {
      previous: async (id, keys) => {
        const states = await lookup(previous.domain, previous.listener, id, keys);
        route.log.debug(
          { producerId: String(id), domain: previous.domain.name, states: Object.fromEntries([...states].map(([k, v]) => [k, v])) },
          'where a producer from before the last switch stood on the previous cluster',
        );
        return states;
      },
      current: (id, keys) => lookup(route.upstream.domain, route.upstream.listener, id, keys),
    },
    (which, err) => {
      if (reported.has(which)) return;
      reported.add(which);
      route.log.warn(
        { domain: which === 'previous' ? previous.domain.name : route.domainName, err: err.message },
        which === 'previous'
          ? 'cannot ask the previous cluster where idempotent producers stood; their first batches on this cluster go through unchecked, and one that arrives ahead of an earlier one is written first'
          : "cannot ask this cluster whether it holds an idempotent producer's state; its batches go through unchecked",
      );
    },
  );
  gates.set(route, { epoch: route.epoch, gate });
  return gate;
}
