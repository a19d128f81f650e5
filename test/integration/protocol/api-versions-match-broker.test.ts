// The codec's API list matches what a live Kafka 4.x broker advertises: every API key the broker
// offers is in the codec with at least the broker's version range, and every API the codec marks
// as served by brokers is offered by the broker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultApiVersionsRequest } from '../../../src/protocol/generated/messages/api-versions-request.ts';
import type { ApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import { API_CODECS, ApiKey, apiCodec } from '../../../src/protocol/index.ts';
import { testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';

/**
 * Known, deliberate differences:
 * - Kafka 4.x still advertises Produce v0-2 (removed by KIP-896) because older librdkafka fails when
 *   Produce's minimum version is above 0; the broker rejects those versions if used. The gateway's
 *   own ApiVersions answer must keep that quirk.
 * - Client telemetry (KIP-714) is only offered when a metrics reporter that supports it is configured.
 */
const ADVERTISED_BELOW_CODEC_MIN: Record<string, number> = { Produce: 0 };
const BROKER_APIS_OFFERED_ONLY_WHEN_CONFIGURED = new Set(['GetTelemetrySubscriptions', 'PushTelemetry']);

test('the codec covers exactly the API keys and versions a Kafka 4.x broker advertises', async () => {
  const bed = await testBed();
  const cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
  const b = cluster.brokers[0];
  const body = await sendRequest<ApiVersionsResponse>(b.host, b.plaintextPort, ApiKey.ApiVersions, 3, {
    ...defaultApiVersionsRequest(),
    clientSoftwareName: 'turnout-test',
    clientSoftwareVersion: '0',
  });
  assert.equal(body.errorCode, 0);

  const problems: string[] = [];
  for (const a of body.apiKeys) {
    const c = apiCodec(a.apiKey);
    if (c === undefined) problems.push(`broker offers api key ${a.apiKey}, which the codec lacks`);
    else if ((a.minVersion < c.minVersion && ADVERTISED_BELOW_CODEC_MIN[c.name] !== a.minVersion) || a.maxVersion > c.maxVersion) {
      problems.push(`${c.name}: broker offers v${a.minVersion}-${a.maxVersion}, codec has v${c.minVersion}-${c.maxVersion}`);
    }
  }
  const offered = new Set(body.apiKeys.map((a) => a.apiKey));
  for (const c of API_CODECS) {
    if (c.listeners.includes('broker') && !offered.has(c.apiKey) && !BROKER_APIS_OFFERED_ONLY_WHEN_CONFIGURED.has(c.name))
      problems.push(`${c.name} is a broker API in the codec but the broker does not offer it`);
  }
  assert.deepEqual(problems, []);
});
