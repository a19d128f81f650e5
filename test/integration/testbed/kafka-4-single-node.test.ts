// Kafka 4.x (the default version): single-node start-up and console client round trips.
import { roundTripTests } from './round-trip.ts';

roundTripTests('4.3.1', 'k4-single');
