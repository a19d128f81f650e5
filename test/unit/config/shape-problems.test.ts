// Problems with the document's shape: not YAML, not a mapping, empty; unknown keys (with a
// did-you-mean); missing or mistyped values; unsupported options; bad addresses. Every problem
// found is reported, located, in file order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblems } from '../../../src/config/index.ts';
import { MINIMAL, problemAt, problemsOf } from './support.ts';

test('text that is not YAML is reported with line and column', () => {
  const problems = problemsOf('streamingDomains:\n  - name: a\n routes: [1\n');
  assert.ok(problems.length >= 1);
  assert.equal(problems[0].path, '');
  assert.match(problems[0].message, /^not valid YAML: /);
  assert.equal(typeof problems[0].line, 'number');
  assert.equal(typeof problems[0].column, 'number');
  assert.match(formatProblems('g.yaml', problems), /^g\.yaml:\d+:\d+: not valid YAML: /);
});

test('an unquoted ${VAR} inside a flow mapping is a YAML error with a hint to quote it', () => {
  const p = problemsOf('gateway: { shutdownTimeoutMs: ${T} }\n')[0];
  assert.match(p.message, /not valid YAML/);
  assert.match(p.hint ?? '', /quote values that use \$\{\.\.\.\}/);
});

test('an empty file or one with only comments is reported as empty', () => {
  for (const text of ['', '\n\n', '# nothing yet\n', '---\n']) {
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /the config is empty/);
  }
});

test('a document that is a list or a single value is reported as not a mapping', () => {
  assert.match(problemsOf('- a\n- b\n')[0].message, /must be a mapping .* but it is a list/);
  assert.match(problemsOf('just text\n')[0].message, /must be a mapping .* but it is a single string value/);
});

test('an unknown key is reported at the key with a did-you-mean when one is close', () => {
  const problems = problemsOf(
    MINIMAL.replace('bootstrapServerId: plain', 'bootstrapServerID: plain').replace('routes:', 'gateway:\n  shutdownTimeout: 5\nroutes:'),
  );
  const typo = problemAt(problems, 'routes[0].streamingDomain.bootstrapServerID');
  assert.equal(typo.message, 'unknown key "bootstrapServerID"');
  assert.equal(typo.hint, 'did you mean "bootstrapServerId"?');
  assert.deepEqual([typo.line, typo.column], [24, 7]);
  assert.equal(problemAt(problems, 'gateway.shutdownTimeout').hint, 'did you mean "shutdownTimeoutMs"?');
  // The missing required key is reported too.
  assert.equal(problemAt(problems, 'routes[0].streamingDomain.bootstrapServerId').message, 'is required');
});

test('an unknown key with no close match lists the keys allowed there', () => {
  const p = problemAt(problemsOf(`gateway:\n  colour: blue\n${MINIMAL}`), 'gateway.colour');
  assert.match(p.hint ?? '', /remove it; the keys allowed here are admin, log, limits, shutdownTimeoutMs/);
  assert.deepEqual([p.line, p.column], [2, 3]);
});

test('top-level typos are caught as well', () => {
  const problems = problemsOf(MINIMAL.replace('routes:', 'route:'));
  assert.equal(problemAt(problems, 'route').hint, 'did you mean "routes"?');
  assert.equal(problemAt(problems, 'routes').message, 'is required');
});

test('a missing required value is reported at the item that lacks it', () => {
  const p = problemAt(problemsOf(MINIMAL.replace('    endpoint: "localhost:19092"\n', '')), 'routes[0].endpoint');
  assert.equal(p.message, 'is required');
  assert.match(p.hint ?? '', /add endpoint/);
  assert.deepEqual([p.line, p.column], [18, 5]);
});

test('values of the wrong type say what was expected and what was found', () => {
  const problems = problemsOf(
    MINIMAL.replace('name: route-1', 'name: [route-1]')
      .replace('name: kafka-cluster-1', 'name: 17')
      .replace(/streamingDomain:\n {6}name: kafka1-domain\n {6}bootstrapServerId: plain/, 'streamingDomain: kafka1-domain'),
  );
  assert.match(problemAt(problems, 'routes[0].name').message, /must be a route name, not a list/);
  assert.match(problemAt(problems, 'streamingDomains[0].kafkaCluster.name').message, /must be a cluster name, not a number/);
  assert.match(problemAt(problems, 'streamingDomains[0].kafkaCluster.name').hint ?? '', /quotes/);
  assert.match(problemAt(problems, 'routes[0].streamingDomain').message, /must be a mapping \(key: value\), not a string/);
});

test('SSL listeners and SASL mechanisms other than PLAIN are "not supported yet"', () => {
  for (const protocol of ['SSL', 'SASL_SSL']) {
    const p = problemAt(
      problemsOf(MINIMAL.replace('protocol: SASL_PLAINTEXT', `protocol: ${protocol}`)),
      'streamingDomains[1].kafkaCluster.bootstrapServers[1].security.protocol',
    );
    assert.equal(p.message, `security protocol ${protocol} is not supported yet`);
  }
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER']) {
    const p = problemAt(
      problemsOf(MINIMAL.replace('{ protocol: SASL_PLAINTEXT }', `{ protocol: SASL_PLAINTEXT, sasl: { mechanism: ${mechanism}, username: u, password: p } }`)),
      'streamingDomains[1].kafkaCluster.bootstrapServers[1].security.sasl.mechanism',
    );
    assert.equal(p.message, `SASL mechanism ${mechanism} is not supported yet`);
  }
  const other = problemAt(
    problemsOf(MINIMAL.replace('protocol: SASL_PLAINTEXT', 'protocol: sasl_plaintext')),
    'streamingDomains[1].kafkaCluster.bootstrapServers[1].security.protocol',
  );
  assert.equal(other.hint, 'did you mean "SASL_PLAINTEXT"? (known: PLAINTEXT, SASL_PLAINTEXT)');
});

test('bad endpoints: no port, port out of range, empty host, IPv6 without brackets, empty list entry', () => {
  const cases: [string, RegExp][] = [
    ['kafka-1', /"kafka-1" has no port/],
    ['kafka-1:', /"kafka-1:" has no port/],
    [':9092', /has no host/],
    ['kafka-1:0', /port 0 of "kafka-1:0" is out of range/],
    ['kafka-1:65536', /port 65536 .* is out of range/],
    ['kafka-1:http', /port "http" .* is not a number/],
    ['::1:9092', /IPv6 address without brackets/],
    ['[kafka-1]:9092', /is not an IPv6 address/],
    ['kafka 1:9092', /not a valid host name/],
    ['kafka-1:9092,,kafka-2:9092', /has an empty entry/],
    ['kafka-1:9092,kafka-2', /"kafka-2" has no port/],
  ];
  for (const [endpoint, message] of cases) {
    const p = problemAt(
      problemsOf(MINIMAL.replace('"kafka-1:9092"', JSON.stringify(endpoint))),
      'streamingDomains[0].kafkaCluster.bootstrapServers[0].endpoint',
    );
    assert.match(p.message, message, endpoint);
    assert.deepEqual([p.line, p.column], [7, 11]);
  }
  assert.match(problemAt(problemsOf(MINIMAL.replace('localhost:19092', '[::1]:99999')), 'routes[0].endpoint').message, /out of range/);
  assert.match(problemAt(problemsOf(`gateway:\n  admin: { listen: "127.0.0.1" }\n${MINIMAL}`), 'gateway.admin.listen').message, /has no port/);
});

test('limits outside their ranges are problems that say the range', () => {
  const problems = problemsOf(`gateway:
  log: { level: verbose }
  limits: { maxFrameBytes: 512, maxBufferedBytesPerConnection: 1000, upstreamConnectTimeoutMs: 1.5 }
  shutdownTimeoutMs: -1
${MINIMAL}`);
  assert.match(problemAt(problems, 'gateway.log.level').message, /unknown log level "verbose"/);
  assert.match(problemAt(problems, 'gateway.limits.maxFrameBytes').message, /from 1024 to 1073741824, not 512/);
  assert.match(problemAt(problems, 'gateway.limits.maxBufferedBytesPerConnection').message, /from 65536 /);
  assert.match(problemAt(problems, 'gateway.limits.upstreamConnectTimeoutMs').message, /not a whole number/);
  assert.match(problemAt(problems, 'gateway.shutdownTimeoutMs').message, /from 0 to/);
});

test('names must be usable in URLs and logs', () => {
  const p = problemAt(problemsOf(MINIMAL.replace('name: route-1', 'name: "my route"')), 'routes[0].name');
  assert.match(p.message, /"my route" is not a valid route name/);
});

test('every problem in the document is reported, in file order', () => {
  const problems = problemsOf(`gateway:
  admin: { listen: "localhost" }
  limits: { maxFrameBytes: 1 }
streamingDomains:
  - name: d
    type: pulsar
    kafkaCluster:
      name: c
      bootstrapServers:
        - id: l
          endpoint: "k:9092"
          security: { protocol: SSL }
routes:
  - name: r
    endpoint: "k"
    streamingDomain: { name: e, bootstrapServerId: l }
  - endpoint: "k:1"
    streamingDomain: { name: d, bootstrapServerId: l }
`);
  assert.deepEqual(
    problems.map((p) => `${p.line} ${p.path}`),
    [
      '2 gateway.admin.listen',
      '3 gateway.limits.maxFrameBytes',
      '6 streamingDomains[0].type',
      '12 streamingDomains[0].kafkaCluster.bootstrapServers[0].security.protocol',
      '15 routes[0].endpoint',
      '17 routes[1].name',
    ],
  );
});

test('formatted problems are one line each: file:line:column path: message. Fix: hint.', () => {
  const text = formatProblems('gw.yaml', [
    { path: 'routes[0].endpoint', message: 'is required', hint: 'add endpoint', line: 3, column: 5 },
    { path: '', message: 'cannot read the config file (no such file)' },
    { path: 'routes', message: 'needs at least one route', line: 9, column: 1, hint: 'add one.' },
  ]);
  assert.equal(
    text,
    [
      'gw.yaml:3:5 routes[0].endpoint: is required. Fix: add endpoint.',
      'gw.yaml: cannot read the config file (no such file)',
      'gw.yaml:9:1 routes: needs at least one route. Fix: add one.',
    ].join('\n'),
  );
});
