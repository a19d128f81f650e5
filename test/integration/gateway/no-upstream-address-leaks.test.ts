// No upstream broker address ever reaches a client. Every API that can carry a broker address is
// exercised through the gateway at every version the gateway advertises (Produce and Fetch are
// sent to a broker that does not lead the partition, which makes the broker attach KIP-951
// NodeEndpoints), then real Java clients run through it; every byte the gateway sent to clients
// is searched for the upstream brokers' ports, in binary and in text.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import type { DescribeClusterResponse } from '../../../src/protocol/generated/messages/describe-cluster-response.ts';
import type { DescribeQuorumResponse } from '../../../src/protocol/generated/messages/describe-quorum-response.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import type { FindCoordinatorResponse } from '../../../src/protocol/generated/messages/find-coordinator-response.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import { ApiKey, apiCodec } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { recordBatch } from '../../support/record-batch.ts';

const CLUSTERS = [
  { name: 'k4-three', brokers: 3, nodeIdBase: 101 },
  { name: 'k3-three', brokers: 3, nodeIdBase: 201, kafkaVersion: '3.9.2' },
];

for (const spec of CLUSTERS) {
  describe(`no upstream address reaches clients (${spec.name})`, () => {
    let cluster: ClusterDescriptor;
    let gw: TestGateway;
    let tools: KafkaTools;
    let bootstrap: string;
    const sent: Uint8Array[] = [];
    const topic = `leak-check-${spec.name}`;
    let versions: Map<number, [number, number]>;
    let topicId = '';

    before(async () => {
      const bed = await testBed();
      cluster = await bed.cluster(spec);
      tools = await bed.tools(cluster.version);
      gw = await startGateway({
        domains: [domainFor(cluster, 'main')],
        routes: [{ name: 'r', domain: 'main', listener: 'plaintext' }],
        tapClientBytes: (_route, bytes) => sent.push(Buffer.from(bytes)), // views of reused buffers: copy
      });
      bootstrap = gw.bootstrap.r;
      const r = await tools.run(KafkaTool.Topics, [
        ...tools.connectionArgs(KafkaTool.Topics, bootstrap),
        '--create',
        '--topic',
        topic,
        '--partitions',
        '3',
        '--replication-factor',
        '3',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const av = await viaGateway<ApiVersionsResponse>(ApiKey.ApiVersions, 3, {
        ...apiCodec(ApiKey.ApiVersions)!.defaultRequest(),
        clientSoftwareName: 'leak-test',
        clientSoftwareVersion: '1',
      });
      versions = new Map(av.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
      // The broker that answers may not have applied the new topic yet (it then reports no id).
      for (let attempt = 0; topicId === '' || topicId === 'AAAAAAAAAAAAAAAAAAAAAA'; attempt++) {
        if (attempt > 100) throw new Error(`no topic id for ${topic} after ${attempt} Metadata requests`);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        const md = await viaGateway<MetadataResponse>(ApiKey.Metadata, 12, {
          ...apiCodec(ApiKey.Metadata)!.defaultRequest(),
          topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', _unknownTaggedFields: undefined }],
        });
        const t = md.topics.find((x) => x.name === topic);
        if (t !== undefined && t.errorCode === 0) topicId = t.topicId;
      }
    });

    after(async () => {
      await gw?.stop();
    });

    function viaGateway<T extends object>(apiKey: number, version: number, body: object, toPort?: number): Promise<T> {
      const [h, p] = gw.bootstrap.r.split(':');
      return sendRequest<T>(h, toPort ?? Number(p), apiKey, version, body, 10_000);
    }

    function versionsOf(apiKey: number, from = 0): number[] {
      const range = versions.get(apiKey);
      if (range === undefined) return [];
      const out: number[] = [];
      for (let v = Math.max(range[0], from); v <= range[1]; v++) out.push(v);
      return out;
    }

    const upstreamPorts = () => new Set(cluster.brokers.flatMap((b) => [b.plaintextPort, b.saslPort, b.controllerPort]));
    const route = () => gw.gateway.routes[0];

    function assertGatewayAddress(what: string, h: string, p: number): void {
      const ports = route().ports;
      assert.ok(!upstreamPorts().has(p), `${what}: upstream port ${p} leaked`);
      assert.ok(ports.slotOfPort(p) >= 0, `${what}: port ${p} is not a gateway broker port (${ports.base}..${ports.base + ports.count - 1})`);
      assert.equal(h, '127.0.0.1', what);
    }

    test('Metadata, every advertised version', async () => {
      const vs = versionsOf(ApiKey.Metadata);
      assert.ok(vs.length > 5);
      for (const v of vs) {
        const body = {
          ...apiCodec(ApiKey.Metadata)!.defaultRequest(),
          topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', _unknownTaggedFields: undefined }],
          allowAutoTopicCreation: v < 4,
        };
        const md = await viaGateway<MetadataResponse>(ApiKey.Metadata, v, body);
        assert.equal(md.brokers.length, 3, `Metadata v${v}`);
        for (const b of md.brokers) assertGatewayAddress(`Metadata v${v} broker ${b.nodeId}`, b.host, b.port);
      }
    });

    test('FindCoordinator, every advertised version (single and batched)', async () => {
      for (const v of versionsOf(ApiKey.FindCoordinator)) {
        const body = v < 4 ? { key: 'leak-group', keyType: 0, coordinatorKeys: [] } : { key: '', keyType: 0, coordinatorKeys: ['leak-group', 'leak-group-2'] };
        let res: FindCoordinatorResponse | null = null;
        for (let attempt = 0; attempt < 50; attempt++) {
          res = await viaGateway<FindCoordinatorResponse>(ApiKey.FindCoordinator, v, body);
          const errors = v < 4 ? [res.errorCode] : res.coordinators.map((c) => c.errorCode);
          if (errors.every((e) => e === 0)) break;
          await new Promise((r) => setTimeout(r, 200)); // the offsets topic is being created
        }
        if (v < 4) assertGatewayAddress(`FindCoordinator v${v}`, res!.host, res!.port);
        else for (const c of res!.coordinators) assertGatewayAddress(`FindCoordinator v${v} ${c.key}`, c.host, c.port);
      }
    });

    test('DescribeCluster, every advertised version', async () => {
      const vs = versionsOf(ApiKey.DescribeCluster);
      assert.ok(vs.length > 0);
      for (const v of vs) {
        const dc = await viaGateway<DescribeClusterResponse>(ApiKey.DescribeCluster, v, {
          includeClusterAuthorizedOperations: false,
          endpointType: 1,
          includeFencedBrokers: false,
        });
        assert.equal(dc.brokers.length, 3);
        for (const b of dc.brokers) assertGatewayAddress(`DescribeCluster v${v} broker ${b.brokerId}`, b.host, b.port);
      }
    });

    test('DescribeQuorum v2+: controller endpoints are masked or mapped', async () => {
      for (const v of versionsOf(ApiKey.DescribeQuorum, 2)) {
        const dq = await viaGateway<DescribeQuorumResponse>(ApiKey.DescribeQuorum, v, {
          topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
        });
        // An answer that is an error, or one without the quorum's nodes, would pass as "nothing
        // leaked": the test bed's controllers are in it, each endpoint masked (the gateway host,
        // port 0: controllers are not reachable through the gateway) or, for an id that is also
        // a broker the gateway serves, that broker's gateway address.
        assert.equal(dq.errorCode, 0, `DescribeQuorum v${v}: error ${dq.errorCode}`);
        const listeners = dq.nodes.flatMap((n) => n.listeners.map((l) => ({ node: n.nodeId, ...l })));
        assert.ok(listeners.length > 0, `DescribeQuorum v${v}: no quorum node endpoints to check (${JSON.stringify(dq.nodes)})`);
        for (const l of listeners) {
          const what = `DescribeQuorum v${v}: node ${l.node} ${l.name}`;
          if (l.port === 0) assert.equal(l.host, '127.0.0.1', what);
          else assertGatewayAddress(what, l.host, l.port);
        }
      }
    });

    /**
     * Sends a request to a broker that does not lead partition 0 until it answers
     * NOT_LEADER_OR_FOLLOWER. Leadership is looked up before every attempt: a follower may not yet
     * know a new topic (UNKNOWN_TOPIC_ID).
     */
    async function toFollower<T>(send: (follower: number, port: number) => Promise<T>, errorOf: (r: T) => number): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const md = await viaGateway<MetadataResponse>(ApiKey.Metadata, 12, {
          ...apiCodec(ApiKey.Metadata)!.defaultRequest(),
          topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', _unknownTaggedFields: undefined }],
        });
        const p0 = md.topics[0]?.partitions.find((p) => p.partitionIndex === 0);
        const follower = p0?.isrNodes.find((n) => n !== p0.leaderId);
        if (follower !== undefined) {
          const r = await send(follower, route().ports.portOf(follower));
          if (errorOf(r) === 6 || attempt >= 100) return r;
        } else if (attempt >= 150) {
          throw new Error(`partition 0 of ${topic} has no in-sync follower after ${attempt} attempts`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    test('Produce v10+ to a non-leader: NodeEndpoints point at the gateway', async () => {
      const vs = versionsOf(ApiKey.Produce, 10);
      assert.ok(vs.length > 0);
      for (const v of vs) {
        const topicData = [
          { name: v >= 13 ? '' : topic, topicId: v >= 13 ? topicId : 'AAAAAAAAAAAAAAAAAAAAAA', partitionData: [{ index: 0, records: recordBatch([`v${v}`]) }] },
        ];
        const res = await toFollower(
          (_f, port) => viaGateway<ProduceResponse>(ApiKey.Produce, v, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData }, port),
          (r) => r.responses[0].partitionResponses[0].errorCode,
        );
        const p = res.responses[0].partitionResponses[0];
        assert.equal(p.errorCode, 6, `Produce v${v} to a follower should be NOT_LEADER_OR_FOLLOWER`);
        assert.ok(res.nodeEndpoints.length > 0, `Produce v${v}: the broker sent no NodeEndpoints`);
        for (const n of res.nodeEndpoints) assertGatewayAddress(`Produce v${v} NodeEndpoint ${n.nodeId}`, n.host, n.port);
      }
    });

    // A consumer may read from followers (KIP-392), so the request poses as a follower replica,
    // which may only fetch from the leader.
    // Kafka 3.9 attaches NodeEndpoints to such a response; 4.3 only sets CurrentLeader for a
    // follower fetch, so there the test shows that nothing else leaks.
    test('Fetch v16+ from a non-leader: NodeEndpoints point at the gateway', async (t) => {
      let withEndpoints = 0;
      const vs = versionsOf(ApiKey.Fetch, 16);
      if (vs.length === 0) {
        // The gateway advertises Fetch only up to v12 (VERSION_CAPS), and refuses a Fetch above
        // that (the connection closes): no NodeEndpoints can reach a client, even one that skips
        // ApiVersions. Should the cap go, the loop below covers them again.
        await assert.rejects(
          viaGateway<FetchResponse>(ApiKey.Fetch, 16, {
            ...apiCodec(ApiKey.Fetch)!.defaultRequest(),
            maxWaitMs: 0,
            topics: [{ topic: '', topicId, partitions: [], _unknownTaggedFields: undefined }],
          }),
          'a Fetch v16 is refused, not forwarded',
        );
        t.diagnostic('Fetch is capped below v16 and v16 is refused: no NodeEndpoints can reach clients');
        return;
      }
      for (const v of vs) {
        const fetchCodec = apiCodec(ApiKey.Fetch)!;
        const body = (follower: number) => ({
          ...fetchCodec.defaultRequest(),
          replicaState: { replicaId: follower, replicaEpoch: -1n, _unknownTaggedFields: undefined },
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic: '',
              topicId,
              partitions: [
                {
                  partition: 0,
                  currentLeaderEpoch: -1,
                  fetchOffset: 0n,
                  lastFetchedEpoch: -1,
                  logStartOffset: -1n,
                  partitionMaxBytes: 1 << 20,
                  replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
                  highWatermark: -1n,
                  _unknownTaggedFields: undefined,
                },
              ],
              _unknownTaggedFields: undefined,
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        });
        const res = await toFollower(
          (follower, port) => viaGateway<FetchResponse>(ApiKey.Fetch, v, body(follower), port),
          (r) => r.responses[0].partitions[0].errorCode,
        );
        const p = res.responses[0].partitions[0];
        assert.equal(p.errorCode, 6, `Fetch v${v} from a follower should be NOT_LEADER_OR_FOLLOWER`);
        withEndpoints += res.nodeEndpoints.length > 0 ? 1 : 0;
        for (const n of res.nodeEndpoints) assertGatewayAddress(`Fetch v${v} NodeEndpoint ${n.nodeId}`, n.host, n.port);
      }
      t.diagnostic(`${withEndpoints} of ${vs.length} Fetch versions carried NodeEndpoints`);
    });

    test('real Java clients: nothing they received names an upstream broker', async () => {
      const lines = `${Array.from({ length: 50 }, (_, i) => `leak-${i}`).join('\n')}\n`;
      let r = await tools.run(KafkaTool.ConsoleProducer, [...tools.connectionArgs(KafkaTool.ConsoleProducer, bootstrap), '--topic', topic], { input: lines });
      assert.equal(r.exitCode, 0, r.stderr);
      r = await tools.run(KafkaTool.ConsoleConsumer, [
        ...tools.connectionArgs(KafkaTool.ConsoleConsumer, bootstrap),
        '--topic',
        topic,
        '--group',
        `leak-${spec.name}`,
        '--from-beginning',
        '--max-messages',
        '50',
        '--timeout-ms',
        '20000',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      r = await tools.run(KafkaTool.ConsumerGroups, [
        ...tools.connectionArgs(KafkaTool.ConsumerGroups, bootstrap),
        '--describe',
        '--group',
        `leak-${spec.name}`,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      for (const b of cluster.brokers)
        assert.ok(!r.stdout.includes(String(b.plaintextPort)), `consumer-groups --describe shows upstream port ${b.plaintextPort}:\n${r.stdout}`);

      const all = Buffer.concat(sent);
      assert.ok(all.length > 10_000, `only ${all.length} bytes were sent to clients`);
      const leaks: string[] = [];
      for (const b of cluster.brokers) {
        for (const p of [b.plaintextPort, b.saslPort, b.controllerPort]) {
          const int32 = Buffer.alloc(4);
          int32.writeInt32BE(p);
          const uint16 = Buffer.alloc(2);
          uint16.writeUInt16BE(p);
          const host = Buffer.from(b.host);
          for (const [label, pattern] of [
            ['int32', Buffer.concat([host, int32])],
            ['uint16', Buffer.concat([host, uint16])],
            ['text', Buffer.from(`${b.host}:${p}`)],
          ] as const) {
            const at = all.indexOf(pattern);
            if (at >= 0) leaks.push(`broker ${b.nodeId} port ${p} (${label}) at byte ${at}`);
          }
        }
      }
      assert.deepEqual(leaks, [], `upstream addresses in ${all.length} bytes sent to clients`);
    });
  });
}
