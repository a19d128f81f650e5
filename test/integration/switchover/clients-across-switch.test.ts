// Real clients through the gateway while the route is switched blue -> green (-> blue where
// cheap). Each client runs as ONE process (or, for kafkajs, one set of client objects in this
// process) from before the first switch to the end: the test checks the pid never changes and
// the process is still running when it is told to stop.
//
// Clusters as in hot-switch.test.ts (shared by name in a run): blue has one broker (id 1), green
// three (ids 401-403). Topics are created on both clusters by the test and named "cas-*", NOT
// "sw-*": hot-switch's MirrorMaker copies sw-.* topics blue -> green (and later green -> blue),
// which would put blue's records (aborted transactions included, as plain records) on green.
//
// Each test gets its own in-process gateway (route "orders" on blue, epoch 0) and switches through
// POST /routes/orders/switch; the cut is the gateway's "switch committed" log line: a record sent
// after it cannot reach the old cluster. Warnings and group events each client logged at the
// switches are printed as test diagnostics. What they said when these notes were written
// (kafka-clients 4.3.1, librdkafka 2.0.2 under Debian's confluent-kafka-python 1.7.0, kafkajs
// 2.2.4; before issue 13, so the Java producer kept blue's own producer id; the librdkafka tests
// now run 2.16 from PyPI, and producer ids are the gateway's, see README "Producer ids"):
//
// - Java idempotent producer: to green, NETWORK_EXCEPTION "Disconnected from node 1" for requests
//   written after the drain began (never forwarded), metadata refresh, NOT_LEADER_OR_FOLLOWER from
//   the green broker behind node 1's port (401 has the same port slot), often a few
//   OUT_OF_ORDER_SEQUENCE_NUMBER retries (green's leader has no state for the producer, so the
//   first batch it sees sets the sequence); once a partition was held that way for ~2 s, until
//   the switch back, and its records went to blue: still once each and in order. It keeps blue's
//   producer id and epoch on green (green accepts it). Back on blue: "Connection to node 403 terminated during
//   authentication" (the gateway has no blue broker for green-only ports), then
//   OUT_OF_ORDER_SEQUENCE_NUMBER from blue (which remembers the old sequences) and "ProducerId set
//   to 0 with epoch N": a local epoch bump per partition. Never a failed send.
// - Java transactional producer: at each switch "Transiting to fatal error state due to
//   InvalidPidMappingException"; the transaction open at the cut fails ("Cannot execute
//   transactional method because we are in an error state"), abortTransaction() throws too, and
//   the application closes the producer and initialises a new one (same transactional.id, same
//   process): "Discovered transaction coordinator ... (id: 40x)", "ProducerId set to ..." within
//   ~0.5 s. The cut-off transaction stays open in the OLD cluster's log (holding back its last
//   stable offset) until that cluster's coordinator times it out or the producer comes back.
// - librdkafka: error_cb _TRANSPORT "Disconnected" for bootstrap, brokers and GroupCoordinator,
//   a transient _ALL_BROKERS_DOWN, then "offset reset (at offset N, broker 40x) to BEGINNING ...
//   Offset out of range": the consumer fetches its blue positions on green. Group lost, then
//   assigned again. Back on blue: "Disconnected while requesting ApiVersion" on green-only ports,
//   and the same out-of-range reset, so blue is read again from the start (duplicates). No
//   cluster id warning: list_topics().cluster_id is the route's id throughout.
// - kafkajs: Produce NOT_LEADER_OR_FOLLOWER (retried), Fetch OFFSET_OUT_OF_RANGE "resetting to
//   default offset" per partition, Heartbeat/OffsetCommit NOT_COORDINATOR or UNKNOWN_MEMBER_ID,
//   "The group is rebalancing, re-joining", JoinGroup UNKNOWN_MEMBER_ID, a new member id.
// - Java Admin: at most "Connection to node 40x terminated during authentication"; describeCluster
//   answers with the new cluster's nodes within ~100 ms of the switch.
//
// PRODUCT BUGS THESE TESTS FOUND (both fixed; kept here as the reason for what the tests check):
// - Switching back to a cluster that lacks some of the previous cluster's node ids (green 402,
//   403 -> blue 1): their gateway ports accept connections and close them at the first request
//   ("no broker of streaming domain "blue" is served on gateway port ...", upstream_unreachable),
//   so a client that still has those brokers in its metadata cannot even refresh metadata
//   through them. Java and librdkafka recover (warnings: "terminated during authentication",
//   "Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol
//   configuration"); kafkajs's producer fails sends with "Closed connection" after its retries and
//   its consumer may crash ("Broker 402 not found in the cached metadata", restarted ~10 s
//   later). Fixed: such a port is now served by a stand-in broker of the current cluster.
// - A transactional producer switched to a cluster that never had a transaction coordinator
//   stalled for delivery.timeout.ms. Fixed: preparing a switch asks the destination for its
//   group and transaction coordinators (which creates them) before the flip.
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Secret, virtualClusterId } from '../../../src/config/index.ts';
import type { UpstreamSecurity } from '../../../src/config/types.ts';
import type { DescribeTopicPartitionsResponse } from '../../../src/protocol/generated/messages/describe-topic-partitions-response.ts';
import type { MetadataResponse } from '../../../src/protocol/generated/messages/metadata-response.ts';
import { ApiKey, ZERO_UUID } from '../../../src/protocol/index.ts';
import { type ClusterDescriptor, testBed } from '../../../src/testbed/index.ts';
import { DEFAULT_KAFKA_VERSION } from '../../../src/testbed/versions.ts';
import { KafkaConnection } from '../../../src/upstream/kafka-connection.ts';
import { type ClientTarget, stopAllClients } from '../../support/clients/common.ts';
import { readCommitted, readUncommitted } from '../../support/clients/java.ts';
import { createTopic } from '../../support/clients/kafkajs.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture } from '../../support/log-capture.ts';
import { startSwitchoverClient } from '../../support/switchover/java-program.ts';
import { KafkajsAcrossSwitch } from '../../support/switchover/kafkajs-clients.ts';
import { type ClientEvent, eventually, warningLines } from '../../support/switchover/long-running.ts';
import { startRdkafkaClient } from '../../support/switchover/rdkafka.ts';
import { uniqueName } from '../testbed/helpers.ts';

const ROUTE = 'orders';
const TOKEN = 'clients-across-switch-token';
const ALICE = { username: 'alice', password: 'alice-secret' } as const;
const CLUSTER_ID = virtualClusterId(ROUTE);
const PARTITIONS = 3;
const BLUE_IDS = [1];
const GREEN_IDS = [401, 402, 403];

interface Switched {
  startedAt: number;
  doneAt: number;
  report: Record<string, unknown>;
}

/** POST /routes/orders/switch, as an operator would. */
async function switchTo(gw: TestGateway, to: string): Promise<Switched> {
  const startedAt = Date.now();
  const res = await fetch(`${gw.adminUrl}/routes/${ROUTE}/switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, by: 'clients-across-switch test' }),
  });
  const report = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(report));
  assert.equal(report.outcome, 'switched', JSON.stringify(report));
  return { startedAt, doneAt: Date.now(), report };
}

/** When the gateway applied switch `epoch` (its "switch committed" line; logged right after the
 *  route took the new cluster). A record sent after it cannot reach the old cluster. */
function cutOf(log: LogCapture, epoch: number): number {
  const e = log.entries().find((x) => x.msg === 'switch committed' && x.epoch === epoch);
  assert.ok(e !== undefined && typeof e.time === 'string', `no "switch committed" log line for epoch ${epoch}`);
  return Date.parse(e.time);
}

type Tx = {
  tx: number;
  outcome: 'committed' | 'aborted' | 'commit-failed';
  values: string[];
  beganAt: number;
  endedAt: number;
  error?: string;
  action?: string;
  phase?: string;
};

interface Ack {
  seq: number;
  value: string;
  partition: number;
  offset: number;
  sentAt: number;
  ackAt: number;
}

const acksOf = (events: ClientEvent[], prefix: string): Ack[] =>
  events
    .filter((e) => typeof e.ack === 'number')
    .map((e) => ({
      seq: e.ack as number,
      value: `${prefix}${e.ack as number}`,
      partition: e.partition as number,
      offset: e.offset as number,
      sentAt: e.sentAt as number,
      ackAt: e.ackAt as number,
    }));
const having = (events: ClientEvent[], key: string) => events.filter((e) => e[key] !== undefined);

/** Values of `topic` on a cluster, read directly (not through the gateway), with how often each occurs. */
async function valuesOn(
  cluster: ClusterDescriptor,
  topic: string,
  isolation: 'read_committed' | 'read_uncommitted' = 'read_uncommitted',
): Promise<Map<string, number>> {
  const read = isolation === 'read_committed' ? readCommitted : readUncommitted;
  const records = await read({ bootstrap: cluster.bootstrap() }, DEFAULT_KAFKA_VERSION, topic, { timeoutMs: 30_000 });
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.value, (counts.get(r.value) ?? 0) + 1);
  return counts;
}

function diagnostic(t: TestContext, title: string, lines: readonly string[], max = 25): void {
  t.diagnostic(`${title}: ${lines.length} line(s)`);
  for (const l of lines.slice(0, max)) t.diagnostic(`  ${l.slice(0, 400)}`);
  if (lines.length > max) t.diagnostic(`  ... ${lines.length - max} more`);
}

/** Cluster id, brokers and leader epochs through the gateway with Turnout's own codec (what a
 *  client's Metadata v12 and DescribeTopicPartitions v0 requests get). */
async function rawIdentity(bootstrap: string, topic: string, security: UpstreamSecurity) {
  const i = bootstrap.lastIndexOf(':');
  const c = await KafkaConnection.open({ host: bootstrap.slice(0, i), port: Number(bootstrap.slice(i + 1)) }, security);
  try {
    const md = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
      topics: [{ topicId: ZERO_UUID, name: topic }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const dtp = await c.request<DescribeTopicPartitionsResponse>(ApiKey.DescribeTopicPartitions, 0, {
      topics: [{ name: topic }],
      responsePartitionLimit: 2000,
      cursor: null,
    });
    const t = md.topics.find((x) => x.name === topic);
    const d = dtp.topics.find((x) => x.name === topic);
    return {
      clusterId: md.clusterId,
      brokers: md.brokers.map((b) => ({ nodeId: b.nodeId, port: b.port })).sort((a, b) => a.nodeId - b.nodeId),
      metadataErrors: [t?.errorCode ?? -999, ...(t?.partitions ?? []).map((p) => p.errorCode)].filter((e) => e !== 0),
      metadataEpochs: (t?.partitions ?? []).map((p) => p.leaderEpoch),
      metadataLeaders: (t?.partitions ?? []).map((p) => p.leaderId),
      describeErrors: [d?.errorCode ?? -999, ...(d?.partitions ?? []).map((p) => p.errorCode)].filter((e) => e !== 0),
      describeEpochs: (d?.partitions ?? []).map((p) => p.leaderEpoch),
    };
  } finally {
    c.close();
  }
}

const SASL_ALICE: UpstreamSecurity = {
  protocol: 'SASL_PLAINTEXT',
  sasl: { mechanism: 'PLAIN', username: ALICE.username, password: new Secret(ALICE.password) },
};

describe('real clients across a route switch blue -> green', () => {
  let blue: ClusterDescriptor;
  let green: ClusterDescriptor;
  const topics = {
    idempotent: uniqueName('cas-idempotent'),
    transactional: uniqueName('cas-transactional'),
    rdkafka: uniqueName('cas-rdkafka'),
    kafkajs: uniqueName('cas-kafkajs'),
    identity: uniqueName('cas-identity'),
  };
  const gateways: TestGateway[] = [];

  /** A gateway of its own for each test: route "orders" on blue, switch epoch 0. */
  async function gateway(): Promise<{ gw: TestGateway; log: LogCapture; target: ClientTarget }> {
    const log = new LogCapture();
    const gw = await startGateway({
      domains: [domainFor(blue, 'blue'), domainFor(green, 'green')],
      routes: [{ name: ROUTE, domain: 'blue', listener: 'sasl', brokerPortCount: 16 }],
      stateTopic: uniqueName('_turnout_state'),
      adminToken: TOKEN,
      logDestination: asStream(log),
    });
    gateways.push(gw);
    return { gw, log, target: { bootstrap: gw.bootstrap[ROUTE], sasl: ALICE } };
  }

  /** What the gateway logged about retiring connections between `from` and `to`. */
  function gatewaySwitchLines(log: LogCapture): string[] {
    return log
      .entries()
      .filter(
        (e) => e.level === 'warn' || e.level === 'error' || /retiring|switch/.test(e.msg) || (e.msg === 'connection closed' && e.reason !== 'client_closed'),
      )
      .map((e) => `${e.level} ${e.msg} ${JSON.stringify({ ...e, level: undefined, msg: undefined, time: undefined, pid: undefined, hostname: undefined })}`);
  }

  before(async () => {
    const bed = await testBed();
    [blue, green] = await Promise.all([
      bed.cluster({ name: 'sw-blue', brokers: 1, nodeIdBase: 1 }),
      bed.cluster({ name: 'sw-green', brokers: 3, nodeIdBase: 401 }),
    ]);
    await Promise.all([
      ...Object.values(topics).flatMap((topic) => [blue, green].map((c) => createTopic({ bootstrap: c.bootstrap() }, topic, { partitions: PARTITIONS }))),
    ]);
  });

  after(async () => {
    await stopAllClients();
    await Promise.all(gateways.map((g) => g.stop()));
  });

  test('1. idempotent Java producer: no send fails, records after each switch land on the new cluster only, none lost or duplicated', {
    timeout: 150_000,
  }, async (t) => {
    const { gw, log, target } = await gateway();
    const topic = topics.idempotent;
    const p = await startSwitchoverClient('java idempotent producer', target, 'idempotent', [topic, '5']);
    const sentAfter = (since: number, n: number) => (ev: ClientEvent[]) => acksOf(ev, 'i-').filter((a) => a.sentAt > since).length >= n;
    await p.waitFor('100 records acknowledged on blue', sentAfter(0, 100), 60_000);

    const mark1 = p.stderr.length;
    await switchTo(gw, 'green');
    const cut1 = cutOf(log, 1);
    await p.waitFor('100 records sent after the switch to green acknowledged', sentAfter(cut1, 100), 60_000);
    const mark2 = p.stderr.length;
    await switchTo(gw, 'blue');
    const cut2 = cutOf(log, 2);
    await p.waitFor('100 records sent after the switch back to blue acknowledged', sentAfter(cut2, 100), 60_000);

    assert.ok(p.isRunning(), 'the producer process is still running');
    const exit = await p.stop();
    const ev = p.events();
    const logLines = (text: string) => text.split('\n').filter((l) => / (INFO|WARN|ERROR) /.test(l));
    diagnostic(t, 'java idempotent producer, log at the switch to green', logLines(p.stderr.slice(mark1, mark2)));
    diagnostic(t, 'java idempotent producer, log at the switch back to blue', logLines(p.stderr.slice(mark2)));
    diagnostic(t, 'gateway', gatewaySwitchLines(log));
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr.slice(-3000));
    assert.deepEqual(having(ev, 'fatal'), [], 'no fatal error');
    assert.deepEqual(having(ev, 'sendError'), [], 'no send failed');
    const done = ev.find((e) => e.done === true)!;
    const acks = acksOf(ev, 'i-');
    assert.equal(acks.length, done.sent, 'every record sent was acknowledged');

    const [onBlue, onGreen] = await Promise.all([valuesOn(blue, topic), valuesOn(green, topic)]);
    const blueEra1 = acks.filter((a) => a.ackAt < cut1);
    const greenEra = acks.filter((a) => a.sentAt > cut1 && a.ackAt < cut2);
    const blueEra2 = acks.filter((a) => a.sentAt > cut2);
    t.diagnostic(
      `acked ${acks.length}: ${blueEra1.length} before the first switch, ${greenEra.length} sent after it and acked before the switch back, ${blueEra2.length} after the switch back; on blue ${onBlue.size}, on green ${onGreen.size}`,
    );
    assert.deepEqual(
      blueEra1.filter((a) => !onBlue.has(a.value)).map((a) => a.value),
      [],
      'acked before the switch: on blue',
    );
    assert.deepEqual(
      greenEra.filter((a) => !onGreen.has(a.value)).map((a) => a.value),
      [],
      'sent after the switch: on green',
    );
    assert.deepEqual(
      greenEra.filter((a) => onBlue.has(a.value)).map((a) => a.value),
      [],
      'sent after the switch: not on blue',
    );
    assert.deepEqual(
      blueEra2.filter((a) => !onBlue.has(a.value)).map((a) => a.value),
      [],
      'sent after the switch back: on blue',
    );
    assert.deepEqual(
      blueEra2.filter((a) => onGreen.has(a.value)).map((a) => a.value),
      [],
      'sent after the switch back: not on green',
    );
    // The idempotent producer keeps each partition in send order (max.in.flight <= 5), on each
    // cluster. Across a switch that holds because the gateway lets a replaced producer id's first
    // batches reach the new cluster only in sequence (src/proxy/sequence-gate.ts): once in ~7 CI
    // runs before it, a later batch got there first ("green p1: i-267@11 then i-272@0").
    const onCluster = (a: Ack) => (onGreen.has(a.value) ? 'green' : 'blue');
    const reordered: string[] = [];
    for (const cluster of ['blue', 'green']) {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const seq = acks.filter((a) => a.partition === partition && onCluster(a) === cluster).sort((x, y) => x.seq - y.seq);
        for (let i = 1; i < seq.length; i++)
          if (seq[i].offset < seq[i - 1].offset)
            reordered.push(`${cluster} p${partition}: ${seq[i - 1].value}@${seq[i - 1].offset} then ${seq[i].value}@${seq[i].offset}`);
      }
    }
    const slowest = [...acks].sort((x, y) => y.ackAt - y.sentAt - (x.ackAt - x.sentAt)).slice(0, 5);
    t.diagnostic(
      `slowest acks: ${slowest.map((a) => `${a.value} p${a.partition} ${a.ackAt - a.sentAt} ms (sent ${a.sentAt - cut1} ms after cut 1, acked ${a.ackAt - cut2} ms after cut 2) on ${onCluster(a)}`).join('; ')}`,
    );
    assert.deepEqual(reordered, [], 'records of a partition are in send order');
    // Exactly once over both clusters: nothing lost, no retry written twice.
    const lostOrDuplicated = acks
      .filter((a) => (onBlue.get(a.value) ?? 0) + (onGreen.get(a.value) ?? 0) !== 1)
      .map((a) => `${a.value}: blue ${onBlue.get(a.value) ?? 0}, green ${onGreen.get(a.value) ?? 0}`);
    assert.deepEqual(lostOrDuplicated, [], 'every acknowledged record is on exactly one cluster, once');
  });

  test('2. transactional Java producer: transactions open at a cut abort, later ones commit on the new cluster; read_committed sees whole committed transactions only', {
    timeout: 170_000,
  }, async (t) => {
    const { gw, log, target } = await gateway();
    const topic = topics.transactional;
    const transactionalId = uniqueName('cas-txn');
    // transaction.timeout.ms: a transaction a switch leaves open on the old cluster (its abort
    // went to the new one) is aborted by the old cluster's coordinator after this long.
    // Green got a transaction coordinator in before(): on a destination that never had one (no
    // __transaction_state), Kafka 4.x producers (Transactions V2: partitions are added by the
    // Produce request, verified by the partition leader with the coordinator) get
    // NOT_ENOUGH_REPLICAS "Unable to verify the partition has been added to the transaction.
    // Underlying error: COORDINATOR_NOT_AVAILABLE" on every retry and never ask FindCoordinator,
    // so the transaction open at the cut stalls for delivery.timeout.ms (measured: 120.8 s, then
    // "TimeoutException: Expiring 1 record(s) ... 120001 ms has passed since batch creation" and
    // the producer recovers). A gap in the switch, which does not make sure the destination has
    // its coordinators before it commits. Fixed: the switch's prepare now does that, and this
    // test no longer creates green's coordinator itself.
    const p = await startSwitchoverClient('java transactional producer', target, 'transactional', [topic, transactionalId, '3', '60'], {
      'transaction.timeout.ms': '10000',
    });
    const txs = (ev: ClientEvent[]) => ev.filter((e) => typeof e.tx === 'number') as unknown as Tx[];
    const committedAfter = (since: number, n: number) => (ev: ClientEvent[]) =>
      txs(ev).filter((x) => x.outcome === 'committed' && x.beganAt > since).length >= n;
    const logLines = (text: string) => text.split('\n').filter((l) => / (INFO|WARN|ERROR) /.test(l));
    const marks: number[] = [];
    const cuts: number[] = [];
    const step = async (what: string, done: (ev: ClientEvent[]) => boolean, timeoutMs: number) => {
      try {
        await p.waitFor(what, done, timeoutMs);
      } catch (err) {
        diagnostic(t, 'java transactional producer, log from the first switch on', logLines(p.stderr.slice(marks[0] ?? 0)), 60);
        diagnostic(
          t,
          'java transactional producer, last events',
          p
            .events()
            .slice(-20)
            .map((e) => JSON.stringify(e)),
          20,
        );
        throw err;
      }
    };
    await step('10 transactions committed on blue', committedAfter(0, 10), 60_000);
    marks.push(p.stderr.length);
    await switchTo(gw, 'green');
    cuts.push(cutOf(log, 1));
    await step('8 transactions begun after the switch to green committed', committedAfter(cuts[0], 8), 90_000);
    marks.push(p.stderr.length);
    await switchTo(gw, 'blue');
    cuts.push(cutOf(log, 2));
    await step('8 transactions begun after the switch back to blue committed', committedAfter(cuts[1], 8), 90_000);
    assert.ok(p.isRunning(), 'the producer process is still running');
    const exit = await p.stop();
    const ev = p.events();
    const all = txs(ev);
    diagnostic(t, 'java transactional producer, log at the switch to green', logLines(p.stderr.slice(marks[0], marks[1])), 40);
    diagnostic(t, 'java transactional producer, log at the switch back to blue', logLines(p.stderr.slice(marks[1])), 40);
    diagnostic(
      t,
      'transactions not committed',
      all.filter((x) => x.outcome !== 'committed').map((x) => JSON.stringify(x)),
    );
    diagnostic(t, 'gateway', gatewaySwitchLines(log));
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr.slice(-3000));
    assert.deepEqual(having(ev, 'fatal'), []);

    const committed = all.filter((x) => x.outcome === 'committed');
    const aborted = all.filter((x) => x.outcome === 'aborted');
    const uncertain = all.filter((x) => x.outcome === 'commit-failed');
    const atCut = cuts.map((cut) => all.filter((x) => x.beganAt < cut && x.endedAt > cut));
    t.diagnostic(
      `${all.length} transactions: ${committed.length} committed, ${aborted.length} aborted, ${uncertain.length} commit failed; open at the cuts: ${atCut.map((c) => c.map((x) => `tx ${x.tx} ${x.outcome}`).join(', ')).join(' | ')}`,
    );
    assert.ok(
      atCut.every((c) => c.length > 0),
      'a transaction was open at each cut',
    );
    // Whatever begins once the producer has recovered from a switch commits.
    const settled = (x: Tx) => (x.beganAt > cuts[0] + 5_000 && x.endedAt < cuts[1]) || x.beganAt > cuts[1] + 5_000;
    assert.deepEqual(
      all.filter((x) => settled(x) && x.outcome !== 'committed').map((x) => JSON.stringify(x)),
      [],
      'transactions begun after the producer recovered all commit',
    );

    const committedValues = new Set(committed.flatMap((x) => x.values));
    const uncertainValues = new Set(uncertain.flatMap((x) => x.values));
    const visible = (m: Map<string, number>, x: Tx) => x.values.filter((v) => m.has(v)).length;
    const greenEra = committed.filter((x) => x.beganAt > cuts[0] && x.endedAt < cuts[1]);
    const blueEras = committed.filter((x) => x.endedAt < cuts[0] || x.beganAt > cuts[1]);
    const greenCommitted = await valuesOn(green, topic, 'read_committed');
    // Blue's read_committed view ends at its last stable offset, which the transaction left open
    // there at the first cut holds back until blue's coordinator times it out.
    const waitedFrom = Date.now();
    let blueCommitted = new Map<string, number>();
    await eventually(
      async () => {
        blueCommitted = await valuesOn(blue, topic, 'read_committed');
        assert.deepEqual(
          blueEras.filter((x) => visible(blueCommitted, x) !== x.values.length).map((x) => x.tx),
          [],
          'committed on blue: whole on blue',
        );
      },
      45_000,
      2_000,
    );
    t.diagnostic(
      `read_committed: green ${greenCommitted.size} records, blue ${blueCommitted.size} (all of blue's committed transactions visible ${Date.now() - waitedFrom} ms after the producer stopped)`,
    );
    assert.deepEqual(
      greenEra.filter((x) => visible(greenCommitted, x) !== x.values.length).map((x) => x.tx),
      [],
      'committed between the switches: whole on green',
    );
    for (const [name, m] of [
      ['green', greenCommitted],
      ['blue', blueCommitted],
    ] as const) {
      assert.deepEqual(
        [...m.keys()].filter((v) => !committedValues.has(v) && !uncertainValues.has(v)),
        [],
        `read_committed on ${name}: no record of an aborted transaction`,
      );
      assert.deepEqual(
        [...m].filter(([, n]) => n !== 1),
        [],
        `no record twice on ${name}`,
      );
      for (const x of [...committed, ...uncertain]) {
        const n = visible(m, x);
        assert.ok(n === 0 || n === x.values.length, `transaction ${x.tx} is whole or absent on ${name} (${n} of ${x.values.length})`);
      }
    }
    assert.deepEqual(
      committed.filter((x) => visible(blueCommitted, x) > 0 && visible(greenCommitted, x) > 0).map((x) => x.tx),
      [],
      'no transaction on both clusters',
    );
    assert.deepEqual(
      committed.filter((x) => visible(blueCommitted, x) + visible(greenCommitted, x) === 0).map((x) => x.tx),
      [],
      'every committed transaction is on one cluster',
    );
  });

  test('3. librdkafka (confluent-kafka-python) producer and group consumer: keep running, post-switch records consumed, cluster id stable', {
    timeout: 150_000,
  }, async (t) => {
    const { gw, log, target } = await gateway();
    const topic = topics.rdkafka;
    const c = startRdkafkaClient(target, topic, uniqueName('cas-rdkafka-group'), 40);
    const pid = c.pid;
    type Answer = { clusterId: { producer: string | null; consumer: string | null }; brokers: { id: number; port: number }[] };
    const answers = (ev: ClientEvent[]) => having(ev, 'clusterId') as unknown as Answer[];
    /** list_topics() on both handles until the brokers are `ids` (metadata may lag a switch). */
    const clusterIdWhen = async (ids: number[]): Promise<Answer> => {
      let a: Answer | undefined;
      await eventually(
        async () => {
          const n = answers(c.events()).length;
          c.send('cluster-id');
          a = await c.waitFor('a cluster-id answer', (ev) => answers(ev)[n], 30_000);
          assert.deepEqual(
            a.brokers.map((b) => b.id),
            ids,
          );
        },
        30_000,
        1_000,
      );
      return a!;
    };
    const consumedAll = async (what: string, values: string[]) => {
      await c
        .waitFor(
          what,
          (ev) => {
            const seen = new Set(having(ev, 'consumed').map((e) => e.consumed as string));
            return values.every((v) => seen.has(v));
          },
          60_000,
        )
        .catch((err: Error) => {
          const seen = new Set(having(c.events(), 'consumed').map((e) => e.consumed as string));
          throw new Error(`${values.filter((v) => !seen.has(v)).length} of ${values.length} records not consumed\n${err.message}`);
        });
    };
    const sentAfter = (since: number) => acksOf(c.events(), 'r-').filter((a) => a.sentAt > since);
    await c.waitFor('50 records acked and consumed on blue', (ev) => acksOf(ev, 'r-').length >= 50 && having(ev, 'consumed').length >= 50, 60_000);
    const id0 = await clusterIdWhen(BLUE_IDS);

    const mark1 = c.stderr.length;
    const events1 = c.events().length;
    await switchTo(gw, 'green');
    const cut1 = cutOf(log, 1);
    await c.waitFor('100 records sent after the switch acknowledged', () => sentAfter(cut1).length >= 100, 60_000);
    const greenEra = sentAfter(cut1).map((a) => a.value);
    await consumedAll('every record sent after the switch to green consumed', greenEra);
    const id1 = await clusterIdWhen(GREEN_IDS);

    const mark2 = c.stderr.length;
    const events2 = c.events().length;
    await switchTo(gw, 'blue');
    const cut2 = cutOf(log, 2);
    await c.waitFor('100 records sent after the switch back acknowledged', () => sentAfter(cut2).length >= 100, 60_000);
    const blueEra2 = sentAfter(cut2).map((a) => a.value);
    await consumedAll('every record sent after the switch back to blue consumed', blueEra2);
    const id2 = await clusterIdWhen(BLUE_IDS);

    assert.ok(c.isRunning(), 'the client process is still running');
    assert.equal(c.pid, pid);
    const exit = await c.stop();
    const ev = c.events();
    t.diagnostic(`list_topics() on blue: ${JSON.stringify(id0)}; on green: ${JSON.stringify(id1)}; back on blue: ${JSON.stringify(id2)}`);
    const notable = (from: number, to: number) =>
      ev
        .slice(from, to)
        .filter((e) => e.errorCb || e.consumerError || e.assigned || e.revoked || e.lost || e.sendError)
        .map((e) => JSON.stringify(e));
    diagnostic(t, 'librdkafka log (warnings) at the switch to green', warningLines(c.stderr.slice(mark1, mark2)), 40);
    diagnostic(t, 'librdkafka events at the switch to green (errors, group changes)', notable(events1, events2), 40);
    diagnostic(t, 'librdkafka log (warnings) at the switch back to blue', warningLines(c.stderr.slice(mark2)), 40);
    diagnostic(t, 'librdkafka events at the switch back to blue (errors, group changes)', notable(events2, ev.length), 40);
    diagnostic(t, 'gateway', gatewaySwitchLines(log));
    for (const id of [id0, id1, id2]) assert.deepEqual(id.clusterId, { producer: CLUSTER_ID, consumer: CLUSTER_ID }, "list_topics().cluster_id is the route's");
    assert.deepEqual(exit, { code: 0, signal: null }, c.stderr.slice(-3000));
    assert.deepEqual(having(ev, 'sendError'), [], 'no send failed');
    assert.deepEqual(having(ev, 'consumerError'), [], 'the consumer reported no error');
    const done = ev.find((e) => e.done === true)!;
    assert.equal(acksOf(ev, 'r-').length, done.sent, 'every record sent was acknowledged');
    const [onBlue, onGreen] = await Promise.all([valuesOn(blue, topic), valuesOn(green, topic)]);
    t.diagnostic(
      `acked ${done.sent}, consumed ${having(ev, 'consumed').length} (${new Set(having(ev, 'consumed').map((e) => e.consumed)).size} distinct); ${greenEra.length} sent on green, ${blueEra2.length} after the switch back`,
    );
    assert.deepEqual(
      greenEra.filter((v) => !onGreen.has(v) || onBlue.has(v)),
      [],
      'records sent after the switch are on green only',
    );
    assert.deepEqual(
      blueEra2.filter((v) => !onBlue.has(v) || onGreen.has(v)),
      [],
      'records sent after the switch back are on blue only',
    );
  });

  test('4. kafkajs producer and group consumer (in-process): keep running, post-switch records consumed', { timeout: 150_000 }, async (t) => {
    const { gw, log, target } = await gateway();
    const topic = topics.kafkajs;
    const k = new KafkajsAcrossSwitch(target, topic, uniqueName('cas-kafkajs-group'), 40);
    const sentAfter = (since: number) => k.acked.filter((a) => a.sentAt > since);
    const consumedAll = (values: string[], timeoutMs: number) =>
      eventually(() => {
        const seen = new Set(k.consumed.map((c) => c.value));
        const missing = values.filter((v) => !seen.has(v));
        assert.equal(
          missing.length,
          0,
          `${missing.length} of ${values.length} records not consumed (e.g. ${missing.slice(0, 5).join(', ')}); crashes: ${JSON.stringify(k.crashes)}`,
        );
      }, timeoutMs);
    const clusterIdWhen = async (ids: number[]) => {
      let id = await k.clusterId();
      await eventually(async () => {
        id = await k.clusterId();
        assert.deepEqual(
          id.brokers.map((b) => b.nodeId),
          ids,
        );
      }, 20_000);
      return id;
    };
    const report = (from: number, to: number, title: string) => {
      diagnostic(t, `kafkajs warnings and errors ${title}`, k.warnings(from - 100, to), 40);
      diagnostic(
        t,
        `kafkajs send errors ${title}`,
        k.sendErrors.filter((e) => e.sentAt >= from - 100 && e.sentAt < to).map((e) => JSON.stringify(e)),
      );
      diagnostic(
        t,
        `kafkajs consumer crashes ${title}`,
        k.crashes.filter((c) => c.at >= from && c.at < to).map((c) => JSON.stringify(c)),
      );
      diagnostic(
        t,
        `kafkajs group joins ${title}`,
        k.groupJoins.filter((j) => j.at >= from && j.at < to).map((j) => JSON.stringify(j)),
      );
    };
    await k.start();
    try {
      await eventually(() => assert.ok(k.acked.length >= 50 && k.consumed.length >= 50, `${k.acked.length} acked, ${k.consumed.length} consumed`), 60_000);
      const id0 = await clusterIdWhen(BLUE_IDS);

      await switchTo(gw, 'green');
      const cut1 = cutOf(log, 1);
      await eventually(
        () =>
          assert.ok(sentAfter(cut1).length >= 100, `${sentAfter(cut1).length} acked after the switch; send errors: ${JSON.stringify(k.sendErrors.slice(-3))}`),
        60_000,
      );
      const greenEra = sentAfter(cut1).map((a) => a.value);
      await consumedAll(greenEra, 60_000);
      const id1 = await clusterIdWhen(GREEN_IDS);
      const greenEnd = Date.now();
      report(cut1, greenEnd, 'at the switch to green');
      t.diagnostic(`describeCluster on blue: ${JSON.stringify(id0)}; on green: ${JSON.stringify(id1)}`);
      for (const id of [id0, id1]) assert.equal(id.clusterId, CLUSTER_ID);
      assert.equal(k.crashes.length, 0, `no consumer crash: ${JSON.stringify(k.crashes)}`);
      assert.equal(k.sendErrors.length, 0, `no send failed: ${JSON.stringify(k.sendErrors)}`);
      const onGreen = await valuesOn(green, topic);
      assert.deepEqual(
        greenEra.filter((v) => !onGreen.has(v)),
        [],
        'records sent after the switch are on green',
      );

      // PRODUCT BUG (see the top of this file): back on blue, the gateway ports of green-only
      // brokers (402, 403) accept a connection and close it at the first request ("no broker of
      // streaming domain blue is served on gateway port ..."). kafkajs keeps reconnecting to the
      // port of the partition leader it has cached, never gets a metadata refresh through it, and
      // fails the send ("KafkaJSNonRetriableError: Closed connection" / "KafkaJSNumberOfRetriesExceeded:
      // Closed connection", after ~7-27 s, repeatedly); its consumer may crash with "Broker 402 not
      // found in the cached metadata" (restarted ~10 s later). Everything below is marked TODO:
      // Fixed in the gateway (stand-in broker); this part checks it.
      const cut2 = await switchTo(gw, 'blue').then(() => cutOf(log, 2));
      try {
        await eventually(
          () =>
            assert.ok(
              sentAfter(cut2).length >= 100,
              `${sentAfter(cut2).length} acked after the switch back; send errors: ${JSON.stringify(k.sendErrors.slice(-3))}`,
            ),
          40_000,
        );
        const blueEra2 = sentAfter(cut2).map((a) => a.value);
        await consumedAll(blueEra2, 30_000);
        const id2 = await clusterIdWhen(BLUE_IDS);
        assert.equal(id2.clusterId, CLUSTER_ID);
        assert.deepEqual(
          k.crashes.filter((c) => !c.restart),
          [],
          'no consumer crash kafkajs did not restart from',
        );
        assert.deepEqual(k.sendErrors, [], 'no send failed after the switch back');
        const onBlue = await valuesOn(blue, topic);
        assert.deepEqual(
          blueEra2.filter((v) => !onBlue.has(v)),
          [],
          'records sent after the switch back are on blue',
        );
      } finally {
        report(cut2, Infinity, 'at the switch back to blue');
        diagnostic(t, 'gateway', gatewaySwitchLines(log), 40);
        const distinct = new Set(k.consumed.map((c) => c.value)).size;
        t.diagnostic(
          `acked ${k.acked.length}, consumed ${k.consumed.length} (${distinct} distinct), ${k.sendErrors.length} send errors; ${greenEra.length} sent on green, ${sentAfter(cut2).length} acked after the switch back`,
        );
      }
    } finally {
      await k.stop();
    }
  });

  test('5. identity: one Java Admin process sees the same cluster id before and after, the new node ids on gateway ports; no leader epochs', {
    timeout: 120_000,
  }, async (t) => {
    const { gw, target } = await gateway();
    const topic = topics.identity;
    const a = await startSwitchoverClient('java admin', target, 'admin', []);
    const pid = a.pid;
    const bootstrapPort = Number(target.bootstrap.split(':')[1]);
    type Described = { clusterId: string; controller: number; nodes: { id: number; host: string; port: number }[] };
    const describe = async (): Promise<Described> => {
      const n = having(a.events(), 'describe').length + having(a.events(), 'commandError').length;
      a.send('describe');
      const e = await a.waitFor(
        'a describeCluster answer',
        (ev) => [...having(ev, 'describe'), ...having(ev, 'commandError')].length > n && ev.filter((x) => x.describe || x.commandError).at(-1),
        40_000,
      );
      assert.equal(e.commandError, undefined, JSON.stringify(e));
      return e.describe as Described;
    };
    await a.waitFor('admin started', (ev) => ev.some((e) => e.started), 30_000);
    const d1 = await describe();
    t.diagnostic(`describeCluster on blue: ${JSON.stringify(d1)}`);
    assert.equal(d1.clusterId, CLUSTER_ID);
    assert.deepEqual(
      d1.nodes.map((n) => n.id),
      BLUE_IDS,
    );
    // Port of broker n: the route's broker ports start right after the bootstrap port, slot n mod 16.
    assert.deepEqual(
      d1.nodes.map((n) => [n.host, n.port]),
      BLUE_IDS.map((id) => ['127.0.0.1', bootstrapPort + 1 + (id % 16)]),
    );
    const r1 = await rawIdentity(target.bootstrap, topic, SASL_ALICE);
    const direct = await rawIdentity(`${green.brokers[0].host}:${green.brokers[0].plaintextPort}`, topic, { protocol: 'PLAINTEXT' });

    const s1 = await switchTo(gw, 'green');
    let d2 = d1;
    await eventually(
      async () => {
        d2 = await describe();
        assert.deepEqual(
          d2.nodes.map((n) => n.id).sort((x, y) => x - y),
          GREEN_IDS,
        );
      },
      30_000,
      1_000,
    );
    t.diagnostic(`describeCluster on green (${Date.now() - s1.doneAt} ms after the switch): ${JSON.stringify(d2)}`);
    assert.equal(d2.clusterId, CLUSTER_ID, 'the same cluster id after the switch');
    assert.ok(GREEN_IDS.includes(d2.controller), `controller ${d2.controller} is a green node id`);
    assert.deepEqual(
      d2.nodes.map((n) => [n.id, n.host, n.port]).sort((x, y) => (x[0] as number) - (y[0] as number)),
      GREEN_IDS.map((id) => [id, '127.0.0.1', bootstrapPort + 1 + (id % 16)]),
    );
    const r2 = await rawIdentity(target.bootstrap, topic, SASL_ALICE);
    t.diagnostic(
      `raw Metadata v12 / DescribeTopicPartitions v0 through the gateway: blue ${JSON.stringify(r1)}; green ${JSON.stringify(r2)}; green directly (epochs not hidden): ${JSON.stringify(direct.metadataEpochs)}`,
    );
    for (const r of [r1, r2]) {
      assert.equal(r.clusterId, CLUSTER_ID);
      assert.deepEqual([r.metadataErrors, r.describeErrors], [[], []]);
      assert.deepEqual(r.metadataEpochs, Array(PARTITIONS).fill(-1), 'Metadata: no leader epochs');
      assert.deepEqual(r.describeEpochs, Array(PARTITIONS).fill(-1), 'DescribeTopicPartitions: no leader epochs');
    }
    assert.deepEqual(
      r1.brokers.map((b) => b.nodeId),
      BLUE_IDS,
    );
    assert.deepEqual(
      r2.brokers.map((b) => b.nodeId),
      GREEN_IDS,
    );
    assert.ok(
      direct.metadataEpochs.every((e) => e >= 0),
      'green itself does report epochs (the gateway hides them)',
    );
    assert.ok(r2.metadataLeaders.every((l) => GREEN_IDS.includes(l)));

    // And back: the same process sees blue's single broker again, still under the route's id.
    await switchTo(gw, 'blue');
    let d3 = d2;
    await eventually(
      async () => {
        d3 = await describe();
        assert.deepEqual(
          d3.nodes.map((n) => n.id),
          BLUE_IDS,
        );
      },
      30_000,
      1_000,
    );
    const r3 = await rawIdentity(target.bootstrap, topic, SASL_ALICE);
    t.diagnostic(`describeCluster back on blue: ${JSON.stringify(d3)}; raw: ${JSON.stringify(r3)}`);
    assert.equal(d3.clusterId, CLUSTER_ID);
    assert.deepEqual(
      [r3.clusterId, r3.brokers.map((b) => b.nodeId), r3.metadataEpochs, r3.describeEpochs],
      [CLUSTER_ID, BLUE_IDS, Array(PARTITIONS).fill(-1), Array(PARTITIONS).fill(-1)],
    );

    assert.ok(a.isRunning(), 'the admin process is still running');
    assert.equal(a.pid, pid);
    const exit = await a.stop();
    diagnostic(t, 'java admin log', warningLines(a.stderr));
    assert.deepEqual(exit, { code: 0, signal: null }, a.stderr.slice(-3000));
  });
});
