// Checks between values: route references, duplicate names, port clashes, client authentication
// against the upstream listener. Each names the path and line of the value to change.

import assert from 'node:assert/strict';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { test } from 'node:test';
import { formatProblems, virtualClusterId } from '../../../src/config/index.ts';
import { configOf, MINIMAL, problemAt, problemsOf } from './support.ts';

/** MINIMAL with a second route appended (lines 23 and on). */
const withRoute = (route: string) => MINIMAL + route;

test('a route naming an unknown streaming domain is reported at its name, listing the known ones', () => {
  const problems = problemsOf(MINIMAL.replace('name: kafka1-domain\n      bootstrapServerId', 'name: kafka3-domain\n      bootstrapServerId'));
  assert.equal(
    formatProblems('gateway.yaml', problems),
    'gateway.yaml:21:7 routes[0].streamingDomain.name: unknown streaming domain "kafka3-domain" (known: kafka1-domain, kafka2-domain). Fix: use one of the names under streamingDomains.',
  );
});

test('a near miss of a streaming domain name gets a did-you-mean', () => {
  const p = problemAt(
    problemsOf(MINIMAL.replace('name: kafka1-domain\n      bootstrapServerId', 'name: kafka1-domian\n      bootstrapServerId')),
    'routes[0].streamingDomain.name',
  );
  assert.match(p.hint ?? '', /did you mean "kafka1-domain"/);
});

test("a bootstrap server id the domain does not have is reported at bootstrapServerId, listing the domain's ids", () => {
  const p = problemAt(problemsOf(MINIMAL.replace('bootstrapServerId: plain', 'bootstrapServerId: sasl')), 'routes[0].streamingDomain.bootstrapServerId');
  assert.equal(p.message, 'streaming domain "kafka1-domain" has no bootstrap server "sasl" (known: plain)');
  assert.match(p.hint ?? '', /streamingDomains\[0\]\.kafkaCluster\.bootstrapServers/);
  assert.deepEqual([p.line, p.column], [22, 7]);
});

test('passthrough authentication on a PLAINTEXT upstream listener is a problem', () => {
  const p = problemAt(problemsOf(`${MINIMAL}    authentication: { type: passthrough }\n`), 'routes[0].authentication.type');
  assert.match(p.message, /passthrough relays the client's SASL exchange; the upstream listener "plain" must use SASL_PLAINTEXT/);
  assert.deepEqual([p.line, p.column], [23, 23]);
});

test('authentication none on a SASL upstream listener is a problem (gateway-terminated authentication is not supported yet)', () => {
  const p = problemAt(
    problemsOf(
      withRoute(`  - name: route-2
    endpoint: "localhost:29092"
    streamingDomain: { name: kafka2-domain, bootstrapServerId: sasl }
    authentication:
      type: none
`),
    ),
    'routes[1].authentication.type',
  );
  assert.match(p.message, /gateway-terminated authentication is not supported yet/);
  assert.match(p.hint ?? '', /use passthrough/);
  assert.deepEqual([p.line, p.column], [27, 7]);
});

test('SASL credentials on a PLAINTEXT listener are a problem', () => {
  const p = problemAt(
    problemsOf(
      MINIMAL.replace(
        'endpoint: "kafka-1:9092"',
        'endpoint: "kafka-1:9092"\n          security: { protocol: PLAINTEXT, sasl: { mechanism: PLAIN, username: u, password: p } }',
      ),
    ),
    'streamingDomains[0].kafkaCluster.bootstrapServers[0].security.sasl',
  );
  assert.match(p.message, /PLAINTEXT listener/);
});

test('duplicate streaming domain names, route names and bootstrap server ids are each reported at the later one', () => {
  const problems = problemsOf(`${MINIMAL.replace('name: kafka2-domain', 'name: kafka1-domain').replace('- id: sasl', '- id: plain')}  - name: route-1
    endpoint: "localhost:29092"
    streamingDomain: { name: kafka1-domain, bootstrapServerId: plain }
`);
  assert.match(
    problemAt(problems, 'streamingDomains[1].name').message,
    /duplicate streaming domain name "kafka1-domain" \(also at streamingDomains\[0\]\.name\)/,
  );
  assert.match(problemAt(problems, 'streamingDomains[1].kafkaCluster.bootstrapServers[1].id').message, /duplicate bootstrap server id "plain"/);
  assert.equal(problemAt(problems, 'routes[1].name').line, 23);
  assert.equal(problems.length, 3);
});

test('empty streamingDomains, routes and bootstrapServers lists are problems', () => {
  const problems = problemsOf('streamingDomains: []\nroutes:\n');
  assert.match(problemAt(problems, 'streamingDomains').message, /needs at least one streaming domain/);
  assert.match(problemAt(problems, 'routes').message, /needs at least one route/);
  const p = problemAt(
    problemsOf(MINIMAL.replace(/bootstrapServers:\n {8}- id: plain\n {10}endpoint: "kafka-1:9092"/, 'bootstrapServers: []')),
    'streamingDomains[0].kafkaCluster.bootstrapServers',
  );
  assert.match(p.message, /needs at least one bootstrap server/);
});

test('two routes on the same endpoint port clash', () => {
  const p = problemAt(
    problemsOf(
      withRoute(`  - name: route-2
    endpoint: "other-host:19092"
    brokerPorts: { base: 29093 }
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
`),
    ),
    'routes[1].endpoint',
  );
  assert.equal(p.message, 'listens on 0.0.0.0:19092, which clashes with routes[0].endpoint on 0.0.0.0:19092 (port 19092)');
  assert.equal(p.line, 24);
});

test("a route endpoint inside another route's (default) broker port range clashes, and the hint explains the default", () => {
  const p = problemAt(
    problemsOf(
      withRoute(`  - name: route-2
    endpoint: "localhost:19100"
    brokerPorts: { base: 29093 }
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
`),
    ),
    'routes[1].endpoint',
  );
  assert.match(p.message, /clashes with routes\[0\]\.brokerPorts on 0\.0\.0\.0:19093-19108 \(port 19100\)/);
  assert.match(p.hint ?? '', /default to the 16 ports after the endpoint port/);
});

test('overlapping broker port ranges clash', () => {
  const p = problemAt(
    problemsOf(
      withRoute(`  - name: route-2
    endpoint: "localhost:29092"
    brokerPorts: { base: 19100, count: 4 }
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
`),
    ),
    'routes[1].brokerPorts',
  );
  assert.match(p.message, /19100-19103, which clashes with routes\[0\]\.brokerPorts on 0\.0\.0\.0:19093-19108 \(ports 19100-19103\)/);
  assert.equal(p.line, 25);
});

test("a route's endpoint inside its own broker port range clashes", () => {
  const p = problemAt(problemsOf(`${MINIMAL}    brokerPorts: { base: 19090, count: 4 }\n`), 'routes[0].brokerPorts');
  assert.match(p.message, /clashes with routes\[0\]\.endpoint/);
});

test('a route on the admin port clashes with the admin listener, written or default', () => {
  const byDefault = problemAt(problemsOf(MINIMAL.replace('localhost:19092', 'localhost:9190')), 'routes[0].endpoint');
  assert.match(byDefault.message, /clashes with gateway\.admin\.listen on 127\.0\.0\.1:9190/);
  assert.match(byDefault.hint ?? '', /gateway\.admin\.listen/);
  const written = problemAt(problemsOf(`gateway:\n  admin: { listen: "0.0.0.0:19095" }\n${MINIMAL}`), 'routes[0].brokerPorts');
  assert.match(written.message, /clashes with gateway\.admin\.listen on 0\.0\.0\.0:19095 \(port 19095\)/);
});

test('listeners on distinct specific IP addresses may share a port; a wildcard or host name on either side clashes', () => {
  const twoRoutes = (
    bind1: string,
    bind2: string,
  ) => `${MINIMAL.replace('    endpoint: "localhost:19092"\n', `    endpoint: "localhost:19092"\n    bindAddress: "${bind1}"\n`)}  - name: route-2
    endpoint: "localhost:19092"
    bindAddress: "${bind2}"
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
`;
  assert.equal(configOf(twoRoutes('127.0.0.1', '127.0.0.2')).routes.length, 2);
  assert.equal(configOf(twoRoutes('::1', '127.0.0.1')).routes.length, 2);
  for (const [a, b] of [
    ['0.0.0.0', '127.0.0.2'],
    ['127.0.0.1', '::'],
    ['127.0.0.1', '127.0.0.1'],
    ['localhost', '127.0.0.1'],
    ['::1', '0:0:0:0:0:0:0:1'],
  ]) {
    const problems = problemsOf(twoRoutes(a, b));
    assert.ok(
      problems.some((p) => p.path === 'routes[1].endpoint' && /clashes/.test(p.message)),
      `${a} vs ${b}`,
    );
  }
});

test('an admin listener on port 0 (a free port) never clashes', () => {
  assert.deepEqual(configOf(`gateway:\n  admin: { listen: "0.0.0.0:0" }\n${MINIMAL}`).admin, { host: '0.0.0.0', port: 0 });
});

test('broker ports running past 65535 are a problem, also when they are the default after the endpoint port', () => {
  const written = problemAt(problemsOf(`${MINIMAL}    brokerPorts: { base: 65530, count: 8 }\n`), 'routes[0].brokerPorts');
  assert.match(written.message, /65530-65537 go past 65535/);
  assert.equal(written.line, 23);
  const byDefault = problemAt(problemsOf(MINIMAL.replace('localhost:19092', 'localhost:65530')), 'routes[0].brokerPorts');
  assert.match(byDefault.message, /65531-65546 go past 65535 \(by default they follow the endpoint port 65530\)/);
  assert.equal(byDefault.line, 18, 'not written: reported at the route');
});

test('a route endpoint on a wildcard address is a problem: clients cannot connect to it', () => {
  const p = problemAt(problemsOf(MINIMAL.replace('localhost:19092', '0.0.0.0:19092')), 'routes[0].endpoint');
  assert.match(p.message, /clients cannot connect to 0\.0\.0\.0/);
  assert.match(p.hint ?? '', /bindAddress/);
});

test('cross checks still run for valid items when other items have problems', () => {
  const problems = problemsOf(`${MINIMAL.replace('bootstrapServerId: plain', 'bootstrapServerId: nope')}  - name: route-2
    endpoint: "localhost"
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
    colour: blue
  - name: route-3
    endpoint: "localhost:39092"
    streamingDomain: { name: kafka2-domain, bootstrapServerId: sasl }
    authentication: { type: none }
    colour: blue
`);
  assert.deepEqual(
    problems.map((p) => p.path),
    ['routes[0].streamingDomain.bootstrapServerId', 'routes[1].endpoint', 'routes[1].colour', 'routes[2].authentication.type', 'routes[2].colour'],
  );
});

test('a duplicate route name says where the first one is and what to do', () => {
  const p = problemAt(
    problemsOf(
      withRoute(`  - name: route-1
    endpoint: "localhost:29092"
    streamingDomain: { name: kafka1-domain, bootstrapServerId: plain }
`),
    ),
    'routes[1].name',
  );
  assert.equal(p.message, 'duplicate route name "route-1" (also at routes[0].name)');
  assert.equal(p.hint, 'give each one its own route name');
});

test('a clash between listeners placed in the config gets the general hint; a default place gets its own', () => {
  const general = 'give every listener (route endpoints, broker port ranges, the admin listener) its own ports, or bind them to different IP addresses';
  const endpoints = problemAt(
    problemsOf(
      withRoute(`  - name: route-2
    endpoint: "other-host:19092"
    brokerPorts: { base: 29093 }
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
`),
    ),
    'routes[1].endpoint',
  );
  assert.equal(endpoints.hint, general);
  const writtenPorts = problemAt(
    problemsOf(
      withRoute(`  - name: route-2
    endpoint: "localhost:29092"
    brokerPorts: { base: 19092, count: 1 }
    streamingDomain: { name: kafka2-domain, bootstrapServerId: plain }
`),
    ),
    'routes[1].brokerPorts',
  );
  assert.equal(writtenPorts.message, 'listens on 0.0.0.0:19092, which clashes with routes[0].endpoint on 0.0.0.0:19092 (port 19092)');
  assert.equal(writtenPorts.hint, general);
  const writtenAdmin = problemAt(problemsOf(`gateway:\n  admin: { listen: "0.0.0.0:19092" }\n${MINIMAL}`), 'routes[0].endpoint');
  assert.equal(writtenAdmin.hint, general);
  const defaultAdmin = problemAt(problemsOf(MINIMAL.replace('localhost:19092', 'localhost:9190')), 'routes[0].endpoint');
  assert.equal(defaultAdmin.hint, 'move the route, or move the admin listener (by default on 127.0.0.1:9190) with gateway.admin.listen');
});

test('broker ports may end at port 65535 exactly; past it, the problem says whether the range was written or followed the endpoint', () => {
  assert.deepEqual(configOf(`${MINIMAL}    brokerPorts: { base: 65520, count: 16 }\n`).routes[0].brokerPorts, { base: 65520, count: 16 });
  const written = problemAt(problemsOf(`${MINIMAL}    brokerPorts: { base: 65530, count: 8 }\n`), 'routes[0].brokerPorts');
  assert.equal(written.message, 'broker ports 65530-65537 go past 65535');
  assert.equal(written.hint, 'lower brokerPorts.base or brokerPorts.count');
  const byDefault = problemAt(problemsOf(MINIMAL.replace('localhost:19092', 'localhost:65530')), 'routes[0].brokerPorts');
  assert.equal(byDefault.message, 'broker ports 65531-65546 go past 65535 (by default they follow the endpoint port 65530)');
});

test('an unknown streaming domain lists only the names that are written as names, or none', () => {
  const none = problemAt(problemsOf(`streamingDomains: []\n${MINIMAL.slice(MINIMAL.indexOf('routes:'))}`), 'routes[0].streamingDomain.name');
  assert.equal(none.message, 'unknown streaming domain "kafka1-domain" (known: none)');
  const numbered = problemsOf(
    MINIMAL.replace('name: kafka2-domain', 'name: 42').replace('name: kafka1-domain\n      bootstrapServerId', 'name: kafka3-domain\n      bootstrapServerId'),
  );
  assert.equal(problemAt(numbered, 'routes[0].streamingDomain.name').message, 'unknown streaming domain "kafka3-domain" (known: kafka1-domain)');
});

test("an unknown bootstrap server id lists the domain's ids, with a did-you-mean for a near miss", () => {
  const route2 = (id: string) =>
    withRoute(`  - name: route-2
    endpoint: "localhost:29092"
    streamingDomain: { name: kafka2-domain, bootstrapServerId: ${id} }
`);
  const far = problemAt(problemsOf(route2('tls')), 'routes[1].streamingDomain.bootstrapServerId');
  assert.equal(far.message, 'streaming domain "kafka2-domain" has no bootstrap server "tls" (known: plain, sasl)');
  assert.equal(far.hint, 'use one of the ids under streamingDomains[1].kafkaCluster.bootstrapServers');
  assert.equal(problemAt(problemsOf(route2('plan')), 'routes[1].streamingDomain.bootstrapServerId').hint, 'did you mean "plain"?');
});

test('authentication and SASL problems say how to fix them', () => {
  const passthrough = problemAt(problemsOf(`${MINIMAL}    authentication: { type: passthrough }\n`), 'routes[0].authentication.type');
  assert.equal(passthrough.hint, 'use authentication type none for a PLAINTEXT listener, or point the route at a SASL_PLAINTEXT listener');
  const sasl = problemAt(
    problemsOf(
      MINIMAL.replace(
        'endpoint: "kafka-1:9092"',
        'endpoint: "kafka-1:9092"\n          security: { protocol: PLAINTEXT, sasl: { mechanism: PLAIN, username: u, password: p } }',
      ),
    ),
    'streamingDomains[0].kafkaCluster.bootstrapServers[0].security.sasl',
  );
  assert.equal(sasl.message, 'SASL credentials are set on a PLAINTEXT listener');
  assert.equal(sasl.hint, 'set protocol: SASL_PLAINTEXT if the listener uses SASL, or remove sasl');
});

test("a route's cluster id is derived from its name alone, the same in every version", () => {
  assert.equal(virtualClusterId('route-1'), 'QgrzF6yvjbLaZVCiOrTGag');
  assert.equal(configOf(MINIMAL).routes[0].clusterId, 'QgrzF6yvjbLaZVCiOrTGag');
});

test('the default instance id is the host name (other characters replaced) and the admin port, or the process id without one', (t) => {
  t.mock.method(os, 'hostname', () => 'gw 1.example_x-y:z');
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
  assert.equal(configOf(MINIMAL).instanceId, 'gw-1.example_x-y-z-9190');
  assert.equal(configOf(`gateway:\n  admin: { listen: "127.0.0.1:0" }\n${MINIMAL}`).instanceId, `gw-1.example_x-y-z-${process.pid}`);
  assert.equal(configOf(`gateway:\n  admin: null\n${MINIMAL}`).instanceId, `gw-1.example_x-y-z-${process.pid}`);
  assert.equal(configOf(`gateway:\n  instanceId: gw-0\n${MINIMAL}`).instanceId, 'gw-0');
});
