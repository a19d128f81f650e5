// Whole Kafka frames: header + body, with the 4-byte size prefix. Decoding untrusted bytes
// throws only CodecError. The header's fixed prefix can be peeked without decoding anything,
// which is what the proxy's fast path does for frames no filter needs to look into.
import { CodecError, CodecErrorCode } from './errors.ts';
import { type ApiCodec, ApiKey, apiCodec, RequestHeaderCodec, ResponseHeaderCodec } from './generated/index.ts';
import type { RequestHeader } from './generated/messages/request-header.ts';
import type { ResponseHeader } from './generated/messages/response-header.ts';
import { Reader } from './reader.ts';
import { Writer } from './writer.ts';

export type { RequestHeader, ResponseHeader };

/** Offset of the header in a frame (after the size prefix). */
export const FRAME_HEADER_OFFSET = 4;

export function isFlexible(codec: ApiCodec, version: number): boolean {
  return codec.firstFlexibleVersion >= 0 && version >= codec.firstFlexibleVersion;
}

/** Request header version for an API version: 2 when the body is flexible, else 1. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const codec = apiCodec(apiKey);
  return codec !== undefined && isFlexible(codec, apiVersion) ? 2 : 1;
}

/**
 * Response header version: 1 when the body is flexible, else 0 — except ApiVersions, whose
 * response always has header v0 so that a client can read it before versions are agreed.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  const codec = apiCodec(apiKey);
  return codec !== undefined && isFlexible(codec, apiVersion) ? 1 : 0;
}

/** The request's api key, read in place (frame must hold at least 6 bytes). */
export function peekApiKey(frame: Buffer): number {
  return frame.readInt16BE(4);
}
export function peekApiVersion(frame: Buffer): number {
  return frame.readInt16BE(6);
}
/** Correlation id of a request (offset 8) or of a response (offset 4). */
export function peekRequestCorrelationId(frame: Buffer): number {
  return frame.readInt32BE(8);
}
export function peekResponseCorrelationId(frame: Buffer): number {
  return frame.readInt32BE(4);
}
/** An API's name for messages ("Metadata"), or "api key N" for a key the codec does not know. */
export function describeApiKey(apiKey: number): string {
  return apiCodec(apiKey)?.name ?? `api key ${apiKey}`;
}

/** Client id of a request (header v1+; '' when null or absent). */
export function peekRequestClientId(frame: Buffer): string {
  if (frame.length < 14) return '';
  const len = frame.readInt16BE(12);
  if (len <= 0 || 14 + len > frame.length) return '';
  return frame.toString('utf8', 14, 14 + len);
}

function checkFrameSize(frame: Buffer, minBody: number): void {
  if (frame.length < FRAME_HEADER_OFFSET + minBody) {
    throw new CodecError(CodecErrorCode.Truncated, `frame of ${frame.length} bytes is too short for a header`, 0);
  }
  const size = frame.readInt32BE(0);
  if (size !== frame.length - 4) {
    throw new CodecError(CodecErrorCode.InvalidLength, `frame size prefix ${size} does not match the ${frame.length - 4} bytes that follow`, 0);
  }
}

function codecFor(apiKey: number, version: number): ApiCodec {
  const codec = apiCodec(apiKey);
  if (codec === undefined) throw new CodecError(CodecErrorCode.UnknownApi, `unknown api key ${apiKey}`);
  if (version < codec.minVersion || version > codec.maxVersion) {
    throw new CodecError(CodecErrorCode.UnsupportedVersion, `${codec.name} v${version} is not supported (versions ${codec.minVersion}-${codec.maxVersion})`);
  }
  return codec;
}

/** Runs a decoder and turns anything that is not a CodecError into one, so callers see one type. */
function guarded<T>(decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(CodecErrorCode.Internal, `decoder failed: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
  }
}

function checkEnd(r: Reader, what: string): void {
  if (r.pos !== r.end) {
    throw new CodecError(CodecErrorCode.TrailingBytes, `${r.end - r.pos} bytes left after the ${what}`, r.pos);
  }
}

export interface DecodedRequestHeader {
  header: RequestHeader;
  headerVersion: number;
  /** Offset of the body in the frame. */
  bodyOffset: number;
}

/** Decodes only the request header (the body stays as bytes). */
export function decodeRequestHeader(frame: Buffer): DecodedRequestHeader {
  return guarded(() => {
    checkFrameSize(frame, 8);
    const headerVersion = requestHeaderVersion(frame.readInt16BE(4), frame.readInt16BE(6));
    const r = new Reader(frame, FRAME_HEADER_OFFSET);
    const header = RequestHeaderCodec.readRequestHeader(r, headerVersion);
    return { header, headerVersion, bodyOffset: r.pos };
  });
}

export interface DecodedRequest<T extends object = object> extends DecodedRequestHeader {
  body: T;
}

export function decodeRequest<T extends object = object>(frame: Buffer): DecodedRequest<T> {
  return guarded(() => {
    const h = decodeRequestHeader(frame);
    const codec = codecFor(h.header.requestApiKey, h.header.requestApiVersion);
    const r = new Reader(frame, h.bodyOffset);
    const body = codec.readRequest(r, h.header.requestApiVersion) as T;
    checkEnd(r, `${codec.name} v${h.header.requestApiVersion} request`);
    return { ...h, body };
  });
}

export interface DecodedResponse<T extends object = object> {
  header: ResponseHeader;
  headerVersion: number;
  body: T;
}

/** Decodes a response; the api key and version come from the request it answers. */
export function decodeResponse<T extends object = object>(frame: Buffer, apiKey: number, apiVersion: number): DecodedResponse<T> {
  return guarded(() => {
    checkFrameSize(frame, 4);
    const codec = codecFor(apiKey, apiVersion);
    const headerVersion = responseHeaderVersion(apiKey, apiVersion);
    const r = new Reader(frame, FRAME_HEADER_OFFSET);
    const header = ResponseHeaderCodec.readResponseHeader(r, headerVersion);
    const body = codec.readResponse(r, apiVersion) as T;
    checkEnd(r, `${codec.name} v${apiVersion} response`);
    return { header, headerVersion, body };
  });
}

/** Writes the 4-byte size prefix in front of what `write` produces; returns the frame as chunks. */
function frameChunks(write: (w: Writer) => void): Uint8Array[] {
  const w = new Writer(512);
  w.int32(0);
  write(w);
  const chunks = w.finish();
  const size = chunks.reduce((n, c) => n + c.length, 0) - 4;
  Buffer.from(chunks[0].buffer, chunks[0].byteOffset, 4).writeInt32BE(size, 0);
  return chunks;
}

function joinChunks(chunks: Uint8Array[]): Buffer {
  return chunks.length === 1 ? Buffer.from(chunks[0].buffer, chunks[0].byteOffset, chunks[0].length) : Buffer.concat(chunks);
}

/** Encodes a request frame as chunks (large byte blocks such as records are not copied). */
export function encodeRequestChunks(header: RequestHeader, body: object): Uint8Array[] {
  const codec = codecFor(header.requestApiKey, header.requestApiVersion);
  const headerVersion = requestHeaderVersion(header.requestApiKey, header.requestApiVersion);
  return frameChunks((w) => {
    RequestHeaderCodec.writeRequestHeader(w, headerVersion, header);
    codec.writeRequest(w, header.requestApiVersion, body);
  });
}

export function encodeRequest(header: RequestHeader, body: object): Buffer {
  return joinChunks(encodeRequestChunks(header, body));
}

export function encodeResponseChunks(apiKey: number, apiVersion: number, header: ResponseHeader, body: object): Uint8Array[] {
  const codec = codecFor(apiKey, apiVersion);
  const headerVersion = responseHeaderVersion(apiKey, apiVersion);
  return frameChunks((w) => {
    ResponseHeaderCodec.writeResponseHeader(w, headerVersion, header);
    codec.writeResponse(w, apiVersion, body);
  });
}

export function encodeResponse(apiKey: number, apiVersion: number, header: ResponseHeader, body: object): Buffer {
  return joinChunks(encodeResponseChunks(apiKey, apiVersion, header, body));
}

/**
 * The `acks` of a Produce request frame, read in place without allocating: acks=0 requests get no
 * response, so a proxy must not wait for one. Works for every Produce version (v0-2 have no
 * transactional id). Throws CodecError on a frame too short to hold the field.
 */
export function peekProduceAcks(frame: Buffer): number {
  const version = frame.readInt16BE(6);
  const flexible = version >= 9;
  let pos = 12;
  const need = (n: number): void => {
    if (pos + n > frame.length) {
      throw new CodecError(CodecErrorCode.Truncated, `Produce v${version} request of ${frame.length} bytes ends before its acks field`, pos);
    }
  };
  const uvarint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      need(1);
      const b = frame[pos++];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new CodecError(CodecErrorCode.VarintTooLong, 'varint longer than 5 bytes in a Produce request header', pos);
  };
  need(2);
  const clientIdLength = frame.readInt16BE(pos);
  pos += 2 + Math.max(0, clientIdLength);
  if (flexible) {
    for (let n = uvarint(); n > 0; n--) {
      uvarint(); // tag
      const size = uvarint(); // read before adding: `pos += uvarint()` would add to the old pos
      pos += size;
    }
  }
  if (version >= 3) {
    if (flexible) {
      const len = uvarint();
      pos += Math.max(0, len - 1);
    } else {
      need(2);
      const len = frame.readInt16BE(pos);
      pos += 2 + Math.max(0, len);
    }
  }
  need(2);
  return frame.readInt16BE(pos);
}
