// How the CLI reaches a running gateway's admin API: --admin URL, or the admin listener and
// token of a config file (-c), or http://127.0.0.1:9190; the token from --token or
// TURNOUT_ADMIN_TOKEN. Errors say which address was tried and what to change.
import { formatHostPort, loadConfigOrThrow } from '../config/index.ts';
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
    const config = loadConfigOrThrow(opts.config, env);
    if (url === undefined) {
      if (config.admin === null) throw new TurnoutError('TURNOUT_NO_ADMIN', `${opts.config} disables the admin listener (gateway.admin); give --admin URL`);
      const host = config.admin.host === '0.0.0.0' || config.admin.host === '::' ? '127.0.0.1' : config.admin.host;
      url = `http://${formatHostPort({ host, port: config.admin.port })}`;
    }
    token ??= config.adminToken?.reveal();
  }
  url ??= env.TURNOUT_ADMIN_URL ?? 'http://127.0.0.1:9190';
  if (!/^https?:\/\//.test(url)) url = `http://${url}`;
  return { url: url.replace(/\/+$/, ''), token };
}

export async function adminRequest<T>(target: AdminTarget, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 120_000): Promise<{ status: number; body: T }> {
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
    const why = cause?.code === 'ECONNREFUSED' ? 'connection refused (is the gateway running, and is this its admin address?)' : (cause?.message ?? (err as Error).message);
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
