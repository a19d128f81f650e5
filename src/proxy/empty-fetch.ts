// The answer a broker gives a Fetch when it has no new records, made by the gateway: for a Fetch
// held while its client rejoins its group after a switch (see REJOIN_EMPTY_FETCH_MS in
// connection.ts). Every requested partition is there without records, with offsets unknown (-1),
// and the session id is 0, which ends any fetch session: the client's next Fetch is a full one,
// which the broker it goes to will answer for real.

import type { FetchRequest } from '../protocol/generated/messages/fetch-request.ts';
import {
  defaultFetchResponse,
  defaultFetchResponseFetchableTopicResponse,
  defaultFetchResponsePartitionData,
  type FetchResponse,
} from '../protocol/generated/messages/fetch-response.ts';
import { ApiKey, decodeRequest, encodeResponse } from '../protocol/index.ts';

const NO_RECORDS = new Uint8Array(0);

/** The empty response to the Fetch request `frame` (throws CodecError on an unreadable frame). */
export function emptyFetchResponse(frame: Buffer): Buffer {
  const { header, body } = decodeRequest<FetchRequest>(frame);
  const response: FetchResponse = {
    ...defaultFetchResponse(),
    sessionId: 0,
    responses: body.topics.map((t) => ({
      ...defaultFetchResponseFetchableTopicResponse(),
      topic: t.topic,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({
        ...defaultFetchResponsePartitionData(),
        partitionIndex: p.partition,
        highWatermark: -1n,
        records: NO_RECORDS,
      })),
    })),
  };
  return encodeResponse(ApiKey.Fetch, header.requestApiVersion, { correlationId: header.correlationId }, response);
}

/**
 * An answer to a Fetch built from its correlation id and version alone: no partitions, no error,
 * session id 0. For a Fetch the gateway must answer itself but cannot read.
 */
export function noDataFetchResponse(correlationId: number, apiVersion: number): Buffer {
  return encodeResponse(ApiKey.Fetch, apiVersion, { correlationId }, { ...defaultFetchResponse(), sessionId: 0, responses: [] });
}

/**
 * Whether a Fetch continues a fetch session (KIP-227: session id not 0, v7+). Such a session was
 * made by the broker the client fetched from before; after a switch that is another cluster's.
 * Throws CodecError on an unreadable frame.
 */
export function continuesFetchSession(frame: Buffer, apiVersion: number): boolean {
  return apiVersion >= 7 && decodeRequest<FetchRequest>(frame).body.sessionId !== 0;
}

/**
 * Where a Fetch request's session id (int32) and, 4 bytes on, its session epoch are in `frame`
 * (v7-v12; replica id, max wait, min and max bytes and isolation level come first), read without
 * decoding the request; -1 below v7 or when the frame is too short. For every Fetch on the data
 * path, so it allocates nothing.
 */
export function fetchSessionOffset(frame: Buffer, apiVersion: number): number {
  // size, api key, version, correlation id, then the client id's length
  if (apiVersion < 7 || frame.length < 14) return -1;
  const clientIdLength = frame.readInt16BE(12);
  let o = 14 + Math.max(0, clientIdLength);
  if (apiVersion >= 12) {
    // Request header v2: tagged fields after the client id.
    const n = readUnsignedVarint(frame, o);
    o = varintEnd;
    for (let i = 0; i < n && o >= 0; i++) {
      readUnsignedVarint(frame, o); // tag
      if (varintEnd < 0) return -1;
      const size = readUnsignedVarint(frame, varintEnd);
      o = varintEnd < 0 ? -1 : varintEnd + size;
    }
    if (o < 0) return -1;
  }
  o += 17;
  return o + 8 <= frame.length ? o : -1;
}

/** Where the varint readUnsignedVarint read last ended (-1: cut short), so that reading allocates nothing. */
let varintEnd = -1;

function readUnsignedVarint(frame: Buffer, at: number): number {
  let value = 0;
  for (let shift = 0, o = at; o < frame.length && shift <= 28; shift += 7, o++) {
    const b = frame[o];
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      varintEnd = o + 1;
      return value >>> 0;
    }
  }
  varintEnd = -1;
  return 0;
}
