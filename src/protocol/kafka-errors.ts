// Kafka's error codes as the gateway uses them: by name (the table is generated from the
// kafka-clients jar, src/protocol/generated/errors.ts), printed with name and number, and judged
// retriable as Kafka judges them (the exception a Java client would raise extends
// RetriableException: the same request may succeed when sent again).
import { KAFKA_ERRORS } from './generated/errors.ts';

export { KAFKA_ERRORS, KafkaErrorCode, type KafkaErrorInfo, type KafkaErrorName } from './generated/errors.ts';

/** "NOT_COORDINATOR (16)"; a code Kafka does not define prints as "error 4242". */
export function kafkaErrorName(code: number): string {
  const e = KAFKA_ERRORS.get(code);
  return e === undefined ? `error ${code}` : `${e.name} (${code})`;
}

/** Kafka deems the error transient: the leader moved, a coordinator is loading, a broker is busy. Unknown codes are not. */
export function isRetriableKafkaError(code: number): boolean {
  return KAFKA_ERRORS.get(code)?.retriable === true;
}
