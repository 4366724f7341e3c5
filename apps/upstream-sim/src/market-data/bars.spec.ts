import { barAt, barStart, KTYPES, klineBars, nextBarStart } from './bars';

const at = (iso: string) => Date.parse(iso);

describe('bar boundaries (UTC)', () => {
  const t = at('2026-03-18T13:47:31.250Z'); // a Wednesday

  it('aligns minute, hour, day, week (Monday) and calendar month bars', () => {
    expect(barStart(1, t)).toBe(at('2026-03-18T13:47:00Z'));
    expect(barStart(2, t)).toBe(at('2026-03-18T13:45:00Z'));
    expect(barStart(3, t)).toBe(at('2026-03-18T13:45:00Z'));
    expect(barStart(4, t)).toBe(at('2026-03-18T13:30:00Z'));
    expect(barStart(5, t)).toBe(at('2026-03-18T13:00:00Z'));
    expect(barStart(6, t)).toBe(at('2026-03-18T12:00:00Z'));
    expect(barStart(7, t)).toBe(at('2026-03-18T12:00:00Z'));
    expect(barStart(8, t)).toBe(at('2026-03-18T00:00:00Z'));
    expect(barStart(9, t)).toBe(at('2026-03-16T00:00:00Z'));
    expect(barStart(10, t)).toBe(at('2026-03-01T00:00:00Z'));
    expect(nextBarStart(10, at('2026-12-01T00:00:00Z'))).toBe(at('2027-01-01T00:00:00Z'));
    expect(() => barStart(11, t)).toThrow(RangeError);
  });

  it('puts every instant in exactly one bar', () => {
    for (const kType of KTYPES) {
      const start = barStart(kType, t);
      expect(start).toBeLessThanOrEqual(t);
      expect(nextBarStart(kType, start)).toBeGreaterThan(t);
      expect(barStart(kType, start)).toBe(start);
    }
  });
});

describe('klineBars', () => {
  const et = at('2026-01-31T23:59:59.999Z');

  it('answers `limit` consecutive bars up to the one containing `et`, oldest first', () => {
    const bars = klineBars('SH', '600000', 8, et, 31);
    expect(bars).toHaveLength(31);
    expect(bars[0]?.t).toBe(at('2026-01-01T00:00:00Z'));
    expect(bars[30]?.t).toBe(at('2026-01-31T00:00:00Z'));
    for (let i = 1; i < bars.length; i++)
      expect((bars[i]?.t ?? 0) - (bars[i - 1]?.t ?? 0)).toBe(86_400_000);
    expect(klineBars('SH', '600000', 8, at('2026-01-31T00:00:00Z'), 1)[0]?.t).toBe(
      at('2026-01-31T00:00:00Z'),
    );
    expect(
      klineBars('SH', '600000', 10, et, 3).map((b) => new Date(b.t).toISOString().slice(0, 10)),
    ).toEqual(['2025-11-01', '2025-12-01', '2026-01-01']);
  });

  it('is a pure function of (region, code, kType, t)', () => {
    expect(klineBars('SZ', '000001', 1, et, 50)).toEqual(klineBars('SZ', '000001', 1, et, 50));
    // A bar does not depend on the query that returned it.
    expect(klineBars('SH', '600000', 8, et, 31)[10]).toEqual(
      barAt('SH', '600000', 8, at('2026-01-11T00:00:00Z')),
    );
    expect(barAt('SH', '600000', 8, 0)).not.toEqual(barAt('SH', '600001', 8, 0));
    expect(barAt('SH', '600000', 8, 0)).not.toEqual(barAt('SH', '600000', 9, 0));
  });

  it('gives well-formed OHLCV bars whose closes lead into the next opens', () => {
    for (const kType of KTYPES) {
      const bars = klineBars('US', 'AAPL', kType, et, 200);
      for (const bar of bars) {
        expect(bar.l).toBeGreaterThan(0);
        expect(bar.l).toBeLessThanOrEqual(Math.min(bar.o, bar.c));
        expect(bar.h).toBeGreaterThanOrEqual(Math.max(bar.o, bar.c));
        expect(Number.isInteger(bar.v) && bar.v > 0).toBe(true);
        expect(bar.tu).toBeGreaterThan(bar.v * bar.l * 0.99);
        expect(bar.tu).toBeLessThan(bar.v * bar.h * 1.01);
      }
      for (let i = 1; i < bars.length; i++) {
        const gap = Math.abs((bars[i]?.o ?? 0) / (bars[i - 1]?.c ?? 1) - 1);
        expect(gap).toBeLessThan(0.05);
      }
    }
  });
});
