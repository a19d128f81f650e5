// Loaded into every test process by scripts/test.ts (`--import`): a test that passes without
// having run a single assertion fails. Such a test cannot catch anything (an early return, a
// loop over an empty list, a check in a callback that never ran), so it must not count as a pass.
//
// How: every function of node:assert and node:assert/strict counts a call against the test it runs
// in, found through an AsyncLocalStorage that each test body runs in (so tests running
// concurrently in one file count apart). A test that started subtests is judged by them; one that
// called t.skip() or t.todo() is left alone. Hooks (before, after) count for no test.
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
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
// Named imports (`import { equal } from 'node:assert/strict'`) see the counting functions too.
syncBuiltinESMExports();

interface Context {
  skip(message?: string): void;
  todo(message?: string): void;
}

let contextPatched = false;
/** TestContext is not exported: its prototype is patched the first time a test body runs. */
function patchContext(t: Context): void {
  if (contextPatched) return;
  contextPatched = true;
  const proto = Object.getPrototypeOf(t) as Context;
  const { skip, todo } = proto;
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
}

/** The test body, run in a counting context of its own; fails the test when it asserted nothing. */
function guarded(fn: Fn): Fn {
  return async function (this: unknown, ...args: unknown[]) {
    const parent = current.getStore();
    if (parent !== undefined) parent.subtests++;
    const c: Counted = { assertions: 0, subtests: 0, skipped: false, parent };
    patchContext(args[0] as Context);
    await current.run(c, () => fn.apply(this, args));
    if (c.assertions === 0 && c.subtests === 0 && !c.skipped) throw new Error(NO_ASSERTION_MESSAGE);
  };
}

// node:test runs each test's body through AsyncResource#runInAsyncScope of its Test object (a test
// is an async resource). Hooking there, rather than wrapping test() and t.test(), keeps the
// location node:test records for each test (the caller of test()) pointing at the test file.
// Suites, hooks and the root test are left as they are; so are bodies that take a `done` callback
// (none of ours does: a guarded one would never end).
const runInAsyncScope = AsyncResource.prototype.runInAsyncScope;
AsyncResource.prototype.runInAsyncScope = function (this: AsyncResource & { fn?: unknown; parent?: unknown }, fn: Fn, thisArg: unknown, ...args: unknown[]) {
  const isTestBody = this.constructor.name === 'Test' && fn === this.fn && this.parent != null && fn.length < 2;
  return (runInAsyncScope as (this: unknown, ...a: unknown[]) => unknown).call(this, isTestBody ? guarded(fn) : fn, thisArg, ...args);
} as typeof runInAsyncScope;
