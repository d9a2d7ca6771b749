/**
 * How a group commit makes its WAL durable before it is acknowledged: the
 * five methods the asynchronous-durability experiment compares
 * (ARCHITECTURE 2.5).
 *
 *  - flush:    STANDARD WAL writes, wait for them, then one Flush (the classic fsync path).
 *  - fua:      FUA WAL writes: durable when they complete, no Flush.
 *  - critical: WAL writes with the RFC's CRITICAL intent: durable at completion, no Flush
 *              (on this device model exactly as costly as FUA; the RFC differs only in interface).
 *  - token:    STANDARD WAL writes; the commit is acknowledged when the device confirms the
 *              writes' persistence tokens (background destage), with no Flush: the host waits
 *              for the device's own pace instead of forcing the whole cache out.
 *  - window:   the host advertises a power window (dev.setPowerWindow, a UPS/battery promise)
 *              and acknowledges at write completion, relying on the device to destage what is
 *              cached within the window after a cut.
 *
 * The window is safe only if it covers the dirty cache at NAND bandwidth:
 * after a cut the device destages its cache oldest first for the window,
 * and what does not fit is lost. The engine therefore keeps its own writes
 * that the device has not yet confirmed (their bytes) within the window's
 * destage budget, `windowMs x NAND bytes/us`; when a commit would leave more
 * unconfirmed, it first waits for the oldest tokens until the rest fits
 * (backpressure through tokens, no Flush). Because destage after a cut is
 * oldest-first and everything ahead of an acknowledged commit's WAL was
 * counted, every acknowledged commit is inside the budget at any later cut.
 * This is the host's side of the bargain; the device's is to honour the
 * window (fault `power-window-not-honoured`: it does not, and acknowledged
 * commits are lost: the experiment's "where it fails").
 *
 * Checkpoints do not use any of this: before the control block moves the
 * redo point they Flush (real durability of every page), whatever the
 * commit method. EPHEMERAL is not used: nothing the engine writes may be lost.
 */
import { NvmeDevice } from '../../src/device/device';
import { WriteOptions } from '../../src/device/types';
import { BadInputError } from '../../src/util/errors';

export const COMMIT_METHODS = ['flush', 'fua', 'token', 'critical', 'window'] as const;
export type CommitMethod = (typeof COMMIT_METHODS)[number];

/** Power window the host advertises in 'window' mode when none is given (ms). */
export const DEFAULT_POWER_WINDOW_MS = 50;

export function checkCommitMethod(d: unknown): CommitMethod {
  if (!COMMIT_METHODS.includes(d as CommitMethod)) {
    throw new BadInputError(`commit durability must be one of ${COMMIT_METHODS.join(', ')}, got "${String(d)}"`);
  }
  return d as CommitMethod;
}

export function checkPowerWindowMs(ms: unknown): number {
  if (!(typeof ms === 'number' && Number.isFinite(ms) && ms > 0)) {
    throw new BadInputError(`power window must be a number of milliseconds > 0, got ${String(ms)}`);
  }
  return ms;
}

/** Write options for the WAL blocks of a group commit. */
export function walWriteOptions(method: CommitMethod): Pick<WriteOptions, 'fua' | 'intent'> {
  if (method === 'fua') return { fua: true };
  if (method === 'critical') return { intent: 'critical' };
  return {};
}

/**
 * The host's count of its own writes that the device has completed but not
 * yet confirmed durable (window mode). Sees completions through the device's
 * event stream (the host sees completions of its own commands); counts whole
 * writes, which over-estimates a write partly superseded: conservative.
 */
export class UnconfirmedWrites {
  private writes: { token: number; bytes: number }[] = [];

  constructor(private readonly dev: NvmeDevice) {
    dev.onEvent((e) => {
      if (e.phase === 'complete' && (e.kind === 'write' || e.kind === 'write-zeroes') && !dev.isDurable(e.id)) {
        this.writes.push({ token: e.id, bytes: (e.nlb ?? 0) * dev.blockSize });
      }
    });
  }

  /** Bytes of completed writes still unconfirmed (drops confirmed ones). */
  bytes(): number {
    this.writes = this.writes.filter((w) => !this.dev.isDurable(w.token));
    return this.writes.reduce((a, w) => a + w.bytes, 0);
  }

  /** Wait for the oldest tokens until at most `budget` bytes stay unconfirmed; true if it had to wait. */
  waitUntilWithin(budget: number): boolean {
    let waited = false;
    while (this.bytes() > budget) {
      this.dev.waitDurable(this.writes[0].token);
      waited = true;
    }
    return waited;
  }
}
