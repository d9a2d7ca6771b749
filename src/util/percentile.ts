/**
 * The one percentile rule of tornlab: nearest rank. The p-th percentile of n
 * values is the value at rank ceil(p/100 * n) (1-based) of the sorted values,
 * so it is always a value that was measured. Every figure that says p50 or
 * p99 — simulated commit latencies in reports, wall-clock commit latencies of
 * real-database cycles, the benches — comes from here, so the README, the
 * report and the JSON agree.
 *
 * Invariants:
 *   1. percentile(v, p) is an element of v (0 when v is empty).
 *   2. It is monotone in p, and p = 100 gives the maximum.
 */

/** Nearest-rank percentile (p in (0, 100]) of unsorted values; 0 for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

/** p50 and p99 of unsorted values, each passed through `round` (identity by default). */
export function p50p99(values: readonly number[], round: (x: number) => number = (x) => x): { p50: number; p99: number } {
  return { p50: round(percentile(values, 50)), p99: round(percentile(values, 99)) };
}

/** The median (mean of the two middle values for an even count); 0 for no values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
