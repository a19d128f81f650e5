// Idempotent producers keep distinct ids across switches (see routing/producer-ids.ts): ids the
// brokers allocate for non-transactional producers are tagged with the switch epoch on their way
// to the client, and a producer still using an id from an earlier epoch has it replaced in each
// record batch it writes (the batch's CRC is corrected for the 8 changed bytes without reading
// the records). A connection learns from its first Produce request whether its producer needs
// that; the usual answer, "no", puts its Produce requests back on the opaque fast path.
import { ApiKey, decodeRequest, type DecodedResponse } from '../../protocol/index.ts';
import { crc32cAfterChange } from '../../protocol/crc32c.ts';
import { BATCH_CRC_OFFSET, batchProducerId, BATCH_PRODUCER_EPOCH_OFFSET, BATCH_PRODUCER_ID_OFFSET, forEachBatch, isTransactionalBatch, scanProduceRequest } from '../../protocol/produce-scan.ts';
import type { InitProducerIdRequest } from '../../protocol/generated/messages/init-producer-id-request.ts';
import type { InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id-response.ts';
import { clientProducerId, producerIdKind, rewrittenProducerId } from '../../routing/producer-ids.ts';
import type { FilterContext, ProxyFilter, RequestAction } from '../filter.ts';

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

/** Replaces ids from earlier epochs in the request's batches, in place; learns whether the connection needs it. */
function rewriteProduce(ctx: FilterContext, s: State, frame: Buffer): RequestAction | undefined {
  let sawBatch = false;
  let earlier = false;
  try {
    scanProduceRequest(frame, {
      records(_topic, _partition, start, end) {
        forEachBatch(frame, start, end, (batchStart, batchEnd, magic) => {
          sawBatch = true;
          if (magic < 2) return; // message sets of old clients carry no producer id
          const id = batchProducerId(frame, batchStart);
          if (isTransactionalBatch(frame, batchStart) || producerIdKind(id, ctx.epoch) !== 'earlier') return;
          earlier = true;
          const at = batchStart + BATCH_PRODUCER_ID_OFFSET;
          const old = Buffer.from(frame.subarray(at, at + 8));
          frame.writeBigInt64BE(rewrittenProducerId(id, ctx.epoch), at);
          const crcAt = batchStart + BATCH_CRC_OFFSET;
          const after = batchEnd - (batchStart + BATCH_PRODUCER_EPOCH_OFFSET);
          frame.writeUInt32BE(crc32cAfterChange(frame.readUInt32BE(crcAt), old, frame.subarray(at, at + 8), after), crcAt);
        });
      },
    });
  } catch (err) {
    // Malformed: the broker rejects it; nothing to learn from it.
    ctx.log.debug({ err: (err as Error).message }, 'unreadable Produce request; forwarded as it is');
    return undefined;
  }
  if (sawBatch && !earlier) s.plain = true;
  if (earlier) ctx.log.debug('producer id from before the last switch replaced in a Produce request');
  return earlier ? { replace: frame } : undefined;
}
