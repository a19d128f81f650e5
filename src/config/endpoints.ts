// host:port parsing for every address in the config (route endpoints, broker listeners, the admin
// listener), and the address overlap rule the port clash check uses. Pure functions.
import { BlockList, isIP, isIPv6 } from 'node:net';
import type { HostPort } from './types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; hint: string };

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const EXAMPLE = 'write it as host:port, e.g. "kafka-1:9092" or "[::1]:9092"';

function fail(message: string, hint = EXAMPLE): { ok: false; message: string; hint: string } {
  return { ok: false, message, hint };
}

/** A host name or IP address (IPv6 with or without brackets); returns it without brackets. */
export function parseHost(text: string): Parsed<string> {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (host === '') return fail('the host is empty', 'give a host name or an IP address');
  if (text.startsWith('[') && !isIPv6(host)) return fail(`"${text}" is not an IPv6 address`, 'only IPv6 addresses go in [brackets]');
  if (isIP(host) !== 0 || HOST_NAME.test(host)) return { ok: true, value: host };
  return fail(`"${text}" is not a valid host name or IP address`, 'use letters, digits, "-" and "." only, or an IP address');
}

/** "host:port", "[v6]:port". Port 0 (pick a free port) only where `allowPortZero` says so. */
export function parseHostPort(input: string, opts: { allowPortZero?: boolean } = {}): Parsed<HostPort> {
  const text = input.trim();
  if (text === '') return fail('the address is empty');
  let hostText: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail(`"${text}" has an unclosed "["`);
    hostText = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest === '') return fail(`"${text}" has no port`);
    if (!rest.startsWith(':')) return fail(`"${text}" has text after "]" that is not ":port"`);
    portText = rest.slice(1);
  } else {
    const colons = text.split(':').length - 1;
    if (colons === 0) return fail(`"${text}" has no port`);
    if (colons > 1) return fail(`"${text}" looks like an IPv6 address without brackets`, 'write IPv6 addresses in brackets, e.g. "[::1]:9092"');
    const colon = text.indexOf(':');
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (hostText === '' || hostText === '[]') return fail(`"${text}" has no host`);
  const host = parseHost(hostText);
  if (!host.ok) return host;
  if (portText === '') return fail(`"${text}" has no port`);
  if (!/^\d+$/.test(portText)) return fail(`port "${portText}" of "${text}" is not a number`);
  const port = Number(portText);
  const min = opts.allowPortZero ? 0 : 1;
  if (port < min || port > 65535) {
    return fail(`port ${portText} of "${text}" is out of range`, `use a port from ${min} to 65535${min === 0 ? ' (0 picks a free port)' : ''}`);
  }
  return { ok: true, value: { host: host.value, port } };
}

/** "h1:9092,h2:9092" → one HostPort each; every entry must be valid. */
export function parseHostPortList(input: string): Parsed<HostPort[]> {
  const parts = input.split(',').map((p) => p.trim());
  if (parts.length > 1 && parts.some((p) => p === '')) {
    return fail(`"${input}" has an empty entry`, 'separate host:port entries with single commas, e.g. "kafka-1:9092,kafka-2:9092"');
  }
  const out: HostPort[] = [];
  for (const part of parts) {
    const r = parseHostPort(part);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return { ok: true, value: out };
}

/** IPv6 addresses in brackets, so that a port can follow. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function formatHostPort(hp: HostPort): string {
  return `${formatHost(hp.host)}:${hp.port}`;
}

/** Addresses that mean "every interface". */
export function isWildcardAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * Could two listeners bound to these addresses collide on the same port? Only two distinct
 * specific IP addresses are known not to; wildcards and host names (resolved at bind time)
 * may.
 */
export function addressesMayOverlap(a: string, b: string): boolean {
  if (isWildcardAddress(a) || isWildcardAddress(b)) return true;
  const fa = isIP(a);
  const fb = isIP(b);
  if (fa === 0 || fb === 0) return true;
  if (fa !== fb) return false;
  const list = new BlockList();
  list.addAddress(a, fa === 4 ? 'ipv4' : 'ipv6');
  return list.check(b, fb === 4 ? 'ipv4' : 'ipv6');
}
