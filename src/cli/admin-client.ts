// How the CLI reaches a running gateway's admin API: --admin URL, or the admin listener and
// token of a config file (-c), or http://127.0.0.1:9190; the token from --token or
// TURNOUT_ADMIN_TOKEN. Errors say which address was tried and what to change.
import { type AdminSettings, ConfigError, ConfigErrorCode, formatHostPort, loadAdminSettings } from '../config/index.ts';
import { TurnoutError } from '../errors.ts';

export interface AdminTarget {
  url: string;
  token: string | undefined;
}

export interface AdminOptions {
  admin?: string;
  config?: string;
  token?: string;
}

export function adminTarget(opts: AdminOptions, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  let url = opts.admin;
  let token = opts.token ?? env.TURNOUT_ADMIN_TOKEN;
  if (opts.config !== undefined) {
    // Only gateway.admin is read: the clusters' passwords need not be set where the CLI runs.
    const config = adminSettings(opts.config, env);
    if (url === undefined) {
      if (config.admin === null) throw new TurnoutError('TURNOUT_NO_ADMIN', `${opts.config} disables the admin listener (gateway.admin); give --admin URL`);
      const host = config.admin.host === '0.0.0.0' || config.admin.host === '::' ? '127.0.0.1' : config.admin.host;
      url = `http://${formatHostPort({ host, port: config.admin.port })}`;
    }
    token ??= config.token ?? undefined;
  }
  url ??= env.TURNOUT_ADMIN_URL ?? 'http://127.0.0.1:9190';
  if (!/^https?:\/\//.test(url)) url = `http://${url}`;
  return { url: url.replace(/\/+$/, ''), token };
}

export function adminSettings(file: string, env: NodeJS.ProcessEnv = process.env): AdminSettings {
  const r = loadAdminSettings(file, env);
  if ('problems' in r) throw new ConfigError(r.unreadable ? ConfigErrorCode.Unreadable : ConfigErrorCode.Invalid, file, r.problems);
  return r.settings;
}

/** The names of the routes a gateway serves: from -c's file, else from the admin API; [] if neither answers. */
export async function configuredRoutes(
  opts: AdminOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ routes: string[]; from: string } | { error: string }> {
  try {
    if (opts.config !== undefined) return { routes: adminSettings(opts.config, env).routes, from: opts.config };
    const target = adminTarget(opts, env);
    const r = await adminRequest<{ routes: { name: string }[] }>(target, 'GET', '/routes', undefined, 10_000);
    return { routes: r.body.routes.map((x) => x.name), from: target.url };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export async function adminRequest<T>(
  target: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(target.token !== undefined ? { authorization: `Bearer ${target.token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      cause?.code === 'ECONNREFUSED'
        ? 'connection refused (is the gateway running, and is this its admin address?)'
        : (cause?.message ?? (err as Error).message);
    throw new TurnoutError('TURNOUT_ADMIN_UNREACHABLE', `cannot reach the gateway admin API at ${target.url}: ${why}. Give --admin URL or -c CONFIG`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TurnoutError('TURNOUT_ADMIN_BAD_ANSWER', `${target.url}${path} answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body: parsed as T };
}

/** What to print when a route-taking command got no route: the argument it needs, and the routes there are. */
export async function missingRouteMessage(command: string, opts: AdminOptions): Promise<string> {
  const known = await configuredRoutes(opts);
  const list =
    'error' in known
      ? `(could not list the configured routes: ${known.error})`
      : known.routes.length === 0
        ? `(no routes configured in ${known.from})`
        : `configured routes (${known.from}): ${known.routes.join(', ')}`;
  return `turnout ${command}: missing the route argument: turnout ${command} ROUTE --to DOMAIN\n${list}\n`;
}
