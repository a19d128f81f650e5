// The YAML text as a value plus a way back from a path in that value to line:column in the text.
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLError } from 'yaml';
import type { ConfigProblem, PathSegment } from './problems.ts';

export interface Position {
  line: number;
  column: number;
}

export interface YamlSource {
  /** The document as plain values (null for an empty document). */
  value: unknown;
  /** Where `path` is written: the key of a mapping entry, the start of a list item; the nearest written ancestor otherwise. */
  locate(path: readonly PathSegment[]): Position | undefined;
}

export function readYaml(text: string): { source: YamlSource } | { problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  // prettyErrors off: pretty messages quote the offending source line, which may hold a password.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) return { problems: syntaxProblems(text, doc.errors, position) };
  let value: unknown;
  try {
    value = doc.contents === null ? null : doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases, alias bombs: YAML that parses but cannot become values.
    return { problems: [{ path: '', message: `not valid YAML: ${(err as Error).message}` }] };
  }
  return { source: { value, locate: (path) => locate(doc, path, position) } };
}

const MAX_SYNTAX_PROBLEMS = 5;

/**
 * One problem per line with errors, the first few lines only: after the first syntax error the
 * parser's further complaints are mostly echoes of it.
 */
function syntaxProblems(text: string, errors: readonly YAMLError[], position: (offset: number) => Position): ConfigProblem[] {
  const lines = text.split(/\r?\n/);
  const out: ConfigProblem[] = [];
  for (const e of errors) {
    const at = position(e.pos[0]);
    if (out.some((p) => p.line === at.line)) continue;
    if (out.length === MAX_SYNTAX_PROBLEMS) break;
    const line = lines[at.line - 1] ?? '';
    const hint =
      /\$\{/.test(line) && /[{[]/.test(line.replace(/\$\{[^}]*\}/g, ''))
        ? 'inside { } or [ ], quote values that use ${...} (for example "${PORT}"): braces are YAML syntax there'
        : undefined;
    out.push({ path: '', message: `not valid YAML: ${redact(e.message)}`, ...(hint ? { hint } : {}), ...at });
  }
  return out;
}

/** Some parser messages quote the offending source, which may be a password: keep only the kind of fault. */
function redact(message: string): string {
  return message
    .replace(/ token in YAML stream: .*$/s, ' token')
    .replace(/^Not a YAML token: .*$/s, 'Not a YAML token')
    .replace(/^(Block scalar header includes extra characters): .*$/s, '$1');
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function locate(doc: Document, path: readonly PathSegment[], position: (offset: number) => Position): Position | undefined {
  let node: unknown = doc.contents;
  let at: Node | null = doc.contents;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (pair === undefined) break;
      at = (pair.key as Node | null) ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      at = (node as Node | null) ?? at;
    } else break;
  }
  return at?.range ? position(at.range[0]) : undefined;
}
