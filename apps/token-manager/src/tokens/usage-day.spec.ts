import { isValidTimeZone, QuotaCalendar, usageDayOf } from './usage-day';

describe('usageDayOf', () => {
  it('switches day at midnight UTC by default', () => {
    expect(usageDayOf(new Date('2026-11-23T23:59:59Z'), 'UTC', 0)).toBe('2026-11-23');
    expect(usageDayOf(new Date('2026-11-24T00:00:00Z'), 'UTC', 0)).toBe('2026-11-24');
  });

  it('switches day at the reset hour in the configured time zone', () => {
    // 08:00 in Shanghai is 00:00 UTC.
    expect(usageDayOf(new Date('2026-11-23T23:59:00Z'), 'Asia/Shanghai', 8)).toBe('2026-11-23');
    expect(usageDayOf(new Date('2026-11-24T00:00:00Z'), 'Asia/Shanghai', 8)).toBe('2026-11-24');
    expect(usageDayOf(new Date('2026-11-24T05:00:00Z'), 'America/New_York', 3)).toBe('2026-11-23');
    expect(usageDayOf(new Date('2026-11-24T08:00:00Z'), 'America/New_York', 3)).toBe('2026-11-24');
  });

  it('validates time zone names', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('QuotaCalendar', () => {
  it('answers the new day from the first moment of it, though it keeps the day of the current minute', () => {
    let now = new Date('2026-11-23T23:59:00.000Z');
    const calendar = new QuotaCalendar('Asia/Shanghai', 8, () => now);
    expect(calendar.today()).toBe('2026-11-23');
    now = new Date('2026-11-23T23:59:59.999Z');
    expect(calendar.today()).toBe('2026-11-23');
    now = new Date('2026-11-24T00:00:00.000Z');
    expect(calendar.today()).toBe('2026-11-24');
    now = new Date('2026-11-23T12:00:00.000Z'); // a clock set back
    expect(calendar.today()).toBe('2026-11-23');
  });
});
