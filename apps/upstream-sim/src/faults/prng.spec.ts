import { gaussian, hash32, seededRandom } from './prng';

describe('seededRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, seededRandom(seed));
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('is uniform in [0, 1)', () => {
    const random = seededRandom(7);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = random();
      if (!(x >= 0 && x < 1)) outside++;
      else buckets[Math.floor(x * 10)] = (buckets[Math.floor(x * 10)] ?? 0) + 1;
    }
    expect(outside).toBe(0);
    // 10,000 expected per bucket; a 5 % band is > 15 standard deviations wide.
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });
});

describe('hash32', () => {
  it('is stable (FNV-1a reference values) and unsigned', () => {
    expect(hash32('')).toBe(0x811c9dc5);
    expect(hash32('a')).toBe(0xe40c292c);
    expect(hash32('SH:600000')).toBe(hash32('SH:600000'));
    expect(hash32('SH:600000')).not.toBe(hash32('SH:600001'));
  });
});

describe('gaussian', () => {
  it('has mean 0 and standard deviation 1', () => {
    const random = seededRandom(3);
    const draws = Array.from({ length: 50_000 }, () => gaussian(random));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(sd - 1)).toBeLessThan(0.02);
  });
});
