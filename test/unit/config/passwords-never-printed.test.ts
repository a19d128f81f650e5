// A password from the config never shows in anything Turnout prints: problems (whatever is wrong
// around it, including YAML syntax errors on its line), the loaded config as JSON or through
// util.inspect, ConfigError, or `turnout validate`.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { runValidate } from '../../../src/cli/validate.ts';
import { ConfigError, ConfigErrorCode, type ConfigProblem, formatProblems, loadConfigOrThrow, parseConfig } from '../../../src/config/index.ts';
import { configOf, MINIMAL } from './support.ts';

const PASSWORD = 'Pa55-w0rd-0f-kafka';
const withSasl = (sasl: string) => MINIMAL.replace('{ protocol: SASL_PLAINTEXT }', `{ protocol: SASL_PLAINTEXT, sasl: ${sasl} }`);

function allText(problems: ConfigProblem[]): string {
  return formatProblems('gateway.yaml', problems) + JSON.stringify(problems) + inspect(problems, { depth: 20 });
}

test('the loaded config holds the password as a Secret that prints as ***', () => {
  const config = configOf(withSasl(`{ mechanism: PLAIN, username: kafka, password: "${PASSWORD}" }`));
  const server = config.streamingDomains[1].kafkaCluster.bootstrapServers[1];
  assert.ok(server.security.protocol === 'SASL_PLAINTEXT' && server.security.sasl !== null);
  assert.equal(server.security.sasl.password.reveal(), PASSWORD);
  for (const text of [JSON.stringify(config), inspect(config, { depth: 50 }), String(server.security.sasl.password), `${server.security.sasl.password}`]) {
    assert.ok(!text.includes(PASSWORD), text);
  }
});

test('a password from an environment variable or a ${VAR:-default} is a Secret too', () => {
  const fromEnv = configOf(withSasl('{ mechanism: PLAIN, username: kafka, password: "${KAFKA_PASSWORD}" }'), { KAFKA_PASSWORD: PASSWORD });
  const fromDefault = configOf(withSasl(`{ mechanism: PLAIN, username: kafka, password: "\${KAFKA_PASSWORD:-${PASSWORD}}" }`));
  for (const config of [fromEnv, fromDefault]) assert.ok(!inspect(config, { depth: 50 }).includes(PASSWORD));
});

test('problems next to, about or caused by a password never quote it', () => {
  const documents = [
    // the password itself is wrong in some way
    withSasl(`{ mechanism: SCRAM-SHA-512, username: kafka, password: "${PASSWORD}" }`),
    withSasl(`{ mechanism: PLAIN, username: 17, password: "${PASSWORD}", pasword: "${PASSWORD}" }`),
    withSasl(`{ mechanism: PLAIN, username: kafka, password: ["${PASSWORD}"] }`),
    withSasl(`{ mechanism: PLAIN, username: kafka, password: "\${MISSING}${PASSWORD}" }`),
    withSasl(`{ mechanism: PLAIN, username: kafka, password: "\${BROKEN${PASSWORD}" }`),
    withSasl(`{ mechanism: PLAIN, username: kafka, password: "\${1X:-${PASSWORD}}" }`),
    // a password on a PLAINTEXT listener
    MINIMAL.replace('{ protocol: SASL_PLAINTEXT }', `{ protocol: PLAINTEXT, sasl: { mechanism: PLAIN, username: u, password: "${PASSWORD}" } }`),
    // YAML syntax errors on the password's line
    withSasl(`{ mechanism: PLAIN, username: kafka, password: "${PASSWORD} }`),
    withSasl(`{ mechanism: PLAIN, username: kafka, password: ${PASSWORD} ] }`),
    withSasl(`{ mechanism: PLAIN, username: kafka, password: ${PASSWORD}: x }`),
    `streamingDomains:\n  - password: ${PASSWORD}\n   ${PASSWORD}: [\n`,
    `password: "${PASSWORD}"\npassword: "${PASSWORD}"\n`,
    `a: |x ${PASSWORD}\n  b\n`,
    `${PASSWORD}\n  - ${PASSWORD}\n`,
  ];
  for (const doc of documents) {
    const r = parseConfig(doc, { env: {} });
    assert.ok('problems' in r, doc);
    assert.ok(!allText(r.problems).includes(PASSWORD), allText(r.problems));
  }
});

test('ConfigError and `turnout validate` never print the password', () => {
  const dir = mkdtempSync(join(tmpdir(), 'turnout-config-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, withSasl(`{ mechanism: OAUTHBEARER, username: kafka, password: "${PASSWORD}" }`));
  let out = '';
  const code = runValidate({ config: file }, { stdout: (t) => (out += t), stderr: (t) => (out += t), env: {} });
  assert.equal(code, 1);
  assert.match(out, /not supported yet/);
  assert.ok(!out.includes(PASSWORD), out);

  const err = (() => {
    try {
      loadConfigOrThrow(file, {});
    } catch (e) {
      return e;
    }
    assert.fail('expected a ConfigError');
  })();
  assert.ok(err instanceof ConfigError);
  assert.equal(err.code, ConfigErrorCode.Invalid);
  assert.equal(err.code, 'TURNOUT_CONFIG_INVALID');
  assert.ok(!`${err.message}${err.stack}${inspect(err, { depth: 20 })}`.includes(PASSWORD));

  writeFileSync(file, withSasl(`{ mechanism: PLAIN, username: kafka, password: "${PASSWORD}" }`));
  out = '';
  assert.equal(runValidate({ config: file }, { stdout: (t) => (out += t), stderr: (t) => (out += t), env: {} }), 0);
  assert.match(out, /PLAIN as kafka/);
  assert.ok(!out.includes(PASSWORD), out);
});
