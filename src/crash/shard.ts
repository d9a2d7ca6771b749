/**
 * Shards: one campaign split over N processes or machines, the way
 * `jest --shard K/N` and `playwright --shard K/N` split a test suite, so that
 * an existing scheduler (a CI matrix, a Kubernetes Indexed Job) runs it.
 *
 * Invariants:
 *   S1  Shard K of N (1 <= K <= N) owns an item (a crash state, a real-database
 *       cycle, a cell's own work such as a cost run) when hash(id) mod N = K - 1,
 *       with hash = the first 48 bits of SHA-256 over the item's id. Every item
 *       has exactly one owner, whatever K; the partition depends on the id and
 *       N only, never on the machine, the order or the other items.
 *   S2  Every shard plans everything an unsharded run plans (the plan is a pure
 *       function of the campaign and its seed) and judges only what it owns.
 *   S3  The fingerprint of a set of ids is the sum, modulo 2^64, of a 64-bit
 *       hash of each id. It adds: the owned fingerprints of shards 1..N sum to
 *       the fingerprint of the whole plan exactly when they own disjoint sets
 *       that cover it (up to a 2^-64 chance), so a merge detects overlaps and
 *       gaps without a list of every id.
 *
 * Wiring --shard into a new command (e.g. `tornlab mariadb`) is two lines:
 * see src/cli/shard.ts.
 */
import { createHash } from 'crypto';
import { BadInputError } from '../util/errors';

export interface Shard {
  /** 1-based, as jest and playwright count. */
  index: number;
  count: number;
}

/** Largest N accepted: far beyond any CI matrix (GitHub Actions caps a matrix at 256 jobs). */
export const MAX_SHARDS = 10_000;

const USAGE = 'write --shard K/N with whole numbers 1 <= K <= N, e.g. --shard 2/4 (shard 2 of 4)';

/** Parse "K/N" (S1). Anything else is bad input naming the value and the form. */
export function parseShard(text: string): Shard {
  const m = /^\s*([0-9]+)\s*\/\s*([0-9]+)\s*$/.exec(text);
  if (!m) throw new BadInputError(`--shard "${text}" is not K/N; ${USAGE}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new BadInputError(`--shard "${text}": N must be from 1 to ${MAX_SHARDS}; ${USAGE}`);
  if (index < 1) throw new BadInputError(`--shard "${text}": K counts from 1 (shard 1 is the first); ${USAGE}`);
  if (index > count) throw new BadInputError(`--shard "${text}": K is greater than N (there are only ${count} shards); ${USAGE}`);
  return { index, count };
}

function digest(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}

/** The shard (1-based) of N that owns the item with this id (S1). */
export function shardOf(id: string, count: number): number {
  return (digest(id).readUIntBE(0, 6) % count) + 1;
}

/** Whether the shard owns the item; an unsharded run owns everything. */
export function owns(shard: Shard | undefined, id: string): boolean {
  return !shard || shard.count === 1 || shardOf(id, shard.count) === shard.index;
}

const MASK64 = (1n << 64n) - 1n;

/** Fingerprint of a list of ids (S3), as 16 hex digits. */
export function fingerprint(ids: Iterable<string>): string {
  let sum = 0n;
  for (const id of ids) sum = (sum + digest(id).readBigUInt64BE(8)) & MASK64;
  return hex64(sum);
}

/** Sum of fingerprints (S3). */
export function addFingerprints(prints: readonly string[]): string {
  return hex64(prints.reduce((a, p) => (a + BigInt(`0x${p}`)) & MASK64, 0n));
}

function hex64(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

/** "shard 2/4" in messages. */
export function shardLabel(s: Shard): string {
  return `shard ${s.index}/${s.count}`;
}
