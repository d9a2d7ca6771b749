/**
 * Latency ordering that follows from the device model (src/device/profiles.ts):
 * - consumer-tlc: FUA and CRITICAL pay one NAND program (700 us); Flush pays
 *   its 1.5 ms base plus the dirty cache; a token is confirmed by background
 *   destage, which starts 2 ms after completion; the window acknowledges at
 *   completion (tens of us).
 * - enterprise-plp: every completed write is durable, tokens are confirmed at
 *   completion, and only Flush costs anything (its base of 20 us).
 * Measured figures are printed; README figures come from `tornlab durability`.
 */
import { runWorkload } from '../../engines/minipage/driver';
import { CommitMethod } from '../../src/crash/cell';

type P50 = Record<CommitMethod, { p50: number; p99: number; tps: number; flushes: number }>;

function measure(profile: string, neighbour?: { bytesPerGroup: number; intent: 'standard' | 'ephemeral' }): P50 {
  const out = {} as P50;
  for (const commit of ['flush', 'fua', 'critical', 'token', 'window'] as const) {
    const r = runWorkload({
      profile,
      seed: 3,
      engine: { mode: 'fpw', pageSize: 8192, ...(commit !== 'flush' ? { walDurability: commit } : {}) },
      workload: { name: 'bank', seed: 3, txns: 200 },
      capture: 'none',
      neighbour,
    });
    out[commit] = { p50: r.bytes.commitLatencyUs.p50, p99: r.bytes.commitLatencyUs.p99, tps: r.bytes.commits / (r.bytes.simTimeUs / 1e6), flushes: r.bytes.flushes };
  }
  console.log(`${profile}${neighbour ? ` + neighbour ${neighbour.bytesPerGroup / 1024} KiB ${neighbour.intent}/group` : ''}:\n` +
    Object.entries(out).map(([k, v]) => `  ${k.padEnd(8)} p50 ${v.p50.toFixed(0).padStart(5)} us  p99 ${v.p99.toFixed(0).padStart(5)} us  ${v.tps.toFixed(0).padStart(6)} txn/s  ${v.flushes} flushes`).join('\n'));
  return out;
}

test('consumer-tlc: window < critical = fua < flush < token (p50)', () => {
  const m = measure('consumer-tlc');
  const l = m as Record<string, { p50: number }>;
  const profile = { nandProgramUs: 700, flushBaseUs: 1500, destageDelayUs: 2000 };
  expect(l.critical.p50).toBe(l.fua.p50);
  expect(l.fua.p50).toBeGreaterThanOrEqual(profile.nandProgramUs);
  expect(l.fua.p50).toBeLessThan(l.flush.p50);
  expect(l.flush.p50).toBeGreaterThanOrEqual(profile.flushBaseUs);
  // A token waits for background destage, which does not start before the destage delay.
  expect(l.token.p50).toBeGreaterThanOrEqual(profile.destageDelayUs);
  expect(l.flush.p50).toBeLessThan(l.token.p50);
  expect(l.window.p50).toBeLessThan(100);
  expect(m.window.tps).toBeGreaterThan(4 * m.flush.tps);
});

test('enterprise-plp: tokens are confirmed at completion, so token = fua = critical, and all beat flush', () => {
  const m = measure('enterprise-plp');
  expect(m.token.p50).toBe(m.fua.p50);
  expect(m.critical.p50).toBe(m.fua.p50);
  expect(m.token.p50).toBeLessThan(m.flush.p50);
  expect(m.token.tps).toBeGreaterThan(2 * m.flush.tps);
});

test('consumer-tlc with an EPHEMERAL neighbour: Flush pays for the neighbour, a token does not', () => {
  const alone = measure('consumer-tlc');
  const busy = measure('consumer-tlc', { bytesPerGroup: 256 * 1024, intent: 'ephemeral' });
  // Flush must destage the neighbour's 256 KiB too: about 1.4 ms more at 190 B/us.
  expect(busy.flush.p50).toBeGreaterThan(alone.flush.p50 + 1000);
  // The token's wait is the same as without the neighbour (within jitter), and now below Flush.
  expect(Math.abs(busy.token.p50 - alone.token.p50)).toBeLessThan(20);
  expect(busy.token.p50).toBeLessThan(busy.flush.p50);
});
