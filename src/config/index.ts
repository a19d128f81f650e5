// The config edge's public API: load a gateway config file into a validated GatewayConfig.
export { parseConfig, loadAdminSettings, loadConfigFile, loadConfigOrThrow, type AdminSettings, type LoadResult, type ParseOptions, type ParseResult } from './load.ts';
export { ConfigError, ConfigErrorCode, formatProblems, type ConfigProblem } from './problems.ts';
export { DEFAULTS, virtualClusterId } from './normalize.ts';
export { formatHostPort } from './endpoints.ts';
export type { Env } from './env.ts';
export * from './types.ts';
export { resolveWorkers, type WorkerPlan } from './workers.ts';
