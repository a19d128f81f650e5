// `turnout validate -c FILE`: loads a gateway config the way the gateway would and says what it
// configures (exit 0), or lists every problem with its line and a fix (exit 1; 2 if unreadable).

import { type Env, formatHostPort, formatProblems, type GatewayConfig, loadConfigFile, type UpstreamSecurity } from '../config/index.ts';
import { keyId } from '../control/state-signing.ts';

export interface ValidateOptions {
  readonly config: string;
}

export interface ValidateIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Env;
}

const processIo: ValidateIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

export const ValidateExit = { Valid: 0, Invalid: 1, Unreadable: 2 } as const;

/** Returns the exit code. */
export function runValidate(opts: ValidateOptions, io: ValidateIo = processIo): number {
  const result = loadConfigFile(opts.config, io.env);
  if ('config' in result) {
    io.stdout(`${opts.config}: valid\n${summary(result.config)}\n`);
    return ValidateExit.Valid;
  }
  const n = result.problems.length;
  io.stderr(`${formatProblems(opts.config, result.problems)}\n${opts.config}: ${n} problem${n === 1 ? '' : 's'}\n`);
  return result.unreadable ? ValidateExit.Unreadable : ValidateExit.Invalid;
}

function security(s: UpstreamSecurity): string {
  if (s.protocol === 'PLAINTEXT') return 'PLAINTEXT';
  return s.sasl === null ? 'SASL_PLAINTEXT' : `SASL_PLAINTEXT (${s.sasl.mechanism} as ${s.sasl.username})`;
}

/** Where the switch state lives and whether its records are signed (by key id, never the key). */
function stateLine(state: GatewayConfig['state']): string {
  if (state === null) return 'local to this instance (gateway.state disabled)';
  const signing = state.signing;
  if (signing?.key == null) return `topic ${state.topic}, records NOT signed (set gateway.state.key for a multi-instance fleet)`;
  const previous = signing.previousKeys.length > 0 ? `, also accepting key ${signing.previousKeys.map((k) => keyId(k.reveal())).join(', ')}` : '';
  return `topic ${state.topic}, records signed with key ${keyId(signing.key.reveal())}${previous}${signing.acceptUnsigned ? ', unsigned records accepted (acceptUnsigned)' : ''}`;
}

export function summary(config: GatewayConfig): string {
  const out: string[] = [`streaming domains (${config.streamingDomains.length}):`];
  for (const d of config.streamingDomains) {
    out.push(`  ${d.name}: ${d.type} cluster ${d.kafkaCluster.name}`);
    for (const b of d.kafkaCluster.bootstrapServers) {
      out.push(`    ${b.id}: ${b.endpoints.map(formatHostPort).join(',')} ${security(b.security)}`);
    }
  }
  out.push(`routes (${config.routes.length}):`);
  for (const r of config.routes) {
    const { base, count } = r.brokerPorts;
    const bind = r.bindAddress.includes(':') ? `[${r.bindAddress}]` : r.bindAddress;
    out.push(
      `  ${r.name}: ${formatHostPort(r.endpoint)} -> ${r.streamingDomain.name}/${r.streamingDomain.bootstrapServerId}`,
      `    listens on ${bind}:${r.endpoint.port} (bootstrap) and ${bind}:${base}-${base + count - 1} (${count} broker ports), client authentication ${r.authentication.type}`,
    );
  }
  out.push(
    `admin: ${config.admin === null ? 'disabled' : formatHostPort(config.admin)}`,
    `switch state: ${stateLine(config.state)}`,
    `log level: ${config.log.level}`,
  );
  return out.join('\n');
}
