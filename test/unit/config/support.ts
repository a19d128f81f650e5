// Helpers for the config tests: parse a YAML text and get its config or its problems.
import assert from 'node:assert/strict';
import { type ConfigProblem, type Env, type GatewayConfig, parseConfig } from '../../../src/config/index.ts';

export function configOf(yaml: string, env: Env = {}): GatewayConfig {
  const r = parseConfig(yaml, { env });
  if ('problems' in r) assert.fail(`expected a valid config, got:\n${r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`).join('\n')}`);
  return r.config;
}

export function problemsOf(yaml: string, env: Env = {}): ConfigProblem[] {
  const r = parseConfig(yaml, { env });
  if ('config' in r) assert.fail('expected problems, but the config is valid');
  return r.problems;
}

/** The one problem at `path`; fails listing all problems if there is not exactly one. */
export function problemAt(problems: ConfigProblem[], path: string): ConfigProblem {
  const at = problems.filter((p) => p.path === path);
  assert.equal(at.length, 1, `expected one problem at ${path}, got:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`);
  return at[0];
}

/** A small valid document: two PLAINTEXT domains (line numbers below are relied on by tests). */
export const MINIMAL = `streamingDomains:
  - name: kafka1-domain
    kafkaCluster:
      name: kafka-cluster-1
      bootstrapServers:
        - id: plain
          endpoint: "kafka-1:9092"
  - name: kafka2-domain
    kafkaCluster:
      name: kafka-cluster-2
      bootstrapServers:
        - id: plain
          endpoint: "kafka-2:9092"
        - id: sasl
          endpoint: "kafka-2:9093"
          security: { protocol: SASL_PLAINTEXT }
routes:
  - name: route-1
    endpoint: "localhost:19092"
    streamingDomain:
      name: kafka1-domain
      bootstrapServerId: plain
`;
