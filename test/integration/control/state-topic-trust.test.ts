// The switch state belongs to the gateway. Against a real broker that runs Kafka's authorizer:
// - the ACLs README's "Protecting the switch state" gives (run as printed there, with Kafka's own
//   acls tool) let a gateway whose service principal has no other rights create, read and write
//   the state topic and switch, and stop a client principal that holds rights on every topic;
// - a route record forged by someone who can still write the topic (a super user here) switches
//   a gateway without a fleet key (what any writer could do before) and is ignored, counted and
//   logged once by a gateway with one, as are records signed with another key or changed after
//   signing;
// - an instance rotating to a new key still reads what the old key signed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Secret, type StateSigningConfig, type StreamingDomainConfig } from '../../../src/config/index.ts';
import { encodeRecord, type RouteStateRecord } from '../../../src/control/records.ts';
import { StateLog, StateLogError } from '../../../src/control/state-log.ts';
import { StateSigner } from '../../../src/control/state-signing.ts';
import { silentLogger } from '../../../src/observability/log.ts';
import { type ClusterDescriptor, KafkaTool, type KafkaTools, testBed, writeSaslClientProperties } from '../../../src/testbed/index.ts';
import { domainFor, startGateway, type TestGateway } from '../../support/gateway.ts';
import { asStream, LogCapture } from '../../support/log-capture.ts';
import { eventually, metricValue, scrapeMetrics } from '../../support/raw-kafka.ts';

const STATE_TOPIC = '_turnout_state';
const KEY = 'fleet-key-0123456789-abcdefghijklmnopqrstuvwxyz';
const NEW_KEY = 'fleet-key-rotated-9876543210-zyxwvutsrqponmlkji';
const OTHER_KEY = 'someone-elses-key-0000000000-1111111111-2222222';
const ROUTE = 'orders';

const signing = (key: string | null, previous: string[] = []): StateSigningConfig => ({
  key: key === null ? null : new Secret(key),
  previousKeys: previous.map((p) => new Secret(p)),
  acceptUnsigned: false,
});

/** A domain with only the SASL listener, whose service principal is `user` (not a super user).
 *  Only that listener: the gateway writes its state over the first PLAINTEXT or credentialed
 *  listener, and the PLAINTEXT one is the test bed's super user, to whom no ACL applies. */
function domainAs(cluster: ClusterDescriptor, name: string, user: string, password: string): StreamingDomainConfig {
  const d = domainFor(cluster, name);
  return {
    ...d,
    kafkaCluster: {
      ...d.kafkaCluster,
      bootstrapServers: d.kafkaCluster.bootstrapServers
        .filter((b) => b.id === 'sasl')
        .map((b) => ({ ...b, security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: user, password: new Secret(password) } } })),
    },
  };
}

/** The kafka-acls commands of README's "Protecting the switch state", as printed there. */
function readmeAclCommands(): string[][] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('#### Protecting the switch state'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'README has a sh block under "Protecting the switch state"');
  const commands = block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('kafka-acls.sh '));
  assert.ok(commands.length >= 2, `README's block has the kafka-acls commands:\n${block}`);
  return commands.map((c) =>
    c
      .split(/\s+/)
      .slice(1)
      .map((a) => a.replace(/^'(.*)'$/, '$1')),
  );
}

function routeRecord(epoch: number, domain: string): RouteStateRecord {
  return {
    type: 'route',
    route: ROUTE,
    epoch,
    domain,
    listener: 'sasl',
    switchId: `forged-${epoch}`,
    from: 'acl-a',
    by: 'mallory',
    at: new Date().toISOString(),
  };
}

describe('the switch state topic: ACLs, and signed records', () => {
  let cluster: ClusterDescriptor;
  let tools: KafkaTools;
  let keyed: TestGateway;
  let unkeyed: TestGateway;
  let capture: LogCapture;
  const opened: StateLog[] = [];
  const stateLogAs = (user: string, password: string, topic = STATE_TOPIC, signer?: StateSigner) => {
    const d = domainAs(cluster, 'acl-a', user, password);
    const s = new StateLog({
      domain: d,
      listener: d.kafkaCluster.bootstrapServers.find((b) => b.id === 'sasl')!,
      topic,
      log: silentLogger(),
      timeoutMs: 8000,
      ...(signer ? { signer } : {}),
    });
    opened.push(s);
    return s;
  };
  const domains = () => [domainAs(cluster, 'acl-a', 'kafka', 'kafka-secret'), domainAs(cluster, 'acl-b', 'kafka', 'kafka-secret')];
  const routeOf = (g: TestGateway) => g.gateway.routes.find((r) => r.name === ROUTE)!;

  before(async () => {
    const bed = await testBed();
    cluster = await bed.cluster({
      name: 'acl-single',
      brokers: 1,
      brokerConfig: {
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        // The brokers' own PLAINTEXT listeners (inter-broker, controller) and the test's admin.
        'super.users': 'User:ANONYMOUS;User:admin',
        'allow.everyone.if.no.acl.found': 'false',
      },
    });
    tools = await bed.tools();
    const adminProps = join(mkdtempSync(join(tmpdir(), 'turnout-acl-')), 'admin.properties');
    writeSaslClientProperties(adminProps, 'admin', 'admin-secret');
    const sasl = `${cluster.brokers[0].host}:${cluster.brokers[0].saslPort}`;
    // alice is a client principal with rights on every topic, as many teams grant them.
    const setup = [
      ['--add', '--allow-principal', 'User:alice', '--operation', 'All', '--topic', '*'],
      ...readmeAclCommands().map((args) =>
        args.map((a) => a.replace('BROKER:9093', sasl).replace('admin.properties', adminProps).replace('User:turnout', 'User:kafka')),
      ),
    ];
    for (const args of setup) {
      const cmd = args.includes('--bootstrap-server') ? args : [...tools.connectionArgs(KafkaTool.Acls, sasl, adminProps), ...args];
      const r = await tools.run(KafkaTool.Acls, cmd, { timeoutMs: 60_000 });
      assert.equal(r.exitCode, 0, `kafka-acls ${cmd.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    }
    capture = new LogCapture();
    keyed = await startGateway({
      domains: domains(),
      routes: [{ name: ROUTE, domain: 'acl-a', listener: 'sasl' }],
      stateTopic: STATE_TOPIC,
      stateSigning: signing(KEY),
      instanceId: 'keyed',
      logDestination: asStream(capture),
    });
    unkeyed = await startGateway({
      domains: domains(),
      routes: [{ name: ROUTE, domain: 'acl-a', listener: 'sasl' }],
      stateTopic: STATE_TOPIC,
      instanceId: 'unkeyed',
    });
  });

  after(async () => {
    for (const s of opened) s.close();
    await Promise.all([keyed?.stop(), unkeyed?.stop()]);
    await tools?.stopAll();
  });

  test("with README's ACLs, a client principal with rights on every topic cannot write the state topic", async () => {
    await assert.rejects(stateLogAs('alice', 'alice-secret').append([encodeRecord(routeRecord(500, 'acl-b'))]), (err: Error) => {
      assert.ok(err instanceof StateLogError);
      assert.match(err.message, /TOPIC_AUTHORIZATION_FAILED/);
      return true;
    });
    // Its rights elsewhere are intact.
    const own = stateLogAs('alice', 'alice-secret', 'alice-orders');
    await own.ensureTopic();
    await own.append([{ key: 'k', value: 'v' }]);
    assert.equal(routeOf(keyed).domainName, 'acl-a');
  });

  test('a forged route record switches a gateway without a key, and a keyed one ignores it, counts it and logs it once', async () => {
    const forger = stateLogAs('admin', 'admin-secret'); // a super user: ACLs do not stop it
    await forger.append([encodeRecord(routeRecord(1000, 'acl-b'))]);
    await forger.append([encodeRecord(routeRecord(1001, 'acl-b'))]);
    await eventually(
      'the gateway without a key follows the forged record',
      () => routeOf(unkeyed).domainName === 'acl-b' && routeOf(unkeyed).epoch === 1001,
      15_000,
    );

    await forger.append([encodeRecord(routeRecord(1002, 'acl-b'))]);
    // Signed with a key the fleet does not have.
    const foreign = new StateSigner(STATE_TOPIC, signing(OTHER_KEY));
    await stateLogAs('admin', 'admin-secret', STATE_TOPIC, foreign).append([encodeRecord(routeRecord(1003, 'acl-b'))]);
    // A genuine signature (of a record the fleet could have written) on another value.
    const genuine = new StateSigner(STATE_TOPIC, signing(KEY));
    const harmless = encodeRecord(routeRecord(7, 'acl-a'));
    const mac = genuine.sign(harmless.key, Buffer.from(harmless.value))!;
    class Replayer extends StateSigner {
      override sign(): Buffer {
        return mac;
      }
    }
    await stateLogAs('admin', 'admin-secret', STATE_TOPIC, new Replayer(STATE_TOPIC, signing(OTHER_KEY))).append([encodeRecord(routeRecord(1004, 'acl-b'))]);

    const rejected = async (reason: string) =>
      metricValue(await scrapeMetrics(keyed.adminUrl), 'turnout_state_records_rejected_total', { domain: 'acl-a', reason });
    await eventually(
      'the keyed gateway counted the forged records',
      async () => (await rejected('unsigned')) >= 3 && (await rejected('unknown-key')) >= 1 && (await rejected('bad-signature')) >= 1,
      15_000,
    );
    assert.equal(routeOf(keyed).domainName, 'acl-a');
    assert.equal(routeOf(keyed).epoch, 0);
    const lines = capture.lines.filter((l) => l.includes('ignored a state record'));
    const reasons = lines.map((l) => `${JSON.parse(l).domain}/${JSON.parse(l).reason}`);
    assert.equal(new Set(reasons).size, reasons.length, `each reason is logged once per domain:\n${lines.join('\n')}`);
    assert.ok(!capture.text().includes(KEY), 'the key is never logged');
  });

  test("the keyed gateway switches with only README's ACLs, and an instance rotating keys reads what the old key signed", async () => {
    const report = await keyed.gateway.switchRoute({ route: ROUTE, to: 'acl-b', by: 'test', mode: 'hot' });
    assert.equal(report.outcome, 'switched', report.message);
    assert.equal(routeOf(keyed).domainName, 'acl-b');
    const rotating = await startGateway({
      domains: domains(),
      routes: [{ name: ROUTE, domain: 'acl-a', listener: 'sasl' }],
      stateTopic: STATE_TOPIC,
      stateSigning: signing(NEW_KEY, [KEY]),
      instanceId: 'rotating',
    });
    try {
      assert.equal(routeOf(rotating).domainName, 'acl-b', 'the state the old key signed is read at start');
      assert.equal(routeOf(rotating).epoch, report.epoch);
    } finally {
      await rotating.stop();
    }
  });
});
