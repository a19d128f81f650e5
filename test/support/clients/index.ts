// Drivers for real Kafka clients, one module per client family, all in one shape (ClientDriver) so
// a test can run every client against the same bootstrap address: the test bed's brokers, or
// Turnout in front of them. Tests call stopAllClients() in an `after` hook.

import type { ClientDriver } from './common.ts';
import { javaDriver } from './java.ts';
import { kafkajsDriver } from './kafkajs.ts';
import { kcatDriver, pythonDriver } from './librdkafka.ts';
import { platformaticDriver } from './platformatic.ts';

export * from './common.ts';
export { javaDriver, kafkajsDriver, kcatDriver, platformaticDriver, pythonDriver };

/** Every client family: kafkajs, @platformatic/kafka, librdkafka (confluent-kafka-python and kcat)
 *  and the Java client of the default Kafka version. */
export const CLIENT_DRIVERS: readonly ClientDriver[] = [kafkajsDriver, platformaticDriver, pythonDriver, kcatDriver, javaDriver()];
