// host:port parsing and the rule deciding whether two bind addresses can collide on a port.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressesMayOverlap, formatHostPort, parseHostPort, parseHostPortList } from '../../../src/config/endpoints.ts';

const ok = (text: string, opts?: { allowPortZero?: boolean }) => {
  const r = parseHostPort(text, opts);
  assert.ok(r.ok, `${text}: ${r.ok ? '' : r.message}`);
  return r.value;
};

test('host:port parses host names, IPv4 and bracketed IPv6, trimming spaces', () => {
  assert.deepEqual(ok('kafka-1:9092'), { host: 'kafka-1', port: 9092 });
  assert.deepEqual(ok(' 10.0.0.1:1 '), { host: '10.0.0.1', port: 1 });
  assert.deepEqual(ok('[::1]:65535'), { host: '::1', port: 65535 });
  assert.deepEqual(ok('host.docker.internal:19092'), { host: 'host.docker.internal', port: 19092 });
});

test('port 0 is accepted only where a free port may be picked', () => {
  assert.equal(parseHostPort('127.0.0.1:0').ok, false);
  assert.deepEqual(ok('127.0.0.1:0', { allowPortZero: true }), { host: '127.0.0.1', port: 0 });
});

test('addresses are formatted back with IPv6 in brackets', () => {
  for (const text of ['kafka-1:9092', '[::1]:9092', '10.0.0.1:80']) assert.equal(formatHostPort(ok(text)), text);
});

test('a comma-separated list gives every entry, in order', () => {
  const r = parseHostPortList('a:1, b:2 ,[::1]:3');
  assert.ok(r.ok);
  assert.deepEqual(r.value, [
    { host: 'a', port: 1 },
    { host: 'b', port: 2 },
    { host: '::1', port: 3 },
  ]);
  assert.equal(parseHostPortList('a:1,').ok, false);
});

test('bind addresses collide unless both are distinct specific IP addresses', () => {
  assert.equal(addressesMayOverlap('127.0.0.1', '127.0.0.2'), false);
  assert.equal(addressesMayOverlap('::1', '127.0.0.1'), false);
  assert.equal(addressesMayOverlap('127.0.0.1', '127.0.0.1'), true);
  assert.equal(addressesMayOverlap('::1', '0:0::1'), true);
  assert.equal(addressesMayOverlap('0.0.0.0', '127.0.0.1'), true);
  assert.equal(addressesMayOverlap('::', '127.0.0.1'), true);
  assert.equal(addressesMayOverlap('localhost', '127.0.0.2'), true);
});
