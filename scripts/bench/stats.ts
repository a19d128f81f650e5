// Small statistics for the report: medians over rounds and paired gateway/direct comparisons.

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** A run counts as quiet when processes outside the benchmark used less than this share of the CPU. */
export const QUIET_SHARE = 0.25;
