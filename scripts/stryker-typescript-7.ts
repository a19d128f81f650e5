// Lets StrykerJS type check mutants with this repository's TypeScript 7. Loaded with `--import`
// into the Stryker process (`npm run test:mutation`) and its checker processes (`checkerNodeArgs`
// in stryker.config.mjs); nothing else.
//
// The checker's TypeScript 7 mode ("experimentalNativePreview") drives tsgo through
// `@typescript/native/unstable/sync`, but Stryker still imports the JavaScript compiler API of
// TypeScript <= 6 as `typescript` to read tsconfig.json (the core, to copy it into the sandbox;
// the checker, to override options). TypeScript 7's `typescript` package has no such API (its main
// export is the version only). Rather than install a second and a third TypeScript, Stryker's
// imports are resolved here:
// - `@typescript/native/unstable/sync` -> this repository's `typescript/unstable/sync`, so the
//   mutants are checked by the very compiler `npm run typecheck` uses;
// - `typescript` -> this module, whose default export is the part of the old API those tsconfig
//   readers call (sys.readFile, parseConfigFileTextToJson, resolveProjectReferencePath).
import { readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const STRYKER = '/node_modules/@stryker-mutator/';
const PROJECT = pathToFileURL(`${process.cwd()}/package.json`).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (context.parentURL?.includes(STRYKER)) {
      if (specifier === 'typescript') return { url: import.meta.url, format: 'module-typescript', shortCircuit: true };
      if (specifier === '@typescript/native/unstable/sync') return nextResolve('typescript/unstable/sync', { ...context, parentURL: PROJECT });
    }
    return nextResolve(specifier, context);
  },
});

interface ParsedConfig {
  config?: unknown;
  error?: { messageText: string; category: 1; code: number; file: undefined; start: undefined; length: undefined };
}

/** tsconfig.json as JSON (this repository's has no comments or trailing commas). */
function parseConfigFileTextToJson(fileName: string, text: string): ParsedConfig {
  try {
    return { config: JSON.parse(text) };
  } catch (err) {
    const messageText = `${fileName}: ${err instanceof Error ? err.message : String(err)}`;
    return { error: { messageText, category: 1, code: 5083, file: undefined, start: undefined, length: undefined } };
  }
}

export default {
  sys: { readFile: (fileName: string): string | undefined => readFileSync(fileName, 'utf8') },
  parseConfigFileTextToJson,
  resolveProjectReferencePath: (ref: { path: string }): string => (ref.path.endsWith('.json') ? ref.path : join(ref.path, 'tsconfig.json')),
};
