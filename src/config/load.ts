// The config edge: YAML text → ${VAR} substitution → shape checks → defaults and cross checks →
// GatewayConfig, or every problem found on the way, each located in the file.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { type Env, substituteEnv } from './env.ts';
import { DEFAULTS, normalize } from './normalize.ts';
import { ConfigError, ConfigErrorCode, type ConfigProblem, formatPath, type PathProblem, type PathSegment } from './problems.ts';
import { adminSection, document, gatewaySection, type IssueParams, route, streamingDomain } from './schema.ts';
import { readYaml, type YamlSource } from './source.ts';
import type { GatewayConfig, HostPort } from './types.ts';

export type ParseResult = { config: GatewayConfig } | { problems: ConfigProblem[] };
export type LoadResult =
  /** `text`: the file as read, so that other processes can parse exactly what was checked (src/cluster). */
  { config: GatewayConfig; text: string } | { problems: ConfigProblem[] /** The file could not be read at all. */; unreadable?: true };

export interface ParseOptions {
  /** Where the text came from. Problems do not repeat it: `formatProblems` takes the file name. */
  file?: string;
  /** Variables for ${VAR} substitution; process.env when omitted. */
  env?: Env;
}

const EXAMPLE_HINT = 'see examples/gateway.yaml for a complete config';

export function parseConfig(text: string, opts: ParseOptions = {}): ParseResult {
  const read = readYaml(text);
  if ('problems' in read) return read;
  const { source } = read;
  const raw = source.value;
  if (raw === null || raw === undefined) {
    return { problems: [{ path: '', message: 'the config is empty', hint: `give at least streamingDomains and routes; ${EXAMPLE_HINT}` }] };
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const what = Array.isArray(raw) ? 'a list' : `a single ${typeof raw} value`;
    return {
      problems: locateAll(source, [
        { path: [], message: `the config must be a mapping with gateway, streamingDomains and routes, but it is ${what}`, hint: EXAMPLE_HINT },
      ]),
    };
  }

  const env = substituteEnv(raw, opts.env ?? process.env);
  const value = env.value as Record<string, unknown>;
  const problems: PathProblem[] = [];
  /** Keys dropped for the cross checks: their own problem is reported, nothing more about them. */
  const dropped: PathSegment[][] = [];
  const check = <T>(schema: z.ZodType<T>, v: unknown, prefix: PathSegment[]): { ok: true; data: T } | { ok: false } => {
    const r = schema.safeParse(v);
    if (r.success) return { ok: true, data: r.data };
    problems.push(...r.error.issues.map((i) => fromIssue(i, prefix, v)));
    // Faults in optional keys (unknown keys, bad values of optional settings) do not hide the item
    // from the cross checks, so one run names every problem: drop those keys and parse again.
    let drop = r.error.issues.map((i) => i.path);
    for (let round = 0; round < 4 && drop.every((p) => p.length > 0); round++) {
      const again = schema.safeParse(withoutKeys(v, drop));
      if (again.success) {
        if (!r.error.issues.every(isUnknownKey)) dropped.push(...drop.map((p) => [...prefix, ...p.map((s) => (typeof s === 'number' ? s : String(s)))]));
        return { ok: true, data: again.data };
      }
      // A required key was dropped: drop the (optional) setting that holds it instead.
      drop = [...drop, ...again.error.issues.map((i) => i.path.slice(0, -1))];
    }
    return { ok: false };
  };
  const parsed = <T>(r: { ok: true; data: T } | { ok: false }): T | undefined => (r.ok ? r.data : undefined);

  check(document, value, []);
  const gateway = check(gatewaySection, value.gateway, ['gateway']);
  const adminValue = value.gateway !== null && typeof value.gateway === 'object' ? (value.gateway as { admin?: unknown }).admin : undefined;
  const admin = check(adminSection, adminValue, ['gateway', 'admin']);
  const items = (key: string) => (Array.isArray(value[key]) ? (value[key] as unknown[]) : []);
  const rawName = (item: unknown) => valueAt(item, ['name']);
  const rawIds = (domain: unknown) => {
    const servers = valueAt(domain, ['kafkaCluster', 'bootstrapServers']);
    return Array.isArray(servers) ? servers.map((s) => valueAt(s, ['id'])) : [];
  };
  const normalized = normalize({
    gateway: parsed(gateway) ?? undefined,
    gatewayValid: gateway.ok,
    admin: admin.ok ? admin.data : 'invalid',
    domains: items('streamingDomains').map((d, i) => ({
      rawName: rawName(d),
      rawIds: rawIds(d),
      parsed: parsed(check(streamingDomain, d, ['streamingDomains', i])),
    })),
    routes: items('routes').map((r, i) => ({ rawName: rawName(r), parsed: parsed(check(route, r, ['routes', i])) })),
  });
  problems.push(...normalized.problems.filter((p) => !dropped.some((d) => isPrefix(d, p.path))));

  // A value whose ${VAR} could not be substituted is reported once, not again for its other faults.
  const reported = [...env.problems, ...problems.filter((p) => !env.failedPaths.some((f) => isPrefix(f, p.path)))];
  if (reported.length === 0 && normalized.config !== undefined) return { config: normalized.config };
  if (reported.length === 0) reported.push({ path: [], message: "the config could not be loaded (a bug in Turnout's config loader: no problem was named)" });
  return { problems: locateAll(source, reported) };
}

export function loadConfigFile(path: string, env: Env = process.env): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
    return {
      problems: [{ path: '', message: `cannot read the config file (${why})`, hint: 'check the path and that the file is readable' }],
      unreadable: true,
    };
  }
  const parsed = parseConfig(text, { file: path, env });
  return 'config' in parsed ? { config: parsed.config, text } : parsed;
}

/** What the CLI needs of a config file to talk to a running gateway. */
export interface AdminSettings {
  /** The admin listener; null when the file disables it. */
  admin: HostPort | null;
  token: string | null;
  /** Names of the configured routes (as written). */
  routes: string[];
}

/**
 * Reads only gateway.admin (and the route names) of a config file: ${VAR} references elsewhere,
 * such as the clusters' passwords, need not be set where the CLI runs.
 */
export function loadAdminSettings(path: string, env: Env = process.env): { settings: AdminSettings } | { problems: ConfigProblem[]; unreadable?: true } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return {
      problems: [
        {
          path: '',
          message: `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          hint: 'check the path and that the file is readable',
        },
      ],
      unreadable: true,
    };
  }
  const read = readYaml(text);
  if ('problems' in read) return read;
  const raw = read.source.value;
  const adminPath: PathSegment[] = ['gateway', 'admin'];
  const sub = substituteEnv(valueAt(raw, adminPath), env);
  const problems: PathProblem[] = sub.problems.map((p) => ({ ...p, path: [...adminPath, ...p.path] }));
  const parsed = adminSection.safeParse(sub.value);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => fromIssue(i, adminPath, sub.value)));
  if (problems.length > 0 || !parsed.success) return { problems: locateAll(read.source, problems) };
  const a = parsed.data;
  const routes = valueAt(raw, ['routes']);
  return {
    settings: {
      admin: a === null || a?.enabled === false ? null : (a?.listen ?? { ...DEFAULTS.admin }),
      token: a?.token ?? null,
      routes: Array.isArray(routes) ? routes.map((r) => valueAt(r, ['name'])).filter((n): n is string => typeof n === 'string') : [],
    },
  };
}

/** For callers that just want a config or an error: throws ConfigError listing every problem. */
export function loadConfigOrThrow(path: string, env: Env = process.env): GatewayConfig {
  const r = loadConfigFile(path, env);
  if ('config' in r) return r.config;
  throw new ConfigError(r.unreadable ? ConfigErrorCode.Unreadable : ConfigErrorCode.Invalid, path, r.problems);
}

const MISSING_HINTS: Record<string, string> = {
  streamingDomains: 'add streamingDomains: one entry per Kafka cluster, each with a name and a kafkaCluster',
  routes: 'add routes: each with a name, the endpoint clients use, and the streamingDomain it points at',
  kafkaCluster: "add kafkaCluster with the cluster's name and its bootstrapServers",
  bootstrapServers: "add bootstrapServers: the cluster's listeners, each with an id and an endpoint",
  streamingDomain: 'add streamingDomain with the name of a streaming domain and the bootstrapServerId of one of its listeners',
  endpoint: 'add endpoint: "host:port"',
  protocol: 'add protocol: PLAINTEXT or SASL_PLAINTEXT',
};

function fromIssue(issue: z.core.$ZodIssue, prefix: PathSegment[], input: unknown): PathProblem {
  const rel = issue.path.map((s) => (typeof s === 'number' ? s : String(s)));
  const path = [...prefix, ...rel];
  const key = String(path[path.length - 1] ?? '');
  const missingHint = MISSING_HINTS[key] ?? `add ${key}`;
  if (issue.code === 'custom') {
    const params = (issue.params ?? {}) as IssueParams;
    return { path, message: issue.message, hint: params.hint ?? (params.missing ? missingHint : undefined) };
  }
  if (issue.code === 'invalid_type' && valueAt(input, rel) === undefined) return { path, message: 'is required', hint: missingHint };
  return { path, message: issue.message };
}

function isUnknownKey(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && (issue.params as IssueParams | undefined)?.unknownKey === true;
}

/** A copy of `v` without the entries at `paths`. */
function withoutKeys(v: unknown, paths: readonly (readonly PropertyKey[])[]): unknown {
  const copy = structuredClone(v);
  for (const path of paths) {
    const parent = valueAt(
      copy,
      path.slice(0, -1).map((s) => (typeof s === 'number' ? s : String(s))),
    );
    if (parent !== null && typeof parent === 'object') delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]];
  }
  return copy;
}

function valueAt(v: unknown, path: PathSegment[]): unknown {
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function isPrefix(prefix: PathSegment[], path: PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => String(s) === String(path[i]));
}

/** Located, deduplicated, in file order (problems without a position last). */
function locateAll(source: YamlSource, problems: PathProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const p of problems) {
    const path = formatPath(p.path);
    const id = `${path}\u0000${p.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const pos = source.locate(p.path);
    out.push({ path, message: p.message, ...(p.hint === undefined ? {} : { hint: p.hint }), ...(pos ? { line: pos.line, column: pos.column } : {}) });
  }
  return out
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}
