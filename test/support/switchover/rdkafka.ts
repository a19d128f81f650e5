// Starts rdkafka_switch_client.py (confluent-kafka-python on the system librdkafka): one process
// with a producer and a group consumer, kept running across a route switch.
import { fileURLToPath } from 'node:url';
import type { ClientTarget } from '../clients/common.ts';
import { librdkafkaConfig, SYSTEM_PYTHON } from '../clients/librdkafka.ts';
import { LongRunningClient } from './long-running.ts';

const SCRIPT = fileURLToPath(new URL('./rdkafka_switch_client.py', import.meta.url));

export function startRdkafkaClient(target: ClientTarget, topic: string, group: string, intervalMs: number): LongRunningClient {
  return new LongRunningClient('librdkafka (confluent-kafka-python)', SYSTEM_PYTHON, [
    SCRIPT, '--bootstrap', target.bootstrap, '--topic', topic, '--group', group, '--interval-ms', String(intervalMs), ...librdkafkaConfig(target),
  ], { ...process.env, PYTHONUNBUFFERED: '1' });
}
