// Starts rdkafka_switch_client.py (confluent-kafka-python from PyPI, in the test cache's
// virtualenv: see ../clients/python-venv.ts): one process with a producer and a group consumer,
// kept running across a route switch.
import { fileURLToPath } from 'node:url';
import type { ClientTarget } from '../clients/common.ts';
import { librdkafkaConfig } from '../clients/librdkafka.ts';
import { rdkafkaPython } from '../clients/python-venv.ts';
import { LongRunningClient } from './long-running.ts';

export { rdkafkaVersions } from '../clients/python-venv.ts';

const SCRIPT = fileURLToPath(new URL('./rdkafka_switch_client.py', import.meta.url));

/** `config`: further librdkafka properties for both handles (e.g. enable.idempotence).
 *  `valueBytes`: pad each value to that size (compressible text), so that compression applies. */
export function startRdkafkaClient(
  target: ClientTarget,
  topic: string,
  group: string,
  intervalMs: number,
  config: Readonly<Record<string, string>> = {},
  valueBytes = 0,
): LongRunningClient {
  return new LongRunningClient(
    'librdkafka (confluent-kafka-python)',
    rdkafkaPython(),
    [
      SCRIPT,
      '--bootstrap',
      target.bootstrap,
      '--topic',
      topic,
      '--group',
      group,
      '--interval-ms',
      String(intervalMs),
      '--value-bytes',
      String(valueBytes),
      ...librdkafkaConfig(target),
      ...Object.entries(config).flatMap(([k, v]) => ['-X', `${k}=${v}`]),
    ],
    { ...process.env, PYTHONUNBUFFERED: '1' },
  );
}
