/**
 * The one canonical order of fault switches, used for cell ids, replay ids,
 * the `faults` list stored in reports, and the report validator: the order in
 * which src/device/profiles.ts `faultNames` lists them (lying-flush,
 * sub-block-tear, torn-atomic, misdirected-write, latent-sector-error,
 * inflight-read-error, power-window-not-honoured). Names the device does not
 * know (another engine's own faults) come after, in byte order; duplicates
 * are dropped.
 */
import { faultNames } from '../device/profiles';

/** Base names (before any `:arg`) in canonical order. */
export const FAULT_ORDER: readonly string[] = faultNames({
  lyingFlush: true,
  subBlockTear: 512,
  tornAtomic: true,
  misdirectedWrite: true,
  latentSectorError: true,
  inflightReadError: true,
  powerWindowNotHonoured: true,
});

function rank(name: string): number {
  const i = FAULT_ORDER.indexOf(name.split(':')[0]);
  return i < 0 ? FAULT_ORDER.length : i;
}

/** `faults` in the canonical order, without duplicates. */
export function canonicalFaults(faults: readonly string[]): string[] {
  return [...new Set(faults)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** True when `faults` is already in canonical order with no duplicates. */
export function isCanonicalFaults(faults: readonly string[]): boolean {
  const c = canonicalFaults(faults);
  return c.length === faults.length && c.every((f, i) => f === faults[i]);
}
