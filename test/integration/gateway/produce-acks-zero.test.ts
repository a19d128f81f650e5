// Produce with acks=0 gets no response from the broker, so the gateway must not expect one:
// a response to a later request on the same connection still reaches the client, and the
// records land.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, apiCodec } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { createTopic, RawKafkaClient } from '../../support/raw-kafka.ts';
import { recordBatch } from '../../support/record-batch.ts';

let cluster: ClusterDescriptor;
let gw: TestGateway;
let tools: KafkaTools;

before(async () => {
  const bed = await testBed();
  cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
  tools = await bed.tools();
  gw = await startGateway({ domains: [domainFor(cluster, 'main')], routes: [{ name: 'r', domain: 'main', listener: 'plaintext' }] });
});

after(async () => {
  await gw?.stop();
});

test('acks=0 Produce requests are forwarded without waiting for a response, and later responses still pair up', async () => {
  const topic = `acks-zero-${Date.now()}`;
  await createTopic(gw.bootstrap.r, topic);
  const port = gw.gateway.routes[0].ports.portOf(cluster.brokers[0].nodeId);
  const client = await RawKafkaClient.connect(`127.0.0.1:${port}`);
  try {
    const versions = [9, 11, 12];
    for (const v of versions) {
      client.send(ApiKey.Produce, v, {
        transactionalId: null,
        acks: 0,
        timeoutMs: 5000,
        topicData: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitionData: [{ index: 0, records: recordBatch([`a-${v}`, `b-${v}`]) }] }],
      });
    }
    const md = await client.request<MetadataResponse>(ApiKey.Metadata, 12, {
      ...apiCodec(ApiKey.Metadata)!.defaultRequest(),
      topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    });
    assert.equal(md.topics[0].name, topic);
    assert.equal(client.pendingFrames, 0, 'no frame other than the Metadata response arrived');
    assert.equal(
      gw.gateway.connections('r').find((c) => c.stats().inFlight > 0),
      undefined,
      'nothing is left waiting for a response',
    );
    const end = await tools.endOffsets(gw.bootstrap.r, topic);
    assert.equal(end.get(0), versions.length * 2);
  } finally {
    client.destroy();
  }
});
