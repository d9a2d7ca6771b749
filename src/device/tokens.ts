/**
 * Persistence tokens (the asynchronous-durability extension, ARCHITECTURE
 * 2.5): every write's command id is its token; the device tells the host when
 * the write's data physically reached media (confirmed) or was superseded
 * before any of it did (retired).
 *
 * Invariants:
 *  1. A token is pending from submission until its write's pendingBlocks
 *     reaches 0, and settles exactly once then (device.ts INV-5): confirmed if
 *     mediaBlocks > 0, else retired. settle() asserts it.
 *  2. A settled token never becomes pending again; its listeners run once,
 *     at the simulated time it settled.
 *  3. Ids of reads and flushes are never pending: they count as settled.
 */
import { DeviceState, WriteRecord, invariant } from './state';

/** A write's token becomes pending (at submission). */
export function issueToken(s: DeviceState, id: number): void {
  s.unconfirmed.add(id);
}

/**
 * Every block of `w` has left the cache (INV-5). Confirmed if some of its
 * bytes physically reached media (the rest superseded there by newer data);
 * retired if none did: superseded before reaching media, never "confirmed".
 */
export function settle(s: DeviceState, w: WriteRecord): void {
  if (w.pendingBlocks !== 0 || w.mediaBlocks > w.nlb) invariant(false, 5, `write ${w.id} settles with ${w.pendingBlocks} blocks cached, ${w.mediaBlocks}/${w.nlb} on media`);
  if (!s.unconfirmed.delete(w.id)) return;
  if (w.mediaBlocks > 0) {
    s.c.durabilityConfirmations++;
    for (const l of s.durableListeners) l(w.id, s.now);
  } else {
    s.retired.add(w.id);
    s.c.retirements++;
    for (const l of s.retiredListeners) l(w.id, s.now);
  }
}

/** Settled (confirmed or retired): the host need wait no longer. */
export function isDurable(s: DeviceState, token: number): boolean {
  return token > 0 && token < s.nextId && !s.unconfirmed.has(token);
}

export function tokenState(s: DeviceState, token: number): 'unknown' | 'pending' | 'confirmed' | 'retired' {
  if (!(token > 0 && token < s.nextId)) return 'unknown';
  if (s.unconfirmed.has(token)) return 'pending';
  return s.retired.has(token) ? 'retired' : 'confirmed';
}
