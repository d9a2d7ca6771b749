/**
 * The one source of randomness. Every random choice in tornlab comes from a
 * `Prng` derived from a single user seed, so the same seed gives the same run,
 * byte for byte. Independent streams are derived by label (`fork('destage')`),
 * never by drawing from Math.random or the clock.
 *
 * The generator is pure-rand's xoroshiro128+; the label is hashed (FNV-1a) into
 * the seed so that forks are stable across code changes that add other forks.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';

type Gen = ReturnType<typeof xoroshiro128plus>;

/** MurmurHash3's finalizer: every input bit flips each output bit with probability ~1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Prng {
  private readonly gen: Gen;

  constructor(
    readonly seed: number,
    readonly label = '',
  ) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    // Mix the 53-bit seed and the label into the 32-bit seed pure-rand takes. The
    // finalizer matters: labels that differ in one character ('cycle-1', 'cycle-2')
    // hash to nearby values, and xoroshiro128+ seeded with nearby values gives
    // correlated first outputs. Discarding the first outputs finishes the job.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    this.gen = xoroshiro128plus(fmix32(fnv1a(label, fmix32(lo ^ fmix32(hi ^ 0x9e3779b9)))) | 0);
    for (let i = 0; i < 16; i++) this.gen.next();
  }

  /** A new independent stream for a named purpose; same (seed, label) -> same stream. */
  fork(label: string): Prng {
    return new Prng(this.seed, this.label ? `${this.label}/${label}` : label);
  }

  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  /** Float in [0, 1). */
  float(): number {
    return (this.gen.next() >>> 0) / 2 ** 32;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(0, items.length - 1)];
  }

  /** Uniform bigint in [0, n). */
  bigBelow(n: bigint): bigint {
    if (n <= 0n) throw new RangeError('bigBelow needs n > 0');
    const bits = n.toString(2).length;
    for (;;) {
      let v = 0n;
      for (let b = 0; b < bits; b += 30) v = (v << 30n) | BigInt(this.int(0, 2 ** 30 - 1));
      v &= (1n << BigInt(bits)) - 1n;
      if (v < n) return v;
    }
  }
}
