// The Kafka protocol codec: pure functions over bytes, no I/O. Per-API types and functions
// live in ./generated/messages/<api>-request.ts and -response.ts.
export { CodecError, CodecErrorCode } from './errors.ts';
export { Reader, type RawTaggedField, ZERO_UUID, EMPTY_BYTES } from './reader.ts';
export { Writer } from './writer.ts';
export { FrameDecoder, DEFAULT_MAX_FRAME_SIZE } from './frame-decoder.ts';
export * from './frames.ts';
export { KafkaErrorCode, KAFKA_ERRORS, kafkaErrorName, isRetriableKafkaError, type KafkaErrorInfo, type KafkaErrorName } from './kafka-errors.ts';
export { type ApiCodec, ApiKey, API_CODECS, KAFKA_VERSION, apiCodec } from './generated/index.ts';
