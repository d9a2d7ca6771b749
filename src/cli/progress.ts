/**
 * Progress on long work: a one-line bar on a TTY (crash states done, rate,
 * verdict counts so far, with the short labels of src/crash/verdict.ts;
 * harness errors stand out as HARNESS=N), nothing in CI (no TTY), where the
 * caller prints a summary line per cell instead.
 */
import { VERDICT_SHORT, isVerdict } from '../crash/verdict';
export interface ProgressBar {
  update(done: number, total: number, verdicts: Record<string, number>): void;
  end(): void;
}

/** `torn=3`, and `HARNESS=1` for crash states the testbed failed to judge (not a finding). */
export function progressCount(verdict: string, n: number): string {
  if (verdict === 'harness-error') return `HARNESS=${n}`;
  return `${isVerdict(verdict) ? VERDICT_SHORT[verdict] : verdict}=${n}`;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY || process.env.CI) return { update: () => undefined, end: () => undefined };
  const t0 = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(done, total, verdicts) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      const rate = done / Math.max(0.001, (now - t0) / 1000);
      const counts = Object.entries(verdicts).map(([k, n]) => progressCount(k, n)).join(' ');
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(0)}/s ${counts}\x1b[K`);
      shown = true;
    },
    end() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
