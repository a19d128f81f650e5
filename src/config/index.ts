// The config edge's public API: load a gateway config file into a validated GatewayConfig.

export { formatHostPort } from './endpoints.ts';
export type { Env } from './env.ts';
export {
  type AdminSettings,
  type LoadResult,
  loadAdminSettings,
  loadConfigFile,
  loadConfigOrThrow,
  type ParseOptions,
  type ParseResult,
  parseConfig,
} from './load.ts';
export { DEFAULTS, virtualClusterId } from './normalize.ts';
export { ConfigError, ConfigErrorCode, type ConfigProblem, formatProblems } from './problems.ts';
export * from './types.ts';
export { resolveWorkers, type WorkerPlan } from './workers.ts';
