// Byte-exact golden test from real traffic: Kafka's own Java tools (admin, idempotent producer,
// group consumer, SASL client) talk to a real broker through a recording relay; every frame they
// exchanged, in the versions they picked, must decode and re-encode to the identical bytes.
// Runs against Kafka 4.x and 3.9, whose clients pick different versions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiKey, apiCodec, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { type RecordedFrame, RecordingRelay } from '../../support/recording-relay.ts';

/** APIs a producer, a group consumer and an admin client must have exercised. */
const REQUIRED = [
  'ApiVersions',
  'Metadata',
  'Produce',
  'InitProducerId',
  'Fetch',
  'ListOffsets',
  'FindCoordinator',
  'JoinGroup',
  'SyncGroup',
  'Heartbeat',
  'OffsetFetch',
  'OffsetCommit',
  'LeaveGroup',
  'DescribeGroups',
  'CreateTopics',
  'DeleteTopics',
  'SaslHandshake',
  'SaslAuthenticate',
];

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Re-encodes one recorded frame; returns a problem description or null. Never prints frame bytes (SASL frames carry passwords). */
function reencodeProblem(f: RecordedFrame): string | null {
  const name = `${apiCodec(f.apiKey)?.name ?? f.apiKey} v${f.apiVersion} ${f.direction}`;
  try {
    const again =
      f.direction === 'request'
        ? (() => {
            const d = decodeRequest(f.bytes);
            return encodeRequest(d.header, d.body);
          })()
        : (() => {
            const d = decodeResponse(f.bytes, f.apiKey, f.apiVersion);
            return encodeResponse(f.apiKey, f.apiVersion, d.header, d.body);
          })();
    if (!again.equals(f.bytes))
      return `${name}: re-encoded ${again.length} bytes differ from the ${f.bytes.length} recorded at byte ${firstDifference(again, f.bytes)}`;
    return null;
  } catch (e) {
    return `${name}: ${String(e)}`;
  }
}

for (const [kafkaVersion, clusterName] of [
  ['4.3.1', 'k4-single'],
  ['3.9.2', 'k3-single'],
] as const) {
  describe(`frames recorded between Kafka ${kafkaVersion} Java clients and a ${kafkaVersion} broker`, () => {
    let cluster: ClusterDescriptor;
    let tools: KafkaTools;
    let plain: RecordingRelay;
    let sasl: RecordingRelay;
    const topic = `golden-${Date.now().toString(36)}`;
    const group = `${topic}-group`;

    before(async () => {
      const bed = await testBed();
      cluster = await bed.cluster({ name: clusterName, brokers: 1, kafkaVersion });
      tools = await bed.tools(kafkaVersion);
      plain = await RecordingRelay.start(cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.plaintextPort })));
      sasl = await RecordingRelay.start(cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.saslPort })));

      const run = async (tool: (typeof KafkaTool)[keyof typeof KafkaTool], bootstrap: string, args: string[], input?: string, config?: string) => {
        const r = await tools.run(tool, [...tools.connectionArgs(tool, bootstrap, config), ...args], { input, timeoutMs: 60_000 });
        assert.equal(r.exitCode, 0, `${tool} ${args.join(' ')} failed:\n${r.stderr}`);
        return r;
      };
      await run(KafkaTool.Topics, plain.bootstrap, ['--create', '--topic', topic, '--partitions', '3', '--replication-factor', '1']);
      await run(KafkaTool.Topics, plain.bootstrap, ['--describe', '--topic', topic]);
      const lines = `${Array.from({ length: 30 }, (_, i) => `record-${i}`).join('\n')}\n`;
      await run(
        KafkaTool.ConsoleProducer,
        plain.bootstrap,
        ['--topic', topic, '--producer-property', 'enable.idempotence=true', '--producer-property', 'acks=all'],
        lines,
      );
      // Asks for one record more than exists and waits 2 s for it, so the member stays in the group
      // long enough to send heartbeats on any machine; the tool exits 0 on that timeout.
      await run(KafkaTool.ConsoleConsumer, plain.bootstrap, [
        '--topic',
        topic,
        '--group',
        group,
        '--from-beginning',
        '--max-messages',
        '31',
        '--timeout-ms',
        '2000',
        '--consumer-property',
        'heartbeat.interval.ms=100',
        '--consumer-property',
        'auto.commit.interval.ms=100',
      ]);
      if (kafkaVersion.startsWith('4.')) {
        // The KIP-848 consumer protocol (ConsumerGroupHeartbeat) is the default-to-be in 4.x.
        await run(KafkaTool.ConsoleConsumer, plain.bootstrap, [
          '--topic',
          topic,
          '--group',
          `${group}-848`,
          '--from-beginning',
          '--max-messages',
          '30',
          '--timeout-ms',
          '30000',
          '--consumer-property',
          'group.protocol=consumer',
        ]);
      }
      await run(KafkaTool.ConsumerGroups, plain.bootstrap, ['--describe', '--group', group]);
      await run(KafkaTool.Topics, sasl.bootstrap, ['--list'], undefined, tools.saslClientConfig('kafka'));
      await run(KafkaTool.Topics, plain.bootstrap, ['--delete', '--topic', topic]);
    });

    after(async () => {
      await plain?.stop();
      await sasl?.stop();
    });

    test('covers the APIs of a producer, a group consumer and an admin client, including SASL', () => {
      const seen = new Set([...plain.frames, ...sasl.frames].map((f) => apiCodec(f.apiKey)?.name ?? String(f.apiKey)));
      const missing = REQUIRED.filter((n) => !seen.has(n));
      assert.deepEqual(missing, [], `not exercised: ${missing.join(', ')}; seen: ${[...seen].sort().join(', ')}`);
      assert.ok(plain.frames.some((f) => f.apiKey === ApiKey.Produce && f.direction === 'response'));
      if (kafkaVersion.startsWith('4.')) assert.ok(seen.has('ConsumerGroupHeartbeat'), 'KIP-848 consumer heartbeat not seen');
    });

    test('every recorded request and response decodes and re-encodes to identical bytes', () => {
      const frames = [...plain.frames, ...sasl.frames];
      assert.ok(frames.length > 50, `only ${frames.length} frames recorded`);
      const problems = frames.map(reencodeProblem).filter((p): p is string => p !== null);
      const versions = [...new Set(frames.map((f) => `${apiCodec(f.apiKey)?.name}v${f.apiVersion}`))].sort();
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} of ${frames.length} frames differ (versions seen: ${versions.join(' ')})`);
    });
  });
}
