// normalize() makes a GatewayConfig only from complete input: when the gateway section, the admin
// listener, a streaming domain or a route failed its shape check (and arrives as undefined or
// "invalid"), or a cross check found a problem, there is no config, whatever the caller does with
// the problems. parseConfig is one such caller; these tests hold normalize to it on its own.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type NormalizeInput, normalize } from '../../../src/config/normalize.ts';
import { route, streamingDomain } from '../../../src/config/schema.ts';

const domain = (name: string) => ({
  rawName: name,
  rawIds: ['plain'],
  parsed: streamingDomain.parse({ name, kafkaCluster: { name: `${name}-cluster`, bootstrapServers: [{ id: 'plain', endpoint: 'kafka-1:9092' }] } }),
});

const routeTo = (name: string, port: number, domainName = 'blue') => ({
  rawName: name,
  parsed: route.parse({ name, endpoint: `localhost:${port}`, streamingDomain: { name: domainName, bootstrapServerId: 'plain' } }),
});

function input(overrides: Partial<NormalizeInput> = {}): NormalizeInput {
  return {
    gateway: undefined,
    gatewayValid: true,
    admin: undefined,
    domains: [domain('blue'), domain('green')],
    routes: [routeTo('main', 19092)],
    ...overrides,
  };
}

test('complete input without problems makes a config', () => {
  const r = normalize(input());
  assert.deepEqual(r.problems, []);
  assert.deepEqual(
    r.config?.routes.map((x) => x.name),
    ['main'],
  );
  assert.deepEqual(
    r.config?.streamingDomains.map((d) => d.name),
    ['blue', 'green'],
  );
});

test('no config when the gateway section or the admin listener failed its shape check', () => {
  assert.deepEqual(normalize(input({ gatewayValid: false })), { config: undefined, problems: [] });
  assert.deepEqual(normalize(input({ admin: 'invalid' })), { config: undefined, problems: [] });
});

test('no config when any streaming domain or route failed its shape check', () => {
  const broken = { rawName: 'green', rawIds: [], parsed: undefined };
  assert.deepEqual(normalize(input({ domains: [domain('blue'), broken] })), { config: undefined, problems: [] });
  assert.deepEqual(normalize(input({ domains: [broken, domain('blue')] })), { config: undefined, problems: [] });
  assert.deepEqual(normalize(input({ routes: [routeTo('main', 19092), { rawName: 'other', parsed: undefined }] })), { config: undefined, problems: [] });
});

test('no config when a cross check finds a problem in otherwise complete input', () => {
  const r = normalize(input({ routes: [routeTo('main', 19092), routeTo('main', 29092)] }));
  assert.equal(r.config, undefined);
  assert.deepEqual(
    r.problems.map((p) => p.message),
    ['duplicate route name "main" (also at routes[0].name)'],
  );
});
