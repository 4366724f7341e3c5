import { latencySampler, latencySchema, type Latency } from './latency';
import { seededRandom } from './prng';

const draws = (latency: Latency, n = 20_000, seed = 11) => {
  const sample = latencySampler(latencySchema.parse(latency), seededRandom(seed));
  return Array.from({ length: n }, sample);
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('latency distributions', () => {
  it('fixed: always the same', () => {
    expect(new Set(draws({ kind: 'fixed', ms: 25 }, 100))).toEqual(new Set([25]));
  });

  it('none: zero', () => {
    expect(latencySampler(undefined, Math.random)()).toBe(0);
  });

  it('uniform: inside the bounds, mean in the middle', () => {
    const xs = draws({ kind: 'uniform', minMs: 10, maxMs: 30 });
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...xs)).toBeLessThan(30);
    expect(Math.abs(mean(xs) - 20)).toBeLessThan(0.3);
  });

  it('normal: mean and spread as asked, never negative', () => {
    const xs = draws({ kind: 'normal', meanMs: 100, stdDevMs: 10 });
    expect(Math.abs(mean(xs) - 100)).toBeLessThan(0.5);
    const sd = Math.sqrt(mean(xs.map((x) => (x - 100) ** 2)));
    expect(Math.abs(sd - 10)).toBeLessThan(0.5);
    expect(Math.min(...draws({ kind: 'normal', meanMs: 5, stdDevMs: 50 }))).toBe(0);
  });

  it('lognormal: the median as asked, a long right tail, bounded by capMs', () => {
    const xs = draws({ kind: 'lognormal', medianMs: 40, sigma: 0.8 });
    expect(Math.abs(median(xs) - 40)).toBeLessThan(2);
    expect(mean(xs)).toBeGreaterThan(50); // 40 × e^(0.32) ≈ 55
    expect(Math.max(...draws({ kind: 'lognormal', medianMs: 40, sigma: 2, capMs: 300 }))).toBe(300);
  });

  it('is deterministic for a seed', () => {
    const spec: Latency = { kind: 'lognormal', medianMs: 40, sigma: 1 };
    expect(draws(spec, 50, 5)).toEqual(draws(spec, 50, 5));
    expect(draws(spec, 50, 5)).not.toEqual(draws(spec, 50, 6));
  });

  it('rejects impossible knobs', () => {
    expect(latencySchema.safeParse({ kind: 'uniform', minMs: 30, maxMs: 10 }).success).toBe(false);
    expect(latencySchema.safeParse({ kind: 'fixed', ms: -1 }).success).toBe(false);
    expect(latencySchema.safeParse({ kind: 'lognormal', medianMs: 0, sigma: 1 }).success).toBe(
      false,
    );
    expect(latencySchema.safeParse({ kind: 'pareto', ms: 1 }).success).toBe(false);
    expect(latencySchema.safeParse({ kind: 'fixed', ms: 1, extra: 1 }).success).toBe(false);
  });
});
