// Switches that cannot happen (issue 23, failure paths): to a streaming domain whose cluster does
// not answer, and to a domain the gateway does not know. Each must say so, leave the route where
// it was, and leave its clients writing and reading there with nothing acknowledged lost.
//
// And switches when the switch state topic cannot be written on one side: an ACL denies the
// gateway's service principal Write on it (clusters fp-acl-blue / fp-acl-green run Kafka's
// authorizer). README ("Which state writes a switch needs"): the prepare, the commit and an abort
// need the destination's copy; the source's is written in the background. So with the
// destination's copy unwritable a planned and a hot switch are refused, naming the domain and the
// topic, and both instances of the fleet stay where they were; with the source's unwritable both
// switch, the report says the source's copy is pending, and the source takes the commit once it
// can. (min.insync.replicas above the replica count does not make a topic unwritable on Kafka 4:
// the broker caps it at the replica count, and acks=all writes go through.)
//
// Clusters fs-blue / fs-green as in fleet-scope.test.ts (shared by name in a run); the "dead"
// domain points at a port nothing listens on.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RouteStatus } from '../../../src/admin/server.ts';
import { Secret } from '../../../src/config/index.ts';
import type { StreamingDomainConfig } from '../../../src/config/types.ts';
import { decodeRecord, latestRouteStates, type StateRecord } from '../../../src/control/records.ts';
import { StateLog } from '../../../src/control/state-log.ts';
import type { FleetInstance, SwitchReport } from '../../../src/control/switch-controller.ts';
import { silentLogger } from '../../../src/observability/log.ts';
import type { CreateAclsResponse } from '../../../src/protocol/generated/messages/create-acls-response.ts';
import type { DeleteAclsResponse } from '../../../src/protocol/generated/messages/delete-acls-response.ts';
import type { FetchResponse } from '../../../src/protocol/generated/messages/fetch-response.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import {
  defaultProduceRequest,
  defaultProduceRequestPartitionProduceData,
  defaultProduceRequestTopicProduceData,
} from '../../../src/protocol/generated/messages/produce-request.ts';
import type { ProduceResponse } from '../../../src/protocol/generated/messages/produce-response.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { decodeRecordBatchesWithEnd, encodeRecordBatch } from '../../../src/protocol/records.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { sendRequest } from '../../../src/testbed/kafka-request.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import { createTopic } from '../../support/clients/kafkajs.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture } from '../../support/log-capture.ts';
import { fetchRequest } from '../../support/raw-kafka.ts';
import { eventually } from '../../support/switchover/long-running.ts';
import { uniqueName } from '../testbed/helpers.ts';

const TOKEN = 'failure-paths-token';
const SASL = { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'alice', password: new Secret('alice-secret') } } as const;

/** A port on 127.0.0.1 that nothing listens on (taken, then freed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function deadDomain(port: number): StreamingDomainConfig {
  return {
    name: 'dead',
    type: 'kafka',
    kafkaCluster: {
      name: 'dead',
      bootstrapServers: [
        {
          id: 'sasl',
          endpoints: [{ host: '127.0.0.1', port }],
          security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'admin', password: new Secret('admin-secret') } },
        },
      ],
    },
  };
}

async function switchRoute(gw: TestGateway, body: object): Promise<{ status: number; ms: number; report: Partial<SwitchReport> & { error?: string } }> {
  const started = performance.now();
  const res = await fetch(`${gw.adminUrl}/routes/orders/switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ by: 'failure-paths test', ...body }),
  });
  return { status: res.status, ms: Math.round(performance.now() - started), report: (await res.json()) as Partial<SwitchReport> & { error?: string } };
}

async function routeStatus(gw: TestGateway): Promise<RouteStatus> {
  const s = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { routes: RouteStatus[] };
  return s.routes.find((r) => r.name === 'orders')!;
}

describe('switches that cannot happen leave the route and its clients where they were', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let gw: TestGateway;
  const topic = uniqueName('fp-orders');

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'fs-blue', brokers: 1, nodeIdBase: 801 }),
      bed.cluster({ name: 'fs-green', brokers: 1, nodeIdBase: 901 }),
    ]);
    await createTopic({ bootstrap: blue.bootstrap() }, topic, { partitions: 1 });
    gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green'), deadDomain(await deadPort())],
      // Replicated (so that a planned switch is possible at all); nothing copies to "dead".
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl', replication: { type: 'mirrormaker2', topics: 'fp-.*', groups: null } }],
      adminToken: TOKEN,
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('to an unreachable cluster (planned and hot) and to an unknown domain: refused with the reason, the route stays, writes go on', {
    timeout: 120_000,
  }, async (t) => {
    const [host, port] = gw.bootstrap.orders.split(':');
    const boot = await KafkaConnection.open({ host, port: Number(port) }, SASL);
    const md = await boot.request<MetadataResponse>(ApiKey.Metadata, 12, {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    boot.close();
    const leader = md.brokers.find((b) => b.nodeId === md.topics[0].partitions[0].leaderId)!;
    const conn = await KafkaConnection.open({ host: leader.host, port: leader.port }, SASL);
    let written = 0;
    const produce = async (): Promise<number> => {
      const res = await conn.request<ProduceResponse>(ApiKey.Produce, 9, {
        ...defaultProduceRequest(),
        acks: -1,
        timeoutMs: 10_000,
        topicData: [
          {
            ...defaultProduceRequestTopicProduceData(),
            name: topic,
            partitionData: [
              { ...defaultProduceRequestPartitionProduceData(), index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(`r${written}`) }]) },
            ],
          },
        ],
      });
      const p = res.responses[0].partitionResponses[0];
      if (p.errorCode === 0) written++;
      return p.errorCode;
    };
    try {
      assert.equal(await produce(), 0, 'writes through the route before');

      for (const mode of ['planned', 'hot'] as const) {
        const r = await switchRoute(gw, { to: 'dead', mode });
        t.diagnostic(`${mode} switch to an unreachable cluster: HTTP ${r.status} in ${r.ms} ms: ${JSON.stringify(r.report.message ?? r.report.error)}`);
        assert.notEqual(r.status, 200, `${mode}: not a success (${JSON.stringify(r.report)})`);
        assert.match(String(r.report.message ?? r.report.error), /dead/, `${mode}: the message names the destination`);
        const s = await routeStatus(gw);
        assert.equal(s.domain, 'blue', `${mode}: the route stays on blue`);
        assert.equal(s.epoch, 0, `${mode}: no switch was committed`);
        assert.equal(await produce(), 0, `${mode}: writes through the route go on`);
      }

      const unknown = await switchRoute(gw, { to: 'purple' });
      t.diagnostic(`switch to an unknown domain: HTTP ${unknown.status}: ${JSON.stringify(unknown.report.error ?? unknown.report.message)}`);
      assert.ok(unknown.status >= 400 && unknown.status < 500, `an unknown domain is the caller's mistake (HTTP ${unknown.status})`);
      assert.match(String(unknown.report.error ?? unknown.report.message), /purple/);
      assert.equal((await routeStatus(gw)).domain, 'blue');
      assert.equal(await produce(), 0);
    } finally {
      conn.close();
    }
    // Every acknowledged write is on blue.
    const ends = await (await testBed()).tools().then((tools) => tools.endOffsets(blue.bootstrap(), topic));
    assert.equal(ends.get(0), written, `blue holds the ${written} acknowledged records`);
  });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// The gateway's service principal on the ACL clusters (not a super user, so ACLs apply to it).
const SERVICE_USER = { username: 'kafka', password: 'kafka-secret' } as const;
const ACL = { topic: 2, literal: 3, all: 2, write: 4, deny: 2, allow: 3 } as const;

/**
 * A domain with only its SASL listener, whose service credentials (state topic, planned-switch
 * reads) are SERVICE_USER's. Without the PLAINTEXT listener: the gateway would use it for its state
 * (the first PLAINTEXT or credentialed listener), as ANONYMOUS, a super user that no ACL stops.
 */
function domainAsService(cluster: ClusterDescriptor, name: string): StreamingDomainConfig {
  const d = domainFor(cluster, name);
  return {
    ...d,
    kafkaCluster: {
      ...d.kafkaCluster,
      bootstrapServers: d.kafkaCluster.bootstrapServers
        .filter((b) => b.id === 'sasl')
        .map((b) => ({
          ...b,
          security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: SERVICE_USER.username, password: new Secret(SERVICE_USER.password) } },
        })),
    },
  };
}

/**
 * Adds or removes an ACL on `topic` for the service principal, as `kafka-acls --add|--remove
 * --deny-principal User:kafka --operation Write --topic <topic>` would (sent over the PLAINTEXT
 * listener, whose ANONYMOUS principal is a super user on these clusters).
 */
async function serviceAcl(cluster: ClusterDescriptor, action: 'add' | 'remove', topic: string, operation: number, permissionType: number): Promise<void> {
  const b = cluster.brokers[0];
  const acl = {
    resourceType: ACL.topic,
    resourceName: topic,
    resourcePatternType: ACL.literal,
    principal: `User:${SERVICE_USER.username}`,
    host: '*',
    operation,
    permissionType,
  };
  if (action === 'add') {
    const res = await sendRequest<CreateAclsResponse>(b.host, b.plaintextPort, ApiKey.CreateAcls, 3, { creations: [acl] }, 10_000);
    assert.equal(res.results[0]?.errorCode, 0, `CreateAcls at ${cluster.name}: ${res.results[0]?.errorMessage}`);
  } else {
    const { resourceType, resourceName, resourcePatternType, principal, host } = acl;
    const res = await sendRequest<DeleteAclsResponse>(
      b.host,
      b.plaintextPort,
      ApiKey.DeleteAcls,
      3,
      {
        filters: [
          {
            resourceTypeFilter: resourceType,
            resourceNameFilter: resourceName,
            patternTypeFilter: resourcePatternType,
            principalFilter: principal,
            hostFilter: host,
            operation,
            permissionType,
          },
        ],
      },
      10_000,
    );
    assert.equal(res.filterResults[0]?.errorCode, 0, `DeleteAcls at ${cluster.name}: ${res.filterResults[0]?.errorMessage}`);
  }
}

/** Every record value of partition 0 of `topic` on a single-broker cluster. */
async function valuesOn(cluster: ClusterDescriptor, topic: string): Promise<Set<string>> {
  const b = cluster.brokers[0];
  const out = new Set<string>();
  for (let offset = 0n; ; ) {
    const res = await sendRequest<FetchResponse>(b.host, b.plaintextPort, ApiKey.Fetch, 12, fetchRequest(topic, offset), 10_000);
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, 0, `Fetch ${topic} at ${cluster.name}`);
    const { records, endOffset } = decodeRecordBatchesWithEnd(p.records ?? new Uint8Array());
    for (const r of records) if (r.value !== null) out.add(r.value.toString('utf8'));
    if (endOffset === null || endOffset >= p.highWatermark) return out;
    offset = endOffset;
  }
}

/** The switch state records in `domain`'s copy of the state topic. */
async function stateOn(domain: StreamingDomainConfig, topic: string): Promise<StateRecord[]> {
  const log = new StateLog({
    domain,
    listener: domain.kafkaCluster.bootstrapServers.find((s) => s.id === 'sasl')!,
    topic,
    log: silentLogger(),
    timeoutMs: 5000,
  });
  try {
    return (await log.readAll()).map((r) => decodeRecord(r.value)).filter((r) => r !== null);
  } finally {
    log.close();
  }
}

/**
 * Writes one record at a time (acks=all) through the route as a client would: it finds the leader
 * through the gateway, and after a switch closes its connection, or an error answers a write, it
 * finds the leader again and sends the same value again. Keeps every acknowledged value.
 */
class RouteWriter {
  readonly acked: string[] = [];
  /** Per acknowledgement, when it came (performance.now()). */
  readonly ackedAt: number[] = [];
  /** What interrupted writes (closed connections, error codes): each was retried. */
  readonly interruptions: string[] = [];
  private readonly bootstrap: string;
  private readonly topic: string;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(bootstrap: string, topic: string) {
    this.bootstrap = bootstrap;
    this.topic = topic;
    this.done = this.run();
  }

  private async leader(): Promise<KafkaConnection> {
    const [host, port] = this.bootstrap.split(':');
    const boot = await KafkaConnection.open({ host, port: Number(port) }, SASL);
    try {
      const md = await boot.request<MetadataResponse>(ApiKey.Metadata, 12, {
        topics: [{ name: this.topic, topicId: ZERO_UUID }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      const leader = md.brokers.find((b) => b.nodeId === md.topics[0]?.partitions[0]?.leaderId);
      if (leader === undefined) throw new Error(`no leader of ${this.topic} in the route's Metadata`);
      return await KafkaConnection.open({ host: leader.host, port: leader.port }, SASL, { requestTimeoutMs: 30_000 });
    } finally {
      boot.close();
    }
  }

  private async run(): Promise<void> {
    let conn: KafkaConnection | null = null;
    while (!this.stopped) {
      const value = `w${this.acked.length}`;
      try {
        conn ??= await this.leader();
        const res = await conn.request<ProduceResponse>(ApiKey.Produce, 9, {
          ...defaultProduceRequest(),
          acks: -1,
          timeoutMs: 10_000,
          topicData: [
            {
              ...defaultProduceRequestTopicProduceData(),
              name: this.topic,
              partitionData: [
                { ...defaultProduceRequestPartitionProduceData(), index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(value) }]) },
              ],
            },
          ],
        });
        const code = res.responses[0].partitionResponses[0].errorCode;
        if (code === 0) {
          this.acked.push(value);
          this.ackedAt.push(performance.now());
          await sleep(50);
          continue;
        }
        this.interruptions.push(`error ${code}`);
      } catch (err) {
        this.interruptions.push((err as Error).message);
      }
      conn?.close();
      conn = null;
      await sleep(200);
    }
    conn?.close();
  }

  /** Resolves once `n` more writes were acknowledged. */
  async more(n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.acked.length + n;
    await eventually(
      () =>
        assert.ok(
          this.acked.length >= target,
          `${this.acked.length} of ${target} writes acknowledged; last interruptions: ${this.interruptions.slice(-3).join(' | ')}`,
        ),
      timeoutMs,
      50,
    );
  }

  /** The longest time between two acknowledgements after `since` (performance.now()). */
  longestGapSince(since: number): number {
    let gap = 0;
    for (let i = 1; i < this.ackedAt.length; i++) if (this.ackedAt[i] > since) gap = Math.max(gap, this.ackedAt[i] - this.ackedAt[i - 1]);
    return Math.round(gap);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

describe('a switch state topic that one side cannot write', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  let a: TestGateway;
  let b: TestGateway;
  let writer: RouteWriter | undefined;
  const denied = new Set<ClusterDescriptor>();
  /** fp-a's log: its state writers say when a write failed and is retried. */
  const logsA = new LogCapture();
  const topic = uniqueName('fpst-orders');
  const stateTopic = uniqueName('_turnout_state_fp');
  const domains = () => [domainAsService(blue, 'blue'), domainAsService(green, 'green')];

  /**
   * Denies (or allows again) the service principal Write on `cluster`'s state topic, and waits
   * until the broker acts on it: a write as that principal is refused (or taken).
   */
  async function stateWritable(cluster: ClusterDescriptor, writable: boolean): Promise<void> {
    await serviceAcl(cluster, writable ? 'remove' : 'add', stateTopic, ACL.write, ACL.deny);
    if (writable) denied.delete(cluster);
    else denied.add(cluster);
    const d = domains().find((x) => x.kafkaCluster.name === cluster.name)!;
    const probe = new StateLog({
      domain: d,
      listener: d.kafkaCluster.bootstrapServers.find((x) => x.id === 'sasl')!,
      topic: stateTopic,
      log: silentLogger(),
      timeoutMs: 2000,
    });
    try {
      await eventually(
        async () => {
          // Not a switch state record: every instance ignores it.
          const refused = await probe.append([{ key: 'acl-probe', value: 'probe' }]).then(
            () => null,
            (err: Error) => err.message,
          );
          if (writable) assert.equal(refused, null);
          else assert.match(String(refused), /TOPIC_AUTHORIZATION_FAILED/);
        },
        10_000,
        100,
      );
    } finally {
      probe.close();
    }
  }

  before(async () => {
    const bed = await testBed();
    // An authorizer, open to everyone on resources without ACLs; the brokers' own PLAINTEXT
    // listeners (ANONYMOUS: inter-broker, MirrorMaker, this test's admin requests) are super users.
    const brokerConfig = {
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS;User:admin',
      'allow.everyone.if.no.acl.found': 'true',
    };
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'fp-acl-blue', brokers: 1, nodeIdBase: 811, brokerConfig }),
      bed.cluster({ name: 'fp-acl-green', brokers: 1, nodeIdBase: 911, brokerConfig }),
    ]);
    // README's grant of the state topic to the service principal (here: All).
    await Promise.all([blue, green].map((c) => serviceAcl(c, 'add', stateTopic, ACL.all, ACL.allow)));
    await Promise.all([
      createTopic({ bootstrap: blue.bootstrap() }, topic, { partitions: 1 }),
      createTopic({ bootstrap: green.bootstrap() }, topic, { partitions: 1 }),
    ]);
    await bed.mirrorMaker({ name: 'fp-acl-blue-to-green', source: 'fp-acl-blue', target: 'fp-acl-green', topics: 'fpst-.*' });
    // Two instances: a switch the state refuses must leave both where they were, one that succeeds must move both.
    const common = {
      domains: domains(),
      stateTopic,
      adminToken: TOKEN,
      routes: [{ name: 'orders', domain: 'blue', listener: 'sasl' as const, replication: { type: 'mirrormaker2' as const, topics: 'fpst-.*', groups: null } }],
    };
    [a, b] = await Promise.all([
      startGateway({ ...common, instanceId: 'fp-a', logDestination: asStream(logsA) }),
      startGateway({ ...common, instanceId: 'fp-b' }),
    ]);
    await eventually(
      async () => {
        const fleet = (await (await fetch(`${a.adminUrl}/fleet`)).json()) as { instances: FleetInstance[] };
        assert.ok(
          fleet.instances.some((i) => i.instance === 'fp-b' && i.live),
          'fp-b is live for fp-a',
        );
      },
      20_000,
      200,
    );
  });

  after(async () => {
    await writer?.stop();
    for (const c of denied) await serviceAcl(c, 'remove', stateTopic, ACL.write, ACL.deny).catch(() => {});
    await Promise.all([a?.stop(), b?.stop()]);
    await (await testBed()).stopMirrorMaker('fp-acl-blue-to-green');
  });

  /**
   * Waits until fp-a's writer for `domain` failed twice after log line `since`: the second failed
   * batch began after the switch had queued its records, so it held them (the first may have been
   * in flight before). Records not kept would be gone now; kept ones wait for the next try.
   */
  async function failedTwiceSince(domain: string, since: number): Promise<void> {
    await eventually(
      () => {
        const retries = logsA
          .entries()
          .slice(since)
          .filter((e) => e.msg === 'switch state not written; retrying in the background' && e.domain === domain);
        assert.ok(retries.length >= 2, `${retries.length} failed writes to ${domain} since the switch`);
        assert.match(String(retries[1].err), /TOPIC_AUTHORIZATION_FAILED/);
      },
      15_000,
      100,
    );
  }

  /** `domain`'s copy of the state says the route is on `on` at `epoch`. */
  async function copyHolds(domain: string, on: string, epoch: number): Promise<void> {
    const d = domains().find((x) => x.name === domain)!;
    await eventually(
      async () => {
        const route = latestRouteStates(await stateOn(d, stateTopic)).get('orders');
        assert.deepEqual({ domain: route?.domain, epoch: route?.epoch }, { domain: on, epoch }, `${domain}'s copy of the state`);
      },
      15_000,
      250,
    );
  }

  /** Both instances have the route on `domain` at `epoch`. */
  async function fleetOn(domain: string, epoch: number, what: string): Promise<void> {
    for (const gw of [a, b]) {
      const s = await routeStatus(gw);
      assert.deepEqual({ domain: s.domain, epoch: s.epoch }, { domain, epoch }, `${what}: ${gw === a ? 'fp-a' : 'fp-b'}`);
    }
  }

  test('destination unwritable: planned and hot refused naming it; source unwritable: both switch, the source takes the commit later; writes go on, nothing acknowledged is lost', {
    timeout: 240_000,
  }, async (t) => {
    writer = new RouteWriter(a.bootstrap.orders, topic);
    await writer.more(5);

    // 1. The destination's copy cannot be written: no switch, on either instance.
    await stateWritable(green, false);
    for (const mode of ['planned', 'hot'] as const) {
      const since = performance.now();
      const r = await switchRoute(a, { to: 'green', mode });
      t.diagnostic(
        `${mode}, green's state topic unwritable: HTTP ${r.status} in ${r.ms} ms, longest gap between acks ${writer.longestGapSince(since)} ms: ${r.report.message ?? r.report.error}`,
      );
      assert.equal(r.status, 409, `${mode}: refused (${JSON.stringify(r.report)})`);
      assert.equal(r.report.outcome, 'refused');
      const message = String(r.report.message);
      assert.match(message, /switch state topic of the destination "green" could not be written/, `${mode}: says what failed and where`);
      assert.ok(message.includes(`state topic "${stateTopic}" on streaming domain "green"`), `${mode}: names the topic: ${message}`);
      assert.match(message, /TOPIC_AUTHORIZATION_FAILED/, `${mode}: says why`);
      assert.ok(
        r.report.stateNotWritten?.some((x) => x.domain === 'green'),
        `${mode}: stateNotWritten lists green`,
      );
      await fleetOn('blue', 0, `${mode} refused`);
      await writer.more(5);
      await fleetOn('blue', 0, `${mode} refused, later`);
    }
    await stateWritable(green, true);
    const blueValues = await valuesOn(blue, topic);
    assert.deepEqual(
      writer.acked.filter((v) => !blueValues.has(v)),
      [],
      'every write acknowledged while the route stayed is on blue',
    );

    /** A switch whose source's state topic refused: it switched, and says where it is not recorded and why. */
    const switchedWithoutSourceCopy = (mode: string, r: Awaited<ReturnType<typeof switchRoute>>, source: string, dest: string) => {
      t.diagnostic(`${mode}, ${source}'s (the source's) state topic unwritable: HTTP ${r.status} in ${r.ms} ms: ${r.report.message}`);
      assert.equal(r.status, 200, JSON.stringify(r.report));
      assert.equal(r.report.outcome, 'switched');
      assert.match(String(r.report.message), new RegExp(`Not yet recorded in the switch state of "${source}"`));
      // Why it is not recorded: the broker's refusal, also when the record waited behind an earlier refused write.
      assert.match(String(r.report.message), /TOPIC_AUTHORIZATION_FAILED/);
      assert.ok(
        r.report.stateNotWritten?.some((x) => x.domain === source),
        `stateNotWritten lists ${source}`,
      );
      assert.ok(r.report.stateWritten?.includes(dest), `stateWritten lists ${dest}`);
    };

    // 2. The source's copy cannot be written: the switch needs only the destination's.
    await stateWritable(blue, false);
    // As an operator would: switch (planned) once replication is close.
    await eventually(
      async () => {
        const g = await valuesOn(green, topic);
        assert.ok(
          writer!.acked.slice(0, -20).every((v) => g.has(v)),
          'replication to green is close',
        );
      },
      60_000,
      500,
    );
    const plannedLogs = logsA.lines.length;
    const planned = await switchRoute(a, { to: 'green', mode: 'planned' });
    switchedWithoutSourceCopy('planned', planned, 'blue', 'green');
    await eventually(() => fleetOn('green', planned.report.epoch!, 'planned switched'), 10_000, 100);
    await writer.more(5);
    // The commit is retried until blue takes it (README: an instance that can read only the source still learns the new epoch).
    await failedTwiceSince('blue', plannedLogs);
    let since = performance.now();
    await stateWritable(blue, true);
    await copyHolds('blue', 'green', planned.report.epoch!);
    t.diagnostic(`blue's copy held epoch ${planned.report.epoch} ${Math.round(performance.now() - since)} ms after it became writable`);

    // Now green, the source of the next switch, cannot be written.
    await stateWritable(green, false);
    const hotLogs = logsA.lines.length;
    const hot = await switchRoute(a, { to: 'blue', mode: 'hot' });
    switchedWithoutSourceCopy('hot', hot, 'green', 'blue');
    assert.ok(hot.report.epoch! > planned.report.epoch!);
    await eventually(() => fleetOn('blue', hot.report.epoch!, 'hot switched'), 10_000, 100);
    await writer.more(5);
    await copyHolds('blue', 'blue', hot.report.epoch!);
    await failedTwiceSince('green', hotLogs);
    since = performance.now();
    await stateWritable(green, true);
    await copyHolds('green', 'blue', hot.report.epoch!);
    t.diagnostic(`green's copy held epoch ${hot.report.epoch} ${Math.round(performance.now() - since)} ms after it became writable`);

    await writer.stop();
    const everywhere = new Set([...(await valuesOn(blue, topic)), ...(await valuesOn(green, topic))]);
    t.diagnostic(`${writer.acked.length} writes acknowledged, ${writer.interruptions.length} interruptions retried`);
    assert.deepEqual(
      writer.acked.filter((v) => !everywhere.has(v)),
      [],
      'every acknowledged write is on blue or green',
    );
    // Acknowledged after the last switch: on blue, where the route points.
    const blueNow = await valuesOn(blue, topic);
    assert.ok(
      writer.acked.slice(-5).every((v) => blueNow.has(v)),
      'the last writes are on blue',
    );
  });
});
