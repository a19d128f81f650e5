// Kafka 3.9 (older brokers gateways still meet): single-node start-up and console client round trips.
import { roundTripTests } from './round-trip.ts';

roundTripTests('3.9.2', 'k3-single');
