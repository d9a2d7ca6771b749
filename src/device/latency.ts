/**
 * The latency model: how long a command takes in simulated time. A command's
 * data crosses the host link (serial, in submission order), then one of
 * `latency.channels` controller channels serves it FIFO for commandUs plus an
 * exponential spread (jitterUs), so a later command on a free channel
 * completes first.
 *
 * Invariants:
 *  1. Every random draw is from the seeded `jitter` Prng, in command
 *     submission order: the same seed and commands give the same times.
 *  2. A channel's free time never goes back (FIFO per channel), and neither
 *     does the link's.
 */
import { DeviceState } from './state';

/** An exponential spread with mean `latency.jitterUs` (0: none, no draw). */
export function jitterUs(s: DeviceState): number {
  const j = s.profile.latency.jitterUs;
  return j > 0 ? -Math.log(1 - s.jitter.float()) * j : 0;
}

/**
 * The controller stage of a command ready at `readyAt`: a channel drawn from
 * the PRNG serves it FIFO for commandUs plus an exponential spread. Channels
 * run in parallel, so a later command on a free channel completes first.
 */
export function service(s: DeviceState, readyAt: number): number {
  const lat = s.profile.latency;
  const ch = lat.channels === 1 ? 0 : Math.floor(s.jitter.float() * lat.channels);
  const start = readyAt > s.chanFree[ch] ? readyAt : s.chanFree[ch];
  const end = start + lat.commandUs + jitterUs(s);
  s.chanFree[ch] = end;
  return end;
}

/** The host link carries `bytes` after what it already carries: when they have crossed. */
export function crossLink(s: DeviceState, bytes: number): number {
  // A command without data (Write Zeroes, Deallocate) waits for the link but adds nothing to it.
  s.linkFreeAt = Math.max(s.now, s.linkFreeAt) + (bytes > 0 ? bytes / s.profile.latency.linkBytesPerUs : 0);
  return s.linkFreeAt;
}
