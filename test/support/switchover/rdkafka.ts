// Starts rdkafka_switch_client.py (confluent-kafka-python on the system librdkafka): one process
// with a producer and a group consumer, kept running across a route switch.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientTarget } from '../clients/common.ts';
import { librdkafkaConfig, SYSTEM_PYTHON } from '../clients/librdkafka.ts';
import { LongRunningClient } from './long-running.ts';

const SCRIPT = fileURLToPath(new URL('./rdkafka_switch_client.py', import.meta.url));

/** `config`: further librdkafka properties for both handles (e.g. enable.idempotence). */
export function startRdkafkaClient(target: ClientTarget, topic: string, group: string, intervalMs: number, config: Readonly<Record<string, string>> = {}): LongRunningClient {
  return new LongRunningClient('librdkafka (confluent-kafka-python)', SYSTEM_PYTHON, [
    SCRIPT, '--bootstrap', target.bootstrap, '--topic', topic, '--group', group, '--interval-ms', String(intervalMs), ...librdkafkaConfig(target),
    ...Object.entries(config).flatMap(([k, v]) => ['-X', `${k}=${v}`]),
  ], { ...process.env, PYTHONUNBUFFERED: '1' });
}

/** librdkafka's version string and confluent-kafka-python's, from the system python. */
export function rdkafkaVersions(): { librdkafka: string; confluentKafkaPython: string } | null {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import confluent_kafka as c; print(c.libversion()[0]); print(c.version()[0])'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [librdkafka, confluentKafkaPython] = r.stdout.trim().split('\n');
  return { librdkafka, confluentKafkaPython };
}
