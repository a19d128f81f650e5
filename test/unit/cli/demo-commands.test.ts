// The commands `turnout demo` prints: Kafka's tools through `./turnout kafka` (no kafka-*.sh
// scripts, which a machine with only Java, Maven and Node does not have), with the flags the
// Kafka version expects, then preflight, switch, status and back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoCommands, formatDemoCommand } from '../../../src/cli/demo-commands.ts';
import { KAFKA_TOOLS, toolByName } from '../../../src/cli/kafka.ts';

const input = {
  bootstrap: '127.0.0.1:19092',
  adminUrl: 'http://127.0.0.1:19090',
  token: 't',
  clientConfig: '/tmp/run dir/client.properties',
  route: 'demo',
  from: 'blue',
  to: 'green',
};

test('Kafka 4.x: --bootstrap-server and --command-config for every tool, nothing deprecated, no .sh scripts', () => {
  const lines = demoCommands({ ...input, kafkaVersion: '4.3.1' }).map(formatDemoCommand);
  for (const l of lines) {
    assert.ok(l.startsWith('./turnout '), l);
    assert.doesNotMatch(l, /\.sh\b|--broker-list|--producer\.config|--consumer\.config|--bootstrap-servers?\s.*--bootstrap/, l);
    if (l.startsWith('./turnout kafka ')) assert.match(l, /--bootstrap-server 127\.0\.0\.1:19092 --command-config '\/tmp\/run dir\/client\.properties'/, l);
  }
  assert.deepEqual(
    lines.map((l) => l.split(' ').slice(1, 3).join(' ')),
    [
      'kafka topics',
      'kafka topics',
      'kafka console-producer',
      'kafka console-consumer',
      'kafka consumer-groups',
      'preflight demo',
      'switch demo',
      'status --admin',
      'kafka verifiable-producer',
      'kafka transactions',
      'switch demo',
    ],
  );
  assert.match(lines[0], /--list$/, 'the all-topics listing comes before the switch');
});

test('Kafka 3.9: the client config flags that line has', () => {
  const byTool = new Map(
    demoCommands({ ...input, kafkaVersion: '3.9.2' })
      .filter((c) => c.args[0] === 'kafka')
      .map((c) => [c.args[1], c.args[4]]),
  );
  assert.equal(byTool.get('console-producer'), '--producer.config');
  assert.equal(byTool.get('console-consumer'), '--consumer.config');
  assert.equal(byTool.get('topics'), '--command-config');
});

test('turnout kafka knows the tools by their script names too', () => {
  for (const t of ['console-producer', 'console-consumer', 'topics', 'consumer-groups', 'transactions', 'verifiable-producer', 'verifiable-consumer']) {
    assert.ok(KAFKA_TOOLS.includes(t as never), t);
    assert.equal(toolByName(`kafka-${t}.sh`), t);
    assert.equal(toolByName(t), t);
  }
  assert.equal(toolByName('kafka-server-start.sh'), undefined);
});
