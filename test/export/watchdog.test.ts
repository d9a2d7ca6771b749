import { PhaseDeadlineError, guard, outlastingGuard, phaseDeadlineMs, setDeadlineFactor, stopWatchdog } from '../../src/export/watchdog';

/**
 * A wait inside a guarded phase (a server start) must outlast the guard, so
 * that a start that never gets ready ends as the guard's harness-error and
 * not as the wait's own "not ready", which the cycles judge as a database
 * that failed its crash recovery (a false alarm on a loaded machine).
 */
afterAll(async () => {
  setDeadlineFactor(1);
  await stopWatchdog();
});

test('outlastingGuard(ms) is past the deadline the guard keeps, at any deadline factor', () => {
  for (const f of [0.5, 1, 3]) {
    setDeadlineFactor(f);
    for (const ms of [1, 6_000, 150_000, 180_000]) expect(outlastingGuard(ms)).toBeGreaterThan(phaseDeadlineMs(ms));
  }
  setDeadlineFactor(1);
});

test('a start that waits out its own timeout (outlastingGuard) ends as the guard\'s PhaseDeadlineError', async () => {
  const ms = 300;
  let timer: NodeJS.Timeout | undefined;
  const notReady = new Promise<{ ready: boolean }>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false }), outlastingGuard(ms));
  });
  const t0 = Date.now();
  await expect(guard('recovery-start', ms, notReady)).rejects.toBeInstanceOf(PhaseDeadlineError);
  expect(Date.now() - t0).toBeLessThan(outlastingGuard(ms));
  clearTimeout(timer);
});
