// Mutation testing of the pure core (`npm run test:mutation`; docs/mutation-testing.md). On demand
// only: not part of `npm test` or CI.
// The offset-translation property tests run 1,000 generated cases each by default; 100 per
// mutant keep the run short (the pieces they exercise have edge-case tests of their own).
process.env.TURNOUT_PROPERTY_RUNS ??= '100';
// The sandbox holds instrumented sources, which are not in the house style: its check is skipped there.
process.env.TURNOUT_MUTATION_SANDBOX = '1';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // The hand-written pure core (docs/mutation-testing.md lists what is left out, and why). Not
  // the generated codec under src/protocol/generated: thousands of mutants of one generator.
  mutate: [
    // codec: framing, whole frames, the generated codec's helpers
    'src/protocol/frame-decoder.ts',
    'src/protocol/frames.ts',
    'src/protocol/codec-support.ts',
    // config
    'src/config/normalize.ts',
    'src/config/workers.ts',
    // routing and broker address rewriting
    'src/routing/broker-ports.ts',
    'src/routing/internal-topics.ts',
    'src/routing/producer-ids.ts',
    'src/routing/topic-ids.ts',
    'src/routing/topic-usage.ts',
    'src/proxy/filters/broker-addresses.ts',
    // switch protocol state
    'src/control/records.ts',
    'src/control/state-signing.ts',
    'src/control/offset-translation.ts',
  ],
  // node:test files run one by one as `node <file>` with TAP output; a test file is Stryker's
  // unit of coverage and of running ("perTest" = per test file).
  testRunner: 'tap',
  tap: {
    // The unit suite, as `npm run test:unit` runs it.
    testFiles: ['test/unit/**/*.test.ts'],
    // As scripts/test.ts runs them: a test that runs no assertion fails.
    nodeArgs: ['--test-reporter=tap', '--import', './scripts/assertion-guard.ts', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  // Node strips the types of the sandbox's files without checking them, so they need no
  // `// @ts-nocheck` (which would also fail the check that the generated codec is as generated).
  disableTypeChecks: false,
  checkers: ['typescript'],
  // The checker type checks the whole program once per mutant: only what the unit tests run
  // (src and test/unit, a fifth of the full check), not the integration tests, tools and scripts.
  tsconfigFile: 'tsconfig.mutation.json',
  // TypeScript 7 (tsgo); scripts/stryker-typescript-7.ts says why the hook is needed.
  typescriptChecker: { experimentalNativePreview: true },
  checkerNodeArgs: ['--import', './scripts/stryker-typescript-7.ts'],
  // The machine is shared: one test process at a time, and generous timeouts, so that a test
  // slowed down by other work is not taken for a mutant's endless loop (a "timeout" counts as
  // killed). The few real endless loops pay for it.
  concurrency: 1,
  timeoutMS: 30_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 15,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
};
