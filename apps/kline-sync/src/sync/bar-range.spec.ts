import { DomainError } from '@batchgate/platform/errors';
import { barRange } from './bar-range';

describe('barRange', () => {
  it('covers whole UTC days and asks for enough bars of the kType', () => {
    expect(barRange('2026-01-01', '2026-01-10', 8)).toEqual({
      fromMs: Date.parse('2026-01-01T00:00:00Z'),
      toMs: Date.parse('2026-01-10T23:59:59.999Z'),
      limit: 10,
    });
    expect(barRange('2026-01-01', '2026-01-01', 1).limit).toBe(1_440);
    expect(barRange('2026-01-01', '2026-01-14', 9).limit).toBe(2);
  });

  it('refuses a range of more bars than a job may cover per stock', () => {
    expect(barRange('2025-01-01', '2025-12-31', 1, 525_600).limit).toBe(525_600);
    expect(() => barRange('2024-12-31', '2025-12-31', 1, 525_600)).toThrow(
      expect.objectContaining({ code: 'SYNC.RANGE_TOO_LONG', details: { bars: 527_040, maxBars: 525_600, kType: 1 } }),
    );
    expect(barRange('0001-01-01', '9999-12-31', 10, 525_600).limit).toBeLessThan(525_600);
  });

  it.each([
    ['2026-02-01', '2026-01-01', 8, 'startDate must not be after endDate'],
    ['yesterday', '2026-01-01', 8, 'YYYY-MM-DD'],
    ['2026-01-01', '2026-01-02', 11, 'kType 11 is not supported'],
  ])('rejects %s..%s kType %s', (start, end, kType, message) => {
    expect(() => barRange(start, end, kType)).toThrow(DomainError);
    expect(() => barRange(start, end, kType)).toThrow(message);
  });
});
