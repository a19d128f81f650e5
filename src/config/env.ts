// ${VAR} substitution over the parsed YAML values (never the raw text, so an environment value
// is always one string and cannot inject YAML structure). Supported forms:
//   ${VAR}           the variable; a problem if it is not set
//   ${VAR:-default}  the default when VAR is unset or empty (as in the shell)
//   $${              a literal "${"
import type { PathSegment } from './problems.ts';

export type Env = Record<string, string | undefined>;

export interface EnvProblem {
  path: PathSegment[];
  message: string;
  hint: string;
}

export interface Substituted {
  value: unknown;
  problems: EnvProblem[];
  /** Paths of strings that could not be substituted; later problems at or under them are noise. */
  failedPaths: PathSegment[][];
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

export function substituteEnv(value: unknown, env: Env): Substituted {
  const out: Substituted = { value: undefined, problems: [], failedPaths: [] };
  out.value = walk(value, [], env, out);
  return out;
}

function walk(value: unknown, path: PathSegment[], env: Env, out: Substituted): unknown {
  if (typeof value === 'string') return substituteString(value, path, env, out);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i], env, out));
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) copy[k] = walk(v, [...path, k], env, out);
    return copy;
  }
  return value;
}

function substituteString(s: string, path: PathSegment[], env: Env, out: Substituted): string {
  if (!s.includes('${')) return s;
  let result = '';
  let failed = false;
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      result += '${';
      i += 3;
      continue;
    }
    if (!s.startsWith('${', i)) {
      result += s[i++];
      continue;
    }
    const end = s.indexOf('}', i + 2);
    // The reference text itself is never quoted in a message: it may hold a default password.
    if (end < 0) {
      out.problems.push({ path, message: 'has a "${" without a closing "}"', hint: 'close the reference as ${NAME}, or write "$${" for a literal "${"' });
      failed = true;
      break;
    }
    const m = REFERENCE.exec(s.slice(i + 2, end));
    if (m === null) {
      out.problems.push({
        path,
        message: 'has a malformed ${...} reference',
        hint: 'write ${NAME} or ${NAME:-default}, where NAME is letters, digits and "_", or "$${" for a literal "${"',
      });
      failed = true;
    } else {
      const [, name, fallback] = m;
      const v = env[name];
      if (v !== undefined && !(fallback !== undefined && v === '')) result += v;
      else if (fallback !== undefined) result += fallback;
      else {
        out.problems.push({ path, message: `environment variable ${name} is not set`, hint: `set ${name}, or give a default with \${${name}:-value}` });
        failed = true;
      }
    }
    i = end + 1;
  }
  if (failed) out.failedPaths.push(path);
  return result;
}
