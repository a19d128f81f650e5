// The answer "not written here, retry" to a whole Produce request, made by the gateway:
// NOT_LEADER_OR_FOLLOWER for every partition. Every client retries it (after refreshing its
// metadata) without treating it as a sign about its sequence numbers, which is what the gateway
// needs when it cannot forward a request now: writes held by a switch's fence, and batches of an
// idempotent producer that would reach a cluster ahead of earlier ones (sequence-gate.ts).

import type { ProduceRequest } from '../protocol/generated/messages/produce-request.ts';
import {
  defaultProduceResponse,
  defaultProduceResponsePartitionProduceResponse,
  defaultProduceResponseTopicProduceResponse,
  type ProduceResponse,
} from '../protocol/generated/messages/produce-response.ts';
import { ApiKey, decodeRequest, encodeResponse, KafkaErrorCode } from '../protocol/index.ts';

/** The response to Produce request `frame` refusing every partition (throws CodecError on an unreadable frame). */
export function refusedProduceResponse(frame: Buffer, errorMessage: string): Buffer {
  const req = decodeRequest<ProduceRequest>(frame);
  const body: ProduceResponse = {
    ...defaultProduceResponse(),
    responses: req.body.topicData.map((t) => ({
      ...defaultProduceResponseTopicProduceResponse(),
      name: t.name,
      topicId: t.topicId,
      partitionResponses: t.partitionData.map((p) => ({
        ...defaultProduceResponsePartitionProduceResponse(),
        index: p.index,
        errorCode: KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
        baseOffset: -1n,
        logAppendTimeMs: -1n,
        logStartOffset: -1n,
        errorMessage,
      })),
    })),
  };
  return encodeResponse(ApiKey.Produce, req.header.requestApiVersion, { correlationId: req.header.correlationId }, body);
}
