import fc from 'fast-check';
import { median, p50p99, percentile } from '../../src/util/percentile';

describe('the one percentile rule (nearest rank)', () => {
  test('known answers', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted 100..1
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([], 99)).toBe(0);
    expect(p50p99([1.4, 2.6], Math.round)).toEqual({ p50: 1, p99: 3 });
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBe(0);
  });

  test('a percentile outside (0, 100] is refused', () => {
    expect(() => percentile([1], 0)).toThrow(/\(0, 100\]/);
    expect(() => percentile([1], 101)).toThrow(/\(0, 100\]/);
  });

  test('invariants: a measured value, monotone in p, p=100 is the maximum', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 99 }), (v, p) => {
        const a = percentile(v, p);
        expect(v).toContain(a);
        expect(percentile(v, p + 1)).toBeGreaterThanOrEqual(a);
        expect(percentile(v, 100)).toBe(Math.max(...v));
        // nearest rank: at least p% of the values are <= it, and fewer than p% are < it
        expect(v.filter((x) => x <= a).length * 100).toBeGreaterThanOrEqual(p * v.length);
        expect(v.filter((x) => x < a).length * 100).toBeLessThan(p * v.length);
      }),
    );
  });
});
