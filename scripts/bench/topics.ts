// Creating and deleting the benchmark's topics with single Kafka requests (Turnout's codec on a raw
// socket) instead of the Java topics tool, whose JVM would cost seconds of CPU per run.

import type { CreateTopicsResponse } from '../../src/protocol/generated/messages/create-topics-response.ts';
import type { DeleteTopicsResponse } from '../../src/protocol/generated/messages/delete-topics-response.ts';
import type { MetadataResponse } from '../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, ZERO_UUID } from '../../src/protocol/index.ts';
import { sendRequest } from '../../src/testbed/kafka-request.ts';

export interface Broker {
  readonly host: string;
  readonly port: number;
}

// Versions every Kafka the test bed runs (3.9 and 4.x) accepts.
const CREATE_TOPICS_V = 7;
const DELETE_TOPICS_V = 6;
const METADATA_V = 12;
const TOPIC_ALREADY_EXISTS = 36;
const UNKNOWN_TOPIC = 3;

export async function createTopic(broker: Broker, name: string, partitions: number, replicationFactor: number): Promise<void> {
  const r = await sendRequest<CreateTopicsResponse>(
    broker.host,
    broker.port,
    ApiKey.CreateTopics,
    CREATE_TOPICS_V,
    {
      topics: [{ name, numPartitions: partitions, replicationFactor, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false,
    },
    35_000,
  );
  const result = r.topics.find((t) => t.name === name);
  if (result && result.errorCode !== 0 && result.errorCode !== TOPIC_ALREADY_EXISTS) {
    throw new Error(`creating topic ${name} failed: error ${result.errorCode} ${result.errorMessage ?? ''}`);
  }
  await waitForLeaders(broker, name, partitions);
}

/** Waits until the broker's metadata shows a leader for every partition of `name`. */
async function waitForLeaders(broker: Broker, name: string, partitions: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await sendRequest<MetadataResponse>(broker.host, broker.port, ApiKey.Metadata, METADATA_V, {
      topics: [{ topicId: ZERO_UUID, name }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const t = r.topics.find((x) => x.name === name);
    if (t && t.errorCode === 0 && t.partitions.length === partitions && t.partitions.every((p) => p.leaderId >= 0)) return;
    if (Date.now() > deadline) throw new Error(`topic ${name} has no leader for every partition after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function deleteTopic(broker: Broker, name: string): Promise<void> {
  const r = await sendRequest<DeleteTopicsResponse>(
    broker.host,
    broker.port,
    ApiKey.DeleteTopics,
    DELETE_TOPICS_V,
    {
      topics: [{ name, topicId: ZERO_UUID }],
      topicNames: [],
      timeoutMs: 30_000,
    },
    35_000,
  );
  const result = r.responses.find((t) => t.name === name) as { errorCode?: number } | undefined;
  if (result?.errorCode && result.errorCode !== UNKNOWN_TOPIC) throw new Error(`deleting topic ${name} failed: error ${result.errorCode}`);
}
