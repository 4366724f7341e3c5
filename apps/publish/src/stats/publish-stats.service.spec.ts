import { percentile } from './publish-stats.service';

describe('percentile (nearest rank)', () => {
  it('picks the value at the rank that covers the fraction', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99), percentile(values, 1)]).toEqual([50, 95, 99, 100]);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
  });

  it('is 0 without values', () => {
    expect(percentile([], 0.5)).toBe(0);
  });
});
