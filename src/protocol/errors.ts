// Errors raised by the protocol codec. Decoding untrusted bytes throws only these.
import { TurnoutError } from '../errors.ts';

export const CodecErrorCode = {
  /** The bytes end before the structure does. */
  Truncated: 'TURNOUT_CODEC_TRUNCATED',
  /** A length or count field is negative where that is not allowed, or larger than the bytes left. */
  InvalidLength: 'TURNOUT_CODEC_INVALID_LENGTH',
  /** A varint runs longer than its type allows. */
  VarintTooLong: 'TURNOUT_CODEC_VARINT_TOO_LONG',
  /** A null where the field is not nullable in this version. */
  UnexpectedNull: 'TURNOUT_CODEC_UNEXPECTED_NULL',
  /** A tagged field whose declared size does not match its content. */
  InvalidTaggedField: 'TURNOUT_CODEC_INVALID_TAGGED_FIELD',
  /** Bytes left over after the message ended. */
  TrailingBytes: 'TURNOUT_CODEC_TRAILING_BYTES',
  /** The API key is not one this codec knows. */
  UnknownApi: 'TURNOUT_CODEC_UNKNOWN_API',
  /** The API exists but not in this version. */
  UnsupportedVersion: 'TURNOUT_CODEC_UNSUPPORTED_VERSION',
  /** Encoding a field with a non-default value in a version that cannot carry it. */
  FieldNotInVersion: 'TURNOUT_CODEC_FIELD_NOT_IN_VERSION',
  /** A frame's size prefix is negative or above the configured maximum. */
  FrameTooLarge: 'TURNOUT_CODEC_FRAME_TOO_LARGE',
  /** Anything else that went wrong inside the decoder (a bug); wrapped so callers see one type. */
  Internal: 'TURNOUT_CODEC_INTERNAL',
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

export class CodecError extends TurnoutError {
  declare readonly code: CodecErrorCode;
  /** Byte offset in the buffer being decoded where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(code: CodecErrorCode, message: string, offset?: number, options?: { cause?: unknown }) {
    super(code, offset === undefined ? message : `${message} (at byte ${offset})`, options);
    this.offset = offset;
  }
}
