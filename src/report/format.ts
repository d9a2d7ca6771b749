/**
 * Number formatting for reports. Fixed rules, no locale (toLocaleString depends
 * on the ICU data and the environment), so that the same report.json renders to
 * the same bytes everywhere. Unknown values (null ratios) print as "n/a".
 */

export const NA = 'n/a';

/** 1234567 -> "1,234,567"; the integer part of x, rounded. */
/** An integer with thousands separators, or n/a for a missing value. */
export function fmtIntOrNa(x: number | null): string {
  return x === null ? NA : fmtInt(x);
}

export function fmtInt(x: number): string {
  const neg = x < 0;
  const digits = Math.round(Math.abs(x)).toString();
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return neg ? `-${out}` : out;
}

/** Fixed decimals with digit grouping: fmtFixed(12345.678, 1) -> "12,345.7". */
export function fmtFixed(x: number | null, decimals: number): string {
  if (x === null || !Number.isFinite(x)) return NA;
  const s = Math.abs(x).toFixed(decimals);
  const [int, frac] = s.split('.');
  const grouped = fmtInt(Number(int));
  return `${x < 0 && Number(s) !== 0 ? '-' : ''}${grouped}${frac !== undefined ? '.' + frac : ''}`;
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Binary units, 2 decimals above 1 KiB: 512 -> "512 B", 1536 -> "1.50 KiB". */
export function fmtBytes(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return NA;
  if (Math.abs(x) < 1024) return `${fmtInt(x)} B`;
  let v = x / 1024;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${BYTE_UNITS[u]}`;
}

/** Amplification and per-commit ratios: 2 decimals. */
export function fmtRatio(x: number | null): string {
  return fmtFixed(x, 2);
}

/** Throughput, txn/s: no decimals from 100 up, 1 decimal below. */
export function fmtRate(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return NA;
  return Math.abs(x) >= 100 ? fmtFixed(x, 0) : fmtFixed(x, 1);
}

/** Latency given in microseconds: "850 us", "1.25 ms", "2.50 s". */
export function fmtUs(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return NA;
  if (Math.abs(x) < 1000) return `${fmtFixed(x, 0)} us`;
  if (Math.abs(x) < 1e6) return `${(x / 1000).toFixed(2)} ms`;
  return `${fmtFixed(x / 1e6, 2)} s`;
}

/** Durations in days: "45.6 days", "12.3 years" (365-day years). */
export function fmtDays(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return NA;
  if (Math.abs(x) < 365) return `${x.toFixed(1)} days`;
  return `${fmtFixed(x / 365, 1)} years`;
}

const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** Large counts with SI prefixes, 2 decimals: 3.2e9 -> "3.20 G"; below 1000 as integers. */
export function fmtCount(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return NA;
  let v = x;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < SI.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? fmtInt(v) : `${v.toFixed(2)} ${SI[u]}`;
}

/** Page sizes: 8192 -> "8 KiB". */
export function fmtPageSize(x: number): string {
  return x % 1024 === 0 ? `${x / 1024} KiB` : `${x} B`;
}
