// Graceful stop: once gateway.stop(timeout) is called no new connection is accepted, requests
// already in flight still get their responses before their connection is closed, and stop()
// resolves within its bound even when a client keeps its connection open or a response never comes.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import { ApiKey, decodeResponse, peekResponseCorrelationId } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { connectTo, createTopic, eventually, longPollFetch, parseAddress, RawKafkaClient } from '../../support/raw-kafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROUTE = 'plain';

describe('graceful shutdown of the gateway', () => {
  let cluster: ClusterDescriptor;
  let topic: string;

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({ name: 'k4-single', brokers: 1, kafkaVersion: '4.3.1' });
    topic = uniqueName('gw-shutdown');
    await createTopic(cluster.bootstrap(), topic);
  });

  /** Runs `body` against a fresh gateway and always stops it (tests stop it themselves first). */
  async function withGateway(body: (gw: TestGateway) => Promise<void>): Promise<void> {
    const gw = await startGateway({ domains: [domainFor(cluster)], routes: [{ name: ROUTE, domain: 'k4-single', listener: 'plaintext' }] });
    try {
      await body(gw);
    } finally {
      // Should stop() hang, drop the connections so that the test file can still end.
      for (const c of gw.gateway.connections(ROUTE)) c.destroy();
      await within(gw.gateway.stop(0), 5000, 'gateway.stop after the test');
    }
  }

  function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not resolve within ${ms} ms`)), ms);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  async function refused(address: string): Promise<boolean> {
    try {
      (await connectTo(parseAddress(address), 2000)).destroy();
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
    }
  }

  test('an in-flight Fetch gets its response before the connection closes, and new connections are refused once stop begins', async () => {
    await withGateway(async (gw) => {
      const client = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
      const idle = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
      try {
        const fetchId = client.send(ApiKey.Fetch, 12, longPollFetch(topic, 2000));
        await eventually('the Fetch to be in flight', () => gw.gateway.connections(ROUTE).some((c) => c.stats().inFlight === 1));
        const started = Date.now();
        const stopped = gw.gateway.stop(10_000).then(() => Date.now() - started);

        await new Promise((r) => setImmediate(r));
        assert.ok(await refused(gw.bootstrap[ROUTE]), 'the bootstrap endpoint refuses connections once stop has begun');
        const brokerPort = gw.gateway.routes[0].ports.portOf(cluster.brokers[0].nodeId);
        assert.ok(await refused(`127.0.0.1:${brokerPort}`), 'broker ports refuse connections once stop has begun');
        assert.ok(await idle.closedWithin(1000), 'an idle connection is closed at once');

        const frame = await client.frame(5000);
        const answeredAfter = Date.now() - started;
        assert.equal(peekResponseCorrelationId(frame), fetchId);
        assert.equal(decodeResponse<FetchResponse>(frame, ApiKey.Fetch, 12).body.responses[0].partitions[0].errorCode, 0);
        assert.ok(answeredAfter >= 1000, `the Fetch was held by the broker (answered after ${answeredAfter} ms)`);
        assert.ok(await client.closedWithin(2000), 'the connection is closed once its last response is delivered');
        const took = await within(stopped, 5000, 'gateway.stop(10000) once every request was answered');
        assert.ok(took < 5000, `stop resolved after ${took} ms`);
      } finally {
        client.destroy();
        idle.destroy();
      }
    });
  });

  test('stop resolves within its bound when a client keeps its connection open with a request that is not answered in time', async () => {
    await withGateway(async (gw) => {
      const client = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
      const idle = await RawKafkaClient.connect(gw.bootstrap[ROUTE]);
      try {
        client.send(ApiKey.Fetch, 12, longPollFetch(topic, 15_000));
        await eventually('the Fetch to be in flight', () => gw.gateway.connections(ROUTE).some((c) => c.stats().inFlight === 1));
        const started = Date.now();
        await within(gw.gateway.stop(1000), 3000, 'gateway.stop(1000)');
        const took = Date.now() - started;
        assert.ok(took >= 900 && took < 2000, `stop(1000) resolved after ${took} ms`);
        assert.ok(await client.closedWithin(1000), 'the connection with the unanswered request is closed');
        assert.equal(client.pendingFrames, 0);
        assert.ok(await idle.closedWithin(1000), 'the idle connection is closed');
        assert.equal(gw.gateway.connections(ROUTE).length, 0);
      } finally {
        client.destroy();
        idle.destroy();
      }
    });
  });
});
