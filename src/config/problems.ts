// What the config loader reports instead of throwing: every problem found, each with where it is
// (a path in the document and, when the YAML source is known, line:column) and what to do.
import { TurnoutError } from '../errors.ts';

export interface ConfigProblem {
  /** Where in the document, e.g. `routes[0].streamingDomain.name`; empty for the whole document. */
  path: string;
  message: string;
  /** What to change; printed after "Fix:". */
  hint?: string;
  line?: number;
  column?: number;
}

export type PathSegment = string | number;

/** `['routes', 0, 'streamingDomain', 'name']` → `routes[0].streamingDomain.name`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** One line per problem: `gateway.yaml:14:7 routes[0].endpoint: message. Fix: hint` */
export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = p.line === undefined ? file : `${file}:${p.line}:${p.column ?? 1}`;
      const what = p.path === '' ? `${where}: ${p.message}` : `${where} ${p.path}: ${p.message}`;
      if (p.hint === undefined) return what;
      return `${what}. Fix: ${p.hint}${/[.!?]$/.test(p.hint) ? '' : '.'}`;
    })
    .join('\n');
}

export const ConfigErrorCode = {
  /** The file was read but is not a valid gateway config. */
  Invalid: 'TURNOUT_CONFIG_INVALID',
  /** The file could not be read at all (missing, a directory, no permission). */
  Unreadable: 'TURNOUT_CONFIG_UNREADABLE',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

export class ConfigError extends TurnoutError {
  declare readonly code: ConfigErrorCode;
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(code: ConfigErrorCode, file: string, problems: readonly ConfigProblem[]) {
    super(code, formatProblems(file, problems));
    this.file = file;
    this.problems = problems;
  }
}

/** The known word closest to `word`, if it is close enough to be a likely typo and no other is as close. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  let tie = false;
  for (const candidate of new Set(known)) {
    const d = candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance) tie = true;
  }
  const allowed = Math.max(1, Math.floor(Math.min(word.length, best?.length ?? 0) / 3));
  return bestDistance <= allowed && !tie ? best : undefined;
}

/** Levenshtein distance where swapping two neighbours counts as one edit (a common typo). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1];
}

/** A problem before it is located in the YAML source. */
export interface PathProblem {
  path: PathSegment[];
  message: string;
  hint?: string;
}
