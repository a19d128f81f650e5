// The Kafka protocol codec: pure functions over bytes, no I/O. Per-API types and functions
// live in ./generated/messages/<api>-request.ts and -response.ts.
export { CodecError, CodecErrorCode } from './errors.ts';
export { DEFAULT_MAX_FRAME_SIZE, FrameDecoder } from './frame-decoder.ts';
export * from './frames.ts';
export { API_CODECS, type ApiCodec, ApiKey, apiCodec, KAFKA_VERSION } from './generated/index.ts';
export { isRetriableKafkaError, KAFKA_ERRORS, KafkaErrorCode, type KafkaErrorInfo, type KafkaErrorName, kafkaErrorName } from './kafka-errors.ts';
export { EMPTY_BYTES, type RawTaggedField, Reader, ZERO_UUID } from './reader.ts';
export { Writer } from './writer.ts';
