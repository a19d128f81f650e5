// A broker that answers with a malformed response costs the connection that asked, never the
// gateway (issue 23, failure paths). The upstream here is a fake broker of the test's own: it
// relays every request to a real broker and every answer back (pointing broker addresses at
// itself, so that the gateway's broker ports come through it too), and corrupts the answer to a
// chosen request of a chosen client: a body cut short, a body of garbage, a correlation id that was
// never asked, an extra frame nobody asked for, an absurd or negative frame length, a connection
// that ends in the middle of a frame.
//
// Answers the gateway decodes (Metadata and FindCoordinator, which the broker-address filter
// rewrites) close that client's connection as malformed, with one logged and counted reason whose
// detail names the request answered and the broker that sent it. Answers it relays opaque (Fetch
// v12, Produce v9) are judged only by their framing: a bad frame closes the connection the same
// way, a garbage body inside a sound frame reaches the client byte for byte (the client's decoder
// judges it; the gateway never reads it). Either way a bystander connection opened before goes on
// working, and so does a new client.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { StreamingDomainConfig } from '../../../src/config/types.ts';
import type { DescribeClusterResponse } from '../../../src/protocol/generated/messages/describe-cluster-response.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { defaultFindCoordinatorRequest } from '../../../src/protocol/generated/messages/find-coordinator-request.ts';
import type { FindCoordinatorResponse } from '../../../src/protocol/generated/messages/find-coordinator-response.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import {
  defaultProduceRequest,
  defaultProduceRequestPartitionProduceData,
  defaultProduceRequestTopicProduceData,
} from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import {
  ApiKey,
  decodeResponse,
  encodeResponse,
  FrameDecoder,
  peekApiKey,
  peekApiVersion,
  peekProduceAcks,
  peekRequestClientId,
  peekRequestCorrelationId,
  peekResponseCorrelationId,
  ZERO_UUID,
} from '../../../src/protocol/index.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture, type LogEntry } from '../../support/log-capture.ts';
import { createTopic, eventually, fetchRequest, metricValue, RawKafkaClient, scrapeMetrics } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROUTE = 'bent';
const MAX_FRAME = 1024 * 1024;

/** How the fake broker spoils one answer. */
type Corruption =
  | 'truncated-body' // the frame's length fits what is sent, but the body stops halfway
  | 'garbage-body' // the header is right, every byte of the body is 0xff
  | 'unknown-correlation-id' // the answer carries a correlation id that was never asked
  | 'unsolicited-frame' // the right answer, then a copy of it under a correlation id nobody asked
  | 'absurd-length' // a size prefix of 2^31-1 before the real frame
  | 'negative-length' // a size prefix of -16
  | 'cut-mid-frame'; // half the frame, then the broker closes the connection

interface Plan {
  clientId: string;
  apiKey: number;
  how: Corruption;
  /** Sent in two writes 50 ms apart, so that the gateway holds only the start of the frame first (and cuts a large one through). */
  inPieces: boolean;
  /** Called with the bytes the fake sent instead of the answer. */
  sent: (bytes: Buffer) => void;
}

/**
 * A broker of our own in front of a real one: relays both ways, points broker addresses in
 * Metadata, FindCoordinator and DescribeCluster at itself, and spoils the answer to a planned
 * request (matched by the client id the gateway forwards and the api key).
 */
class MalformingBroker {
  private server!: Server;
  port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly plans: Plan[] = [];
  private nextBogusId = 0x5eed0000;
  private readonly upstream: { host: string; port: number; nodeId: number };

  private constructor(upstream: { host: string; port: number; nodeId: number }) {
    this.upstream = upstream;
  }

  static async start(upstream: { host: string; port: number; nodeId: number }): Promise<MalformingBroker> {
    const b = new MalformingBroker(upstream);
    b.server = createServer((s) => b.accept(s));
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    b.port = (b.server.address() as { port: number }).port;
    return b;
  }

  /** Spoils the answer to the next `apiKey` request of `clientId`; resolves with what was sent instead. */
  corrupt(clientId: string, apiKey: number, how: Corruption, inPieces = false): Promise<Buffer> {
    return new Promise((sent) => this.plans.push({ clientId, apiKey, how, inPieces, sent }));
  }

  private accept(gateway: Socket): void {
    const broker = connect(this.upstream.port, this.upstream.host);
    for (const s of [gateway, broker]) {
      this.sockets.add(s);
      s.setNoDelay(true);
    }
    const inFlight = new Map<number, { apiKey: number; apiVersion: number; clientId: string }>();
    const fromGateway = new FrameDecoder();
    const fromBroker = new FrameDecoder();
    const close = (): void => {
      gateway.destroy();
      broker.destroy();
      this.sockets.delete(gateway);
      this.sockets.delete(broker);
    };
    gateway.on('error', close).on('close', close);
    broker.on('error', close).on('close', close);
    gateway.on('data', (chunk: Buffer) => {
      fromGateway.push(chunk);
      for (let f = fromGateway.next(); f !== null; f = fromGateway.next()) {
        const frame = Buffer.from(f);
        const apiKey = peekApiKey(frame);
        if (!(apiKey === ApiKey.Produce && peekProduceAcks(frame) === 0)) {
          inFlight.set(peekRequestCorrelationId(frame), { apiKey, apiVersion: peekApiVersion(frame), clientId: peekRequestClientId(frame) });
        }
        broker.write(frame);
      }
    });
    broker.on('data', (chunk: Buffer) => {
      fromBroker.push(chunk);
      for (let f = fromBroker.next(); f !== null; f = fromBroker.next()) {
        const frame = Buffer.from(f);
        const req = inFlight.get(peekResponseCorrelationId(frame));
        if (req === undefined) return close();
        inFlight.delete(peekResponseCorrelationId(frame));
        const answer = this.pointAtSelf(frame, req.apiKey, req.apiVersion);
        const i = this.plans.findIndex((p) => p.clientId === req.clientId && p.apiKey === req.apiKey);
        if (i < 0) {
          gateway.write(answer);
          continue;
        }
        const [plan] = this.plans.splice(i, 1);
        const bytes = this.spoil(answer, plan.how);
        const cut = plan.inPieces ? Math.floor(bytes.length / 2) : bytes.length;
        gateway.write(bytes.subarray(0, cut));
        setTimeout(
          () => {
            if (cut < bytes.length) gateway.write(bytes.subarray(cut));
            if (plan.how === 'cut-mid-frame') setTimeout(close, 50);
            plan.sent(bytes);
          },
          plan.inPieces ? 50 : 0,
        );
      }
    });
  }

  private spoil(frame: Buffer, how: Corruption): Buffer {
    // Size prefix (4), correlation id (4), then the rest of the header (tagged fields) and the body.
    const body = frame.length - 8;
    switch (how) {
      case 'truncated-body': {
        const out = Buffer.from(frame.subarray(0, 8 + Math.floor(body / 2)));
        out.writeInt32BE(out.length - 4, 0);
        return out;
      }
      case 'garbage-body': {
        const out = Buffer.from(frame);
        out.fill(0xff, 8);
        return out;
      }
      case 'unknown-correlation-id': {
        const out = Buffer.from(frame);
        out.writeInt32BE(this.nextBogusId++, 4);
        return out;
      }
      case 'unsolicited-frame': {
        const extra = Buffer.from(frame);
        extra.writeInt32BE(this.nextBogusId++, 4);
        return Buffer.concat([frame, extra]);
      }
      case 'absurd-length':
        return Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), frame]);
      case 'negative-length':
        return Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xf0]), frame]);
      case 'cut-mid-frame':
        return Buffer.from(frame.subarray(0, Math.floor(frame.length / 2)));
    }
  }

  private pointAtSelf(frame: Buffer, apiKey: number, apiVersion: number): Buffer {
    const self = (n: { nodeId: number; host: string; port: number }) => {
      if (n.nodeId !== this.upstream.nodeId) return;
      n.host = '127.0.0.1';
      n.port = this.port;
    };
    if (apiKey === ApiKey.Metadata) {
      const d = decodeResponse<MetadataResponse>(frame, apiKey, apiVersion);
      d.body.brokers.forEach(self);
      return encodeResponse(apiKey, apiVersion, d.header, d.body);
    }
    if (apiKey === ApiKey.FindCoordinator) {
      const d = decodeResponse<FindCoordinatorResponse>(frame, apiKey, apiVersion);
      self(d.body);
      d.body.coordinators.forEach(self);
      return encodeResponse(apiKey, apiVersion, d.header, d.body);
    }
    if (apiKey === ApiKey.DescribeCluster) {
      const d = decodeResponse<DescribeClusterResponse>(frame, apiKey, apiVersion);
      for (const b of d.body.brokers) {
        if (b.brokerId !== this.upstream.nodeId) continue;
        b.host = '127.0.0.1';
        b.port = this.port;
      }
      return encodeResponse(apiKey, apiVersion, d.header, d.body);
    }
    return frame;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('malformed responses from the upstream broker', () => {
  let cluster: ClusterDescriptor;
  let fake: MalformingBroker;
  let gw: TestGateway;
  let bystander: RawKafkaClient;
  const logs = new LogCapture();
  const topic = uniqueName('gw-bent');
  let victims = 0;

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    await createTopic(cluster.bootstrap(), topic);
    const b = cluster.brokers[0];
    fake = await MalformingBroker.start({ host: b.host, port: b.plaintextPort, nodeId: b.nodeId });
    const domain: StreamingDomainConfig = {
      name: 'bent',
      type: 'kafka',
      kafkaCluster: {
        name: 'bent',
        bootstrapServers: [{ id: 'plaintext', endpoints: [{ host: '127.0.0.1', port: fake.port }], security: { protocol: 'PLAINTEXT' } }],
      },
    };
    gw = await startGateway({
      domains: [domain],
      routes: [{ name: ROUTE, domain: 'bent', listener: 'plaintext' }],
      limits: { maxFrameBytes: MAX_FRAME },
      logDestination: asStream(logs),
    });
    // Records enough for a Fetch answer the gateway cuts through (8 KiB and more) rather than assembles.
    const values = Array.from({ length: 24 }, (_, i) => `${i}:${'x'.repeat(1000)}`);
    const seed = await brokerClient();
    assert.equal((await produce(seed, values)).errorCode, 0);
    seed.destroy();
    bystander = await brokerClient();
  });

  after(async () => {
    bystander?.destroy();
    await gw?.stop();
    await fake?.stop();
  });

  const errors = async (reason: string) => metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_connection_errors_total', { route: ROUTE, reason });
  const brokerAddress = () => `127.0.0.1:${gw.gateway.routes[0].ports.portOf(cluster.brokers[0].nodeId)}`;

  /** A client on the gateway's port of the (only) broker, which reaches it through the fake. */
  async function brokerClient(): Promise<RawKafkaClient> {
    return RawKafkaClient.connect(brokerAddress());
  }

  async function produce(c: RawKafkaClient, values: string[], clientId = 'turnout-test'): Promise<{ errorCode: number; baseOffset: bigint }> {
    const id = c.send(
      ApiKey.Produce,
      9,
      {
        ...defaultProduceRequest(),
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            ...defaultProduceRequestTopicProduceData(),
            name: topic,
            partitionData: [
              {
                ...defaultProduceRequestPartitionProduceData(),
                index: 0,
                records: encodeRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v) }))),
              },
            ],
          },
        ],
      },
      clientId,
    );
    const res = await c.response<ProduceResponse>(id, ApiKey.Produce, 9);
    return res.responses[0].partitionResponses[0];
  }

  /** The connection opened before the bad answer, and a new client, are served normally (Metadata, Produce, Fetch). */
  async function assertStillServing(): Promise<void> {
    for (const c of [bystander, await brokerClient()]) {
      try {
        const md = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
          ...defaultMetadataRequest(),
          topics: [{ name: topic, topicId: ZERO_UUID }],
          allowAutoTopicCreation: false,
        });
        assert.deepEqual(
          md.brokers.map((x) => `${x.host}:${x.port}`),
          [brokerAddress()],
          "broker addresses are the gateway's",
        );
        const p = await produce(c, ['still here']);
        assert.equal(p.errorCode, 0);
        const f = await c.request<FetchResponse>(ApiKey.Fetch, 12, fetchRequest(topic, p.baseOffset));
        assert.equal(f.responses[0].partitions[0].errorCode, 0);
        assert.ok((f.responses[0].partitions[0].records?.length ?? 0) > 0, 'the record just written comes back');
      } finally {
        if (c !== bystander) c.destroy();
      }
    }
  }

  /**
   * The answer to `apiKey` from `send` is spoiled `how`: that client's connection is closed by the
   * gateway, exactly one "connection closed" line with `reason` (and a detail matching `detail`)
   * is logged for it and counted, and the gateway goes on serving the bystander and new clients.
   */
  async function badAnswer(
    how: Corruption,
    apiKey: number,
    reason: string,
    detail: RegExp,
    send: (c: RawKafkaClient, clientId: string) => void,
    where: 'bootstrap' | 'broker' = 'broker',
  ): Promise<LogEntry> {
    const clientId = `victim-${++victims}`;
    const before = await errors(reason);
    const client = where === 'bootstrap' ? await RawKafkaClient.connect(gw.bootstrap[ROUTE]) : await brokerClient();
    const port = client.socket.localPort!;
    try {
      // Large answers come in pieces, as they do from a real broker: the gateway cuts them through.
      const spoiled = fake.corrupt(clientId, apiKey, how, apiKey === ApiKey.Fetch);
      send(client, clientId);
      await spoiled;
      assert.ok(await client.closedWithin(5000), 'the gateway closes the connection that got the bad answer');
      const closes = await eventually('the close to be logged', () => (logs.closesOf(port).length > 0 ? logs.closesOf(port) : undefined), 5000);
      await new Promise((r) => setTimeout(r, 100)); // a second line would show up by now
      assert.equal(logs.closesOf(port).length, 1, `one close line per connection: ${JSON.stringify(logs.closesOf(port))}`);
      const line = closes[0];
      assert.equal(line.reason, reason, JSON.stringify(line));
      assert.match(String(line.detail), detail, JSON.stringify(line));
      assert.ok(line.level === 'warn' || (line.level === 'debug' && line.aggregated === `${ROUTE}/${reason}`), JSON.stringify(line));
      assert.equal(await errors(reason), before + 1, `turnout_connection_errors_total{reason="${reason}"} counts it`);
    } finally {
      client.destroy();
    }
    await assertStillServing();
    return logs.closesOf(port)[0];
  }

  const metadata = (c: RawKafkaClient, clientId: string) =>
    c.send(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false }, clientId);
  const findCoordinator = (c: RawKafkaClient, clientId: string) =>
    c.send(ApiKey.FindCoordinator, 4, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: ['bent-group'] }, clientId);
  const bigFetch = (c: RawKafkaClient, clientId: string) => c.send(ApiKey.Fetch, 12, fetchRequest(topic, 0n), clientId);
  const smallProduce = (c: RawKafkaClient, clientId: string) => void produce(c, ['spoiled'], clientId).catch(() => {});

  test('decoded answers (Metadata, FindCoordinator) with a body cut short or of garbage close that connection as malformed_response', async () => {
    for (const how of ['truncated-body', 'garbage-body'] as const) {
      // What the operator reads: the request it answers, and the broker that sent it.
      const answerTo = (api: string, v: number) =>
        new RegExp(
          `the response to ${api} v${v} \\(correlation id \\d+\\) from broker 127\\.0\\.0\\.1:${fake.port} of streaming domain "bent" is unreadable: .+`,
        );
      await badAnswer(how, ApiKey.Metadata, 'malformed_response', answerTo('Metadata', 12), metadata, 'bootstrap');
      await badAnswer(how, ApiKey.Metadata, 'malformed_response', answerTo('Metadata', 12), metadata, 'broker');
      await badAnswer(how, ApiKey.FindCoordinator, 'malformed_response', answerTo('FindCoordinator', 4), findCoordinator);
    }
  });

  test('an answer under a correlation id that was never asked closes that connection as protocol_violation (decoded and opaque answers alike)', async () => {
    const never = /correlation id \d+ while \d+ was expected/;
    await badAnswer('unknown-correlation-id', ApiKey.Metadata, 'protocol_violation', never, metadata);
    await badAnswer('unknown-correlation-id', ApiKey.Produce, 'protocol_violation', never, smallProduce);
    // Large enough to be cut through: the id is checked before the first byte goes to the client.
    await badAnswer('unknown-correlation-id', ApiKey.Fetch, 'protocol_violation', never, bigFetch);
    await badAnswer('unsolicited-frame', ApiKey.Metadata, 'protocol_violation', /no outstanding request/, metadata);
  });

  test('an absurd or negative frame length from the broker closes that connection before anything of it is read whole', async () => {
    for (const [api, apiKey, version, send] of [
      ['Metadata', ApiKey.Metadata, 12, metadata],
      ['Fetch', ApiKey.Fetch, 12, bigFetch],
    ] as const) {
      const from = `the response to ${api} v${version} \\(correlation id \\d+\\) from broker 127\\.0\\.0\\.1:${fake.port} of streaming domain "bent" is unreadable`;
      const big = await badAnswer(
        'absurd-length',
        apiKey,
        'frame_too_large',
        new RegExp(`${from}: its size prefix \\(2147483647\\) is outside 0\\.\\.${MAX_FRAME} \\(gateway\\.limits\\.maxFrameBytes\\)$`),
        send,
      );
      assert.equal(big.pendingRequests, 1);
      await badAnswer('negative-length', apiKey, 'malformed_response', new RegExp(`${from}: its size prefix \\(-16\\) is outside`), send);
    }
  });

  test('a broker that closes in the middle of an answer (assembled or being cut through) closes that connection with the request still pending', async () => {
    for (const [apiKey, send] of [
      [ApiKey.Metadata, metadata],
      [ApiKey.Fetch, bigFetch],
    ] as const) {
      const line = await badAnswer('cut-mid-frame', apiKey, 'upstream_closed', /^/, send).catch((err: Error) => {
        throw new Error(`api ${apiKey}: ${err.message}`);
      });
      assert.equal(line.pendingRequests, 1, JSON.stringify(line));
    }
  });

  test('a garbage body inside a sound frame of an opaque answer (Fetch, Produce) reaches the client byte for byte, and that connection goes on', async () => {
    for (const [apiKey, send, version] of [
      [ApiKey.Fetch, bigFetch, 12],
      [ApiKey.Produce, smallProduce, 9],
    ] as const) {
      const clientId = `victim-${++victims}`;
      const client = await brokerClient();
      const port = client.socket.localPort!;
      const before = await errors('malformed_response');
      try {
        const spoiled = fake.corrupt(clientId, apiKey, 'garbage-body', apiKey === ApiKey.Fetch);
        if (apiKey === ApiKey.Fetch) send(client, clientId);
        else
          client.send(
            ApiKey.Produce,
            version,
            {
              ...defaultProduceRequest(),
              acks: -1,
              timeoutMs: 5000,
              topicData: [
                {
                  ...defaultProduceRequestTopicProduceData(),
                  name: topic,
                  partitionData: [
                    { ...defaultProduceRequestPartitionProduceData(), index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from('spoiled') }]) },
                  ],
                },
              ],
            },
            clientId,
          );
        const sent = await spoiled;
        const got = await client.frame(5000);
        assert.ok(got.equals(sent), `api ${apiKey}: the client gets exactly the bytes the broker sent (${got.length} vs ${sent.length})`);
        // The frame was sound, so the connection is: the next request is answered.
        const md = await client.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false });
        assert.deepEqual(
          md.brokers.map((x) => `${x.host}:${x.port}`),
          [brokerAddress()],
        );
        assert.equal(client.isClosed, false);
        assert.deepEqual(logs.closesOf(port), []);
        assert.equal(await errors('malformed_response'), before);
      } finally {
        client.destroy();
      }
    }
    await assertStillServing();
  });
});
