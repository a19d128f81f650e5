// `turnout validate` names every problem of a file in one run: a bad value in an optional setting
// of a route or domain does not hide that item's other problems (references, port clashes).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { problemsOf } from './support.ts';

const DOC = `streamingDomains:
  - name: blue
    kafkaCluster:
      name: blue
      bootstrapServers:
        - id: plain
          endpoint: "kafka-1:9092"
routes:
  - name: r1
    endpoint: "127.0.0.1:19092"
    streamingDomain: { name: blue, bootstrapServerId: plain }
  - name: r2
    endpoint: "127.0.0.1:19092"
    streamingDomain: { name: blue, bootstrapServerId: nope }
    replication: { type: mm3 }
    authentication: { type: kerberos }
`;

test('a route with a bad optional setting still gets its reference and port clash checked', () => {
  const problems = problemsOf(DOC);
  const paths = problems.map((p) => p.path);
  assert.ok(paths.includes('routes[1].replication.type'), paths.join('\n'));
  assert.ok(paths.includes('routes[1].authentication.type'), paths.join('\n'));
  assert.ok(paths.includes('routes[1].streamingDomain.bootstrapServerId'), paths.join('\n'));
  assert.ok(paths.includes('routes[1].endpoint'), paths.join('\n'));
  assert.equal(problems.find((p) => p.path === 'routes[1].streamingDomain.bootstrapServerId')!.line, 14);
  // The dropped settings are reported once, not again by the cross checks.
  assert.equal(paths.filter((p) => p.startsWith('routes[1].authentication')).length, 1, paths.join('\n'));
});

test('a required key that is wrong still hides only its own item', () => {
  const problems = problemsOf(
    DOC.replace(
      'endpoint: "127.0.0.1:19092"\n    streamingDomain: { name: blue, bootstrapServerId: nope }',
      'endpoint: "127.0.0.1:notaport"\n    streamingDomain: { name: blue, bootstrapServerId: nope }',
    ),
  );
  const paths = problems.map((p) => p.path);
  assert.ok(paths.includes('routes[1].endpoint'), paths.join('\n'));
  assert.ok(paths.includes('routes[1].replication.type'), paths.join('\n'));
});
