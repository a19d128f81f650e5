// Loaded into every test process by scripts/test.ts (`--import`): a test that passes without
// having run a single assertion fails. Such a test cannot catch anything (an early return, a
// loop over an empty list, a check in a callback that never ran), so it must not count as a pass.
//
// How: every function of node:assert and node:assert/strict counts a call against the test it runs
// in, found through an AsyncLocalStorage that each test body is wrapped in (so tests running
// concurrently in one file count apart). A test that started subtests is judged by them; one that
// called t.skip() or t.todo() is left alone. Hooks (before, after) count for no test.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire, syncBuiltinESMExports } from 'node:module';

interface Counted {
  assertions: number;
  subtests: number;
  skipped: boolean;
  readonly parent: Counted | undefined;
}

type Fn = (...args: unknown[]) => unknown;

const require = createRequire(import.meta.url);
const current = new AsyncLocalStorage<Counted>();
export const NO_ASSERTION_MESSAGE = 'this test ran no assertion (scripts/assertion-guard.ts): a check that cannot fail proves nothing';

function countCalls(target: Record<string, unknown>): void {
  for (const key of Object.keys(target)) {
    const original = target[key];
    // AssertionError and CallTracker are classes, `strict` is the other module (patched on its own).
    if (typeof original !== 'function' || key === 'AssertionError' || key === 'CallTracker' || key === 'strict' || key === 'Assert') continue;
    target[key] = function counted(this: unknown, ...args: unknown[]) {
      const c = current.getStore();
      if (c !== undefined) c.assertions++;
      return (original as Fn).apply(this, args);
    };
  }
}

const assertModule = require('node:assert') as Record<string, unknown> & { strict: Record<string, unknown> };
countCalls(assertModule);
countCalls(assertModule.strict);

interface Context {
  skip(message?: string): void;
  todo(message?: string): void;
  test(...args: unknown[]): unknown;
}

let contextPatched = false;
/** TestContext is not exported: its prototype is patched the first time a test body runs. */
function patchContext(t: Context): void {
  if (contextPatched) return;
  contextPatched = true;
  const proto = Object.getPrototypeOf(t) as Context;
  const { skip, todo, test } = proto;
  proto.skip = function (this: Context, message?: string) {
    const c = current.getStore();
    if (c !== undefined) c.skipped = true;
    return skip.call(this, message);
  };
  proto.todo = function (this: Context, message?: string) {
    const c = current.getStore();
    if (c !== undefined) c.skipped = true;
    return todo.call(this, message);
  };
  proto.test = function (this: Context, ...args: unknown[]) {
    return test.apply(this, wrapArgs(args));
  };
}

/** The test body, run in a counting context of its own; fails it when it asserted nothing. */
function guarded(fn: Fn): Fn {
  const body = async function (this: unknown, ...args: unknown[]) {
    const [t, ...rest] = args as [Context, ...unknown[]];
    const parent = current.getStore();
    if (parent !== undefined) parent.subtests++;
    const c: Counted = { assertions: 0, subtests: 0, skipped: false, parent };
    patchContext(t);
    await current.run(c, () => fn.call(this, t, ...rest));
    if (c.assertions === 0 && c.subtests === 0 && !c.skipped) throw new Error(NO_ASSERTION_MESSAGE);
  };
  // node:test passes a `done` callback to bodies that declare two parameters; none of ours does,
  // and a guarded callback-style body would never end: leave those as they are.
  return fn.length >= 2 ? fn : body;
}

function wrapArgs(args: unknown[]): unknown[] {
  const i = args.findLastIndex((a) => typeof a === 'function');
  if (i < 0) return args;
  const out = [...args];
  out[i] = guarded(args[i] as Fn);
  return out;
}

function wrapTestFunction(original: Fn & Record<string, unknown>): Fn {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    return original.apply(this, wrapArgs(args));
  } as Fn & Record<string, unknown>;
  for (const key of Object.keys(original)) {
    const v = original[key];
    // test.skip / test.todo bodies do not run; test.only does.
    wrapped[key] = typeof v === 'function' ? function (this: unknown, ...args: unknown[]) {
      return (v as Fn).apply(this, key === 'only' ? wrapArgs(args) : args);
    } : v;
  }
  return wrapped;
}

const testModule = require('node:test') as Record<string, unknown> & Fn;
for (const name of ['test', 'it'] as const) {
  testModule[name] = wrapTestFunction(testModule[name] as Fn & Record<string, unknown>);
}
syncBuiltinESMExports();
