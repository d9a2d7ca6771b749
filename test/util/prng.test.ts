import { Prng } from '../../src/util/prng';

describe('the seeded PRNG', () => {
  test('same seed and label, same stream; different labels, different streams', () => {
    const a = new Prng(42, 'x');
    const b = new Prng(42, 'x');
    const draws = (p: Prng) => Array.from({ length: 20 }, () => p.int(0, 1e6));
    expect(draws(a)).toEqual(draws(b));
    expect(draws(new Prng(42, 'y'))).not.toEqual(draws(new Prng(42, 'x')));
  });

  test('sibling forks are not correlated on their first draw (labels that differ by one character)', () => {
    const root = new Prng(1, 'root');
    const counts = new Array(10).fill(0);
    const n = 5000;
    for (let i = 0; i < n; i++) counts[root.fork(`cycle-${i}`).int(0, 9)]++;
    // Chi-square with 9 degrees of freedom: 27.9 is the 0.1% critical value.
    const chi = counts.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(27.9);
    // Consecutive labels must not give consecutive values (the failure this guards against).
    const firsts = Array.from({ length: 40 }, (_, i) => root.fork(`cycle-${i}`).int(0, 1000));
    const steps = firsts.slice(1).filter((v, i) => Math.abs(v - firsts[i]) <= 2).length;
    expect(steps).toBeLessThan(4);
  });

  test('bigBelow stays below its bound and covers it', () => {
    const p = new Prng(3, 'big');
    const seen = new Set<bigint>();
    for (let i = 0; i < 200; i++) {
      const v = p.bigBelow(5n);
      expect(v >= 0n && v < 5n).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(5);
  });
});
