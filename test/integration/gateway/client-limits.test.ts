// Bad or hostile clients affect only themselves. Against a real broker, with raw sockets:
// connections that declare 100 MiB requests the gateway would have to assemble are closed as
// soon as their header shows it, and the gateway's memory stays flat while they push bytes; a
// passthrough route refuses a large frame before authentication; connection floods are refused
// at accept and counted; unauthenticated and idle connections are closed at their deadlines; and
// the log sums up what many clients did instead of one line each. Meanwhile kafkajs, in its
// default settings, produces and consumes through the same gateway. Past the process-wide
// buffered-bytes budget, reads pause and nobody is closed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiVersionsResponse } from '../../../src/protocol/generated/messages/api-versions-response.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { defaultMetadataRequest } from '../../../src/protocol/generated/messages/metadata-request.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import type { SaslAuthenticateResponse } from '../../../src/protocol/generated/messages/sasl-authenticate-response.ts';
import type { SaslHandshakeResponse } from '../../../src/protocol/generated/messages/sasl-handshake-response.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { kafkajsDriver, stopAllClients } from '../../support/clients/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture, type LogEntry } from '../../support/log-capture.ts';
import {
  connectTo,
  createTopic,
  eventually,
  fetchRequest,
  longPollFetch,
  metricValue,
  parseAddress,
  RawKafkaClient,
  scrapeMetrics,
} from '../../support/raw-kafka.ts';
import { recordBatch } from '../../support/record-batch.ts';
import { uniqueName } from '../testbed/helpers.ts';

const PLAIN = 'plain';
const SASL = 'sasl';
const MiB = 1024 * 1024;
const DECLARED = 100 * MiB;
/** What each hostile connection pushes at most: before the limits, the gateway kept all of it. */
const PUSH_LIMIT = 40 * MiB;
const HOSTILE = 8;

after(stopAllClients);

/** The start of a request whose size prefix promises `declared` bytes: header v2 (flexible) or v1. */
function requestHead(apiKey: number, apiVersion: number, declared: number, flexible: boolean): Buffer {
  const clientId = Buffer.from('hostile');
  const head = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length + (flexible ? 1 : 0));
  head.writeInt32BE(declared, 0);
  head.writeInt16BE(apiKey, 4);
  head.writeInt16BE(apiVersion, 6);
  head.writeInt32BE(1, 8);
  head.writeInt16BE(clientId.length, 12);
  clientId.copy(head, 14);
  return head;
}

/** Pushes garbage body bytes 1 MiB at a time (waiting for the socket to drain) until `limit` or the connection closes. */
async function push(client: RawKafkaClient, limit: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, 0x41);
  let sent = 0;
  while (sent < limit && !client.isClosed) {
    const ok = client.socket.write(chunk);
    sent += chunk.length;
    if (!ok) await Promise.race([new Promise((r) => client.socket.once('drain', r)), client.closed]);
    else await new Promise((r) => setTimeout(r, 2));
  }
  return sent;
}

/** Samples the process's memory every 20 ms until stopped; the gateway runs in this process. */
function sampleMemory(): { stop: () => { rss: number; arrayBuffers: number } } {
  const peak = { rss: 0, arrayBuffers: 0 };
  const take = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };
  take();
  const timer = setInterval(take, 20);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

function closeLines(logs: LogCapture, reason: string): LogEntry[] {
  return logs.entries().filter((e) => e.msg === 'connection closed' && e.reason === reason);
}

describe('client limits: bad or hostile clients affect only themselves', () => {
  let cluster: ClusterDescriptor;
  /** Every limit at its default (only the warning window is shortened, to see its summary lines). */
  let gw: TestGateway;
  const logs = new LogCapture();

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    gw = await startGateway({
      domains: [domainFor(cluster)],
      routes: [
        { name: PLAIN, domain: 'k4-single', listener: 'plaintext' },
        { name: SASL, domain: 'k4-single', listener: 'sasl' },
      ],
      // The harness sets these three; everything else is the config default.
      limits: { maxFrameBytes: 100 * MiB, maxBufferedBytesPerConnection: 4 * MiB },
      logDestination: asStream(logs),
      warningWindowMs: 1000,
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('8 connections declaring 100 MiB requests the gateway must read whole are closed at their header; memory stays flat and kafkajs keeps working', async (t) => {
    const topic = uniqueName('gw-limits');
    await createTopic(cluster.bootstrap(), topic);
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `value-${i}` }));
    const before = process.memoryUsage();
    const memory = sampleMemory();
    // The normal client runs while the attack does.
    const normal = (async () => {
      await kafkajsDriver.produce({ bootstrap: gw.bootstrap[PLAIN] }, topic, messages);
      return kafkajsDriver.consumeGroup({ bootstrap: gw.bootstrap[PLAIN] }, topic, `${topic}-group`, messages.length, 60_000);
    })();

    // Requests the filters read (Metadata: topic ids; ApiVersions; JoinGroup and SyncGroup: group members).
    const kinds: [number, number, boolean][] = [
      [ApiKey.Metadata, 12, true],
      [ApiKey.ApiVersions, 3, true],
      [ApiKey.JoinGroup, 9, true],
      [ApiKey.SyncGroup, 5, true],
    ];
    const hostile = await Promise.all(Array.from({ length: HOSTILE }, () => RawKafkaClient.connect(gw.bootstrap[PLAIN], '127.0.0.2')));
    const pushed = await Promise.all(
      hostile.map(async (c, i) => {
        const [apiKey, version, flexible] = kinds[i % kinds.length];
        const head = requestHead(apiKey, version, DECLARED, flexible);
        if (i === 0) {
          // Trickled a byte at a time: closed once the api key has arrived.
          for (const byte of head) {
            if (c.isClosed) break;
            c.sendBytes(Buffer.from([byte]));
            await new Promise((r) => setTimeout(r, 50));
          }
        } else {
          c.sendBytes(head);
        }
        return push(c, PUSH_LIMIT);
      }),
    );
    const peak = memory.stop();
    const grewArrayBuffers = peak.arrayBuffers - before.arrayBuffers;
    const grewRss = peak.rss - before.rss;
    t.diagnostic(
      `memory before: rss ${(before.rss / MiB).toFixed(0)} MiB, arrayBuffers ${(before.arrayBuffers / MiB).toFixed(1)} MiB; peak during the attack: rss ${(peak.rss / MiB).toFixed(0)} MiB (+${(grewRss / MiB).toFixed(0)}), arrayBuffers ${(peak.arrayBuffers / MiB).toFixed(1)} MiB (+${(grewArrayBuffers / MiB).toFixed(1)}); hostile clients pushed ${(pushed.reduce((a, b) => a + b, 0) / MiB).toFixed(0)} MiB in all`,
    );
    // Without the limits the gateway held what each connection sent: 8 x 40 MiB.
    assert.ok(grewArrayBuffers < 64 * MiB, `the gateway's buffers grew by ${(grewArrayBuffers / MiB).toFixed(1)} MiB`);
    assert.ok(grewRss < 256 * MiB, `the process grew by ${(grewRss / MiB).toFixed(0)} MiB`);
    for (const c of hostile) assert.ok(await c.closedWithin(10_000), 'the gateway closes every hostile connection');

    const consumed = await normal;
    assert.deepEqual(
      consumed.map((r) => r.value).sort(),
      messages.map((m) => m.value).sort(),
      'kafkajs produced and consumed everything through the same gateway',
    );

    const closes = await eventually('every hostile close to be logged', () =>
      closeLines(logs, 'frame_over_connection_budget').length >= HOSTILE ? closeLines(logs, 'frame_over_connection_budget') : undefined,
    );
    const full = closes.filter((e) => e.level === 'warn');
    assert.equal(full.length, 1, 'one full warning for the reason; the others are counted');
    assert.match(
      String(full[0].detail),
      /(Metadata|ApiVersions|JoinGroup|SyncGroup) of 104857604 bytes is above gateway\.limits\.maxBufferedBytesPerConnection \(4194304\)/,
    );
    assert.equal(full[0].configKey, 'gateway.limits.maxBufferedBytesPerConnection');
    const summary = await eventually(
      'the summary line',
      () => logs.entries().find((e) => e.reason === `${PLAIN}/frame_over_connection_budget` && typeof e.suppressed === 'number'),
      5000,
    );
    assert.equal(summary.suppressed, HOSTILE - 1);
    assert.equal(summary.level, 'warn');

    const metrics = await scrapeMetrics(gw.adminUrl);
    assert.equal(metricValue(metrics, 'turnout_connections_closed_by_limit_total', { route: PLAIN, reason: 'frame_over_connection_budget' }), HOSTILE);
    assert.equal(metricValue(metrics, 'turnout_buffered_bytes_limit'), 256 * MiB, 'the default budget is reported');
    assert.ok(metricValue(metrics, 'turnout_buffered_bytes') < 16 * MiB, 'and what is buffered now');
  });

  test("a connection's first Produce request far above the per-connection budget is read whole and written, not refused", async () => {
    // franz-go and sarama put one batch per partition in a request of up to 100 MiB; after a switch
    // such a request, with a backlog, is often a connection's first, which the gateway reads whole.
    const topics = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const topic = uniqueName('gw-big-produce');
        await createTopic(cluster.bootstrap(), topic);
        return topic;
      }),
    );
    const value = 'x'.repeat(900 * 1024);
    const topicData = topics.map((name) => ({ name, partitionData: [{ index: 0, records: recordBatch([value]) }] }));
    const client = await RawKafkaClient.connect(gw.bootstrap[PLAIN]);
    try {
      const res = await client.request<ProduceResponse>(ApiKey.Produce, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData }, 30_000);
      assert.deepEqual(
        res.responses.map((t) => t.partitionResponses[0].errorCode),
        topics.map(() => 0),
      );
      assert.equal(client.isClosed, false);
    } finally {
      client.socket.destroy();
    }
  });

  test('before authentication, a passthrough route refuses a frame above 512 KiB without forwarding it; after, the same size is served', async () => {
    const bigAuth = Buffer.alloc(600 * 1024, 0x61);
    const c = await RawKafkaClient.connect(gw.bootstrap[SASL]);
    const port = c.socket.localPort!;
    const hs = await c.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    assert.equal(hs.errorCode, 0);
    c.send(ApiKey.SaslAuthenticate, 2, { authBytes: bigAuth });
    assert.ok(await c.closedWithin(5000), 'the gateway closes the connection');
    assert.equal(c.pendingFrames, 0, 'the broker never answered it: it was not forwarded');
    const line = await eventually('the close to be logged', () => logs.closesOf(port)[0]);
    assert.equal(line.reason, 'unauthenticated_frame_too_large');
    assert.match(
      String(line.detail),
      /SaslAuthenticate of \d+ bytes is above gateway\.limits\.maxUnauthenticatedFrameBytes \(524288\) before the client authenticated/,
    );
    assert.equal(
      metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_connections_closed_by_limit_total', { route: SASL, reason: 'unauthenticated_frame_too_large' }),
      1,
    );

    // Authenticated: a 600 KiB Metadata request (2400 topic names) goes through.
    const ok = await RawKafkaClient.connect(gw.bootstrap[SASL]);
    try {
      assert.equal((await ok.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, 0);
      const auth = await ok.request<SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\0kafka\0kafka-secret') });
      assert.equal(auth.errorCode, 0);
      const topics = Array.from({ length: 2400 }, (_, i) => ({ topicId: ZERO_UUID, name: `${'t'.repeat(240)}${i}` }));
      const md = await ok.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics, allowAutoTopicCreation: false }, 30_000);
      assert.equal(md.topics.length, 2400);
    } finally {
      ok.destroy();
    }
  });

  test('clients that reset their connection at once are logged with a meaningful address', async () => {
    // Reset before the gateway has looked at them, some sockets no longer know their peer.
    const sockets = await Promise.all(Array.from({ length: 50 }, () => connectTo(parseAddress(gw.bootstrap[PLAIN]), 5000, '127.0.0.7')));
    for (const s of sockets) s.resetAndDestroy();
    await eventually('the resets to be handled', () => gw.gateway.connections(PLAIN).every((c) => !c.log.bindings().client?.startsWith('127.0.0.7')), 5000);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!logs.text().includes('undefined:undefined'));
  });

  test('no log line names a client as undefined:undefined, and nothing was logged per hostile connection at warn', () => {
    assert.ok(!logs.text().includes('undefined:undefined'));
    assert.ok(logs.entries().filter((e) => e.level === 'warn').length < 20, `warn lines: ${logs.entries().filter((e) => e.level === 'warn').length}`);
  });
});

describe('connection limits and deadlines', () => {
  let cluster: ClusterDescriptor;
  let floods: TestGateway;
  let deadlines: TestGateway;
  const floodLogs = new LogCapture();
  const deadlineLogs = new LogCapture();
  const open: RawKafkaClient[] = [];

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    const routes = [
      { name: PLAIN, domain: 'k4-single', listener: 'plaintext' as const, maxConnections: 4 },
      { name: SASL, domain: 'k4-single', listener: 'sasl' as const },
    ];
    floods = await startGateway({
      domains: [domainFor(cluster)],
      routes,
      logDestination: asStream(floodLogs),
      warningWindowMs: 500,
      limits: { maxConnections: 6, maxConnectionsPerAddress: 3 },
    });
    deadlines = await startGateway({
      domains: [domainFor(cluster)],
      routes,
      logDestination: asStream(deadlineLogs),
      warningWindowMs: 500,
      limits: { authenticationTimeoutMs: 1000, connectionsMaxIdleMs: 3000 },
    });
  });

  after(async () => {
    for (const c of open) c.destroy();
    await floods?.stop();
    await deadlines?.stop();
  });

  /** Connects `n` clients one after the other; returns which were refused (closed at once by the gateway). */
  async function flood(route: string, from: string, n: number): Promise<boolean[]> {
    const clients: RawKafkaClient[] = [];
    for (let i = 0; i < n; i++) {
      clients.push(await RawKafkaClient.connect(floods.bootstrap[route], from));
      await new Promise((r) => setTimeout(r, 30)); // accepted in order
    }
    open.push(...clients);
    return Promise.all(clients.map((c) => c.closedWithin(500)));
  }

  test('connections over the per-address, per-route and process limits are refused at accept and counted by reason', async () => {
    assert.deepEqual(await flood(PLAIN, '127.0.0.3', 5), [false, false, false, true, true], 'three per address');
    assert.deepEqual(await flood(PLAIN, '127.0.0.4', 2), [false, true], 'four on the route');
    assert.deepEqual(await flood(SASL, '127.0.0.5', 3), [false, false, true], 'six in the process');
    const metrics = await scrapeMetrics(floods.adminUrl);
    assert.equal(metricValue(metrics, 'turnout_connections_refused_total', { route: PLAIN, reason: 'max_connections_per_address' }), 2);
    assert.equal(metricValue(metrics, 'turnout_connections_refused_total', { route: PLAIN, reason: 'max_connections_per_route' }), 1);
    assert.equal(metricValue(metrics, 'turnout_connections_refused_total', { route: SASL, reason: 'max_connections' }), 1);

    // A place freed by a closed connection is taken by the next one.
    for (const c of open.splice(0)) c.destroy();
    await eventually('the connections to be gone', () => floods.gateway.connections(PLAIN).length + floods.gateway.connections(SASL).length === 0);
    assert.deepEqual(await flood(PLAIN, '127.0.0.3', 3), [false, false, false]);

    // A burst of refusals: one warning per limit, then a count.
    const fullRefusals = () =>
      floodLogs.entries().filter((e) => /^connection refused at accept/.test(e.msg) && e.level === 'warn' && e.suppressed === undefined);
    const before = fullRefusals().length;
    assert.deepEqual(new Set(await flood(PLAIN, '127.0.0.3', 20)), new Set([true]));
    const burst = fullRefusals().slice(before);
    assert.ok(burst.length <= 1, `20 refusals give at most one full line, got ${burst.length}`);
    assert.match(String(fullRefusals()[0].msg), /over gateway\.limits\.maxConnectionsPerAddress; raise it/);
    const summary = await eventually(
      'the summary line',
      () => floodLogs.entries().find((e) => e.reason === 'refused:max_connections_per_address' && typeof e.suppressed === 'number'),
      5000,
    );
    assert.ok(Number(summary.suppressed) >= 1);
    assert.ok(!floodLogs.text().includes('undefined:undefined'));
  });

  test('a passthrough connection that does not authenticate in time is closed; one that does is not', async () => {
    const started = Date.now();
    const slow = await RawKafkaClient.connect(deadlines.bootstrap[SASL]);
    open.push(slow);
    const port = slow.socket.localPort!;
    assert.equal((await slow.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, { clientSoftwareName: 'slow', clientSoftwareVersion: '1' })).errorCode, 0);
    const quick = await RawKafkaClient.connect(deadlines.bootstrap[SASL]);
    open.push(quick);
    assert.equal((await quick.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, 0);
    assert.equal((await quick.request<SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\0kafka\0kafka-secret') })).errorCode, 0);

    assert.ok(await slow.closedWithin(5000), 'closed at the authentication deadline');
    const after = Date.now() - started;
    assert.ok(after >= 900, `closed after ${after} ms, not before the deadline`);
    const line = await eventually('the close to be logged', () => deadlineLogs.closesOf(port)[0]);
    assert.equal(line.reason, 'authentication_timeout');
    assert.ok(!quick.isClosed, 'the authenticated connection stays');
    quick.destroy();
    assert.equal(
      metricValue(await scrapeMetrics(deadlines.adminUrl), 'turnout_connections_closed_by_limit_total', { route: SASL, reason: 'authentication_timeout' }),
      1,
    );
  });

  test('a connection with nothing in flight is closed after connectionsMaxIdleMs; one waiting for a long-poll Fetch is not', async () => {
    const topic = uniqueName('gw-idle');
    await createTopic(cluster.bootstrap(), topic);
    const idle = await RawKafkaClient.connect(deadlines.bootstrap[PLAIN]);
    const busy = await RawKafkaClient.connect(deadlines.bootstrap[PLAIN]);
    open.push(idle, busy);
    const md = await idle.request<MetadataResponse>(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false });
    assert.equal(md.brokers.length, 1);
    const started = Date.now();
    // Held by the broker for 5 s: in flight all that time, longer than the idle limit.
    const fetchId = busy.send(ApiKey.Fetch, 12, longPollFetch(topic, 5000));
    assert.ok(await idle.closedWithin(6000), 'the idle connection is closed');
    const idleFor = Date.now() - started;
    assert.ok(idleFor >= 2900, `closed after ${idleFor} ms idle`);
    assert.ok(!busy.isClosed, 'a connection with a request in flight is not idle');
    const answer = await busy.frame(10_000);
    assert.ok(answer.length > 8, `the Fetch ${fetchId} was answered`);
    const metrics = await scrapeMetrics(deadlines.adminUrl);
    assert.ok(metricValue(metrics, 'turnout_connections_closed_by_limit_total', { route: PLAIN, reason: 'idle_timeout' }) >= 1);
    // An idle close is housekeeping, as on a broker: not an error.
    assert.equal(metricValue(metrics, 'turnout_connection_errors_total', { route: PLAIN, reason: 'idle_timeout' }), 0);
  });
});

describe('the process-wide buffered-bytes budget', () => {
  let cluster: ClusterDescriptor;
  let gw: TestGateway;
  const BUDGET = 1 * MiB;

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    // The connection's own cap stays at its 4 MiB default: only the process budget can stop it earlier.
    gw = await startGateway({
      domains: [domainFor(cluster)],
      routes: [{ name: PLAIN, domain: 'k4-single', listener: 'plaintext' }],
      limits: { maxBufferedBytes: BUDGET },
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('over the budget the gateway pauses reads instead of closing anyone; every response arrives once the client reads', async (t) => {
    const topic = uniqueName('gw-budget');
    await createTopic(cluster.bootstrap(), topic);
    const value = 'v'.repeat(30_000);
    // Batches of 20 records (600 KB) stay under the broker's message.max.bytes.
    for (let i = 0; i < 5; i++)
      await kafkajsDriver.produce(
        { bootstrap: gw.bootstrap[PLAIN] },
        topic,
        Array.from({ length: 20 }, () => ({ value })),
      );

    const client = await RawKafkaClient.connect(gw.bootstrap[PLAIN]);
    try {
      const port = client.socket.localPort;
      const conn = await eventually('the gateway connection', () => gw.gateway.connections(PLAIN).find((c) => c.log.bindings().client === `127.0.0.1:${port}`));
      client.socket.pause();
      const fetches = 6;
      for (let i = 0; i < fetches; i++) client.send(ApiKey.Fetch, 12, fetchRequest(topic, 0n, { maxBytes: MiB }));
      let max = 0;
      await eventually(
        'the gateway to pause its broker reads',
        () => {
          max = Math.max(max, conn.stats().bufferedToClient);
          return conn.stats().upstreamReadsPaused;
        },
        20_000,
      );
      await new Promise((r) => setTimeout(r, 300));
      max = Math.max(max, conn.stats().bufferedToClient);
      const metrics = await scrapeMetrics(gw.adminUrl);
      t.diagnostic(
        `paused with ${conn.stats().bufferedToClient} bytes queued to the client (max ${max}); turnout_buffered_bytes ${metricValue(metrics, 'turnout_buffered_bytes')}, limit ${metricValue(metrics, 'turnout_buffered_bytes_limit')}`,
      );
      assert.ok(metricValue(metrics, 'turnout_buffered_bytes_pauses_total') >= 1, 'the pause is counted');
      assert.equal(metricValue(metrics, 'turnout_buffered_bytes_limit'), BUDGET);
      assert.ok(metricValue(metrics, 'turnout_buffered_bytes') > BUDGET * 0.9, 'usage is reported');
      assert.ok(max < 2 * MiB, `the process budget stopped it at ${max} bytes, below the connection's own 4 MiB cap`);
      assert.ok(!client.isClosed, 'nobody is closed for the budget');

      client.socket.resume();
      for (let i = 0; i < fetches; i++) {
        const body = await client.response<FetchResponse>(i + 1, ApiKey.Fetch, 12, 20_000);
        assert.equal(body.responses[0].partitions[0].errorCode, 0);
        assert.ok((body.responses[0].partitions[0].records?.length ?? 0) > 500_000);
      }
      await eventually('the budget to be released', async () => metricValue(await scrapeMetrics(gw.adminUrl), 'turnout_buffered_bytes') < BUDGET / 2);
    } finally {
      client.destroy();
    }
  });
});
