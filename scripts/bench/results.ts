// What one benchmark invocation measured: plain data, produced by run.ts and rendered by report.ts.
import type { GcStats } from './gateway-process.ts';
import type { IdleMeasurement } from './idle.ts';
import type { BenchOptions } from './options.ts';
import type { ConsumeResult, ProduceResult } from './perf-tools.ts';
import type { ProbeResult } from './probe.ts';
import type { MachineInfo } from './proc.ts';
import type { ProfileSummary } from './profile.ts';

export type Target = 'direct' | 'gateway';

export const WorkloadKind = {
  /** ProducerPerformance, --throughput -1. */
  ProduceMax: 'produce-max',
  /** ConsumerPerformance in a fresh consumer group over a pre-filled topic. */
  ConsumeMax: 'consume-max',
  /** ProducerPerformance at half the direct maximum. */
  ProduceFixed: 'produce-fixed',
  /** LatencyProbe (µs) at half the direct maximum. */
  ProbeFixed: 'probe-fixed',
  /** LatencyProbe with a consumer: send-to-receipt latency at a quarter of the direct maximum. */
  EndToEnd: 'end-to-end',
} as const;
export type WorkloadKind = (typeof WorkloadKind)[keyof typeof WorkloadKind];

export interface Workload {
  readonly id: string;
  readonly kind: WorkloadKind;
  readonly title: string;
  readonly acks: 'all' | '1';
}

export interface GatewayUsage {
  readonly cpuSeconds: number;
  /** Bytes from clients (in) and to clients (out) during the run, from turnout_bytes_total. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
}

export interface RunResult {
  readonly workload: string;
  readonly round: number;
  readonly target: Target;
  readonly wallSeconds: number;
  /** Share of the machine's CPU used by processes outside the benchmark during the run. */
  readonly foreignCpu: number;
  /** CPU seconds of all the benchmark's processes (broker, tool, gateway, harness) during the run. */
  readonly benchCpuSeconds: number;
  /** Seconds spent waiting for a quiet machine before this run's pair. */
  readonly quietWaitSeconds?: number;
  /** Records per second asked for (fixed-rate runs). */
  readonly rate?: number;
  /** Records the run sent or read. */
  readonly records: number;
  readonly produce?: ProduceResult;
  readonly consume?: ConsumeResult;
  readonly probe?: ProbeResult;
  /** Gateway runs only. */
  readonly gateway?: GatewayUsage;
  /** Why the run produced no numbers (the benchmark goes on with the next run). */
  readonly error?: string;
}

export type IdleResult = IdleMeasurement;

export interface ProfileResult {
  readonly workloads: string[];
  readonly gatewayCpuSeconds: number;
  readonly summary: ProfileSummary;
}

export interface BenchResults {
  readonly options: BenchOptions;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineInfo;
  readonly kafkaVersion: string;
  readonly turnoutVersion: string;
  readonly gitCommit: string;
  readonly workloads: readonly Workload[];
  readonly runs: RunResult[];
  /** Records per second of the fixed-rate runs, by acks. */
  readonly fixedRates: Partial<Record<'all' | '1', number>>;
  readonly endToEndRate?: number;
  /** The throughput gateway process over all runs: VmHWM at the end. */
  readonly gatewayPeakRssBytes: number;
  /** Processes of the gateway under test: the primary and its workers. */
  readonly gatewayProcesses: number;
  /** The throughput gateway's garbage collections over all runs. */
  readonly gatewayGc: GcStats[];
  readonly gatewayCommand: string;
  readonly gatewayConfig: string;
  readonly idle: IdleResult[];
  readonly profile?: ProfileResult;
  /** Exact tool command lines used (with placeholders for addresses and topics). */
  readonly commands: Record<string, string>;
}
