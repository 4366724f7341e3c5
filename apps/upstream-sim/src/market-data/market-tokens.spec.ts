import { MarketTokens } from './market-tokens';

describe('MarketTokens', () => {
  let now = Date.parse('2026-05-04T23:59:59.000Z');
  const tokens = new MarketTokens(() => now);
  beforeEach(() => {
    tokens.clear();
    now = Date.parse('2026-05-04T23:59:59.000Z');
  });

  it('refuses unknown and revoked tokens, and counts the calls of known ones', () => {
    tokens.upsert({ token: 'a', revoked: true });
    expect(tokens.check(undefined)).toEqual({ ok: false, reason: 'auth' });
    expect(tokens.check('nope')).toEqual({ ok: false, reason: 'auth' });
    expect(tokens.check('a')).toEqual({ ok: false, reason: 'auth' });
    tokens.upsert({ token: 'a', revoked: false });
    expect(tokens.check('a').ok).toBe(true);
    expect(tokens.list()[0]?.usage).toMatchObject({ calls: 2, dailyUsed: 1 });
  });

  it('admits at most ratePerSecond calls in any 1 s window and says when the next one fits', () => {
    tokens.upsert({ token: 'r', ratePerSecond: 3 });
    const answers = [0, 100, 200, 300, 999, 1_000, 1_050, 1_100, 1_150].map((offset) => {
      now = 1_000_000 + offset;
      const check = tokens.check('r');
      return check.ok ? 'ok' : check.reason === 'rate' ? check.retryAfterMs : check.reason;
    });
    // The call at 1000 takes the place of the one at 0; 1100 that of 100; 1150 waits for 200.
    expect(answers).toEqual(['ok', 'ok', 'ok', 700, 1, 'ok', 50, 'ok', 50]);
    expect(tokens.list()[0]?.usage).toMatchObject({ calls: 9, rateLimited: 4, dailyUsed: 5 });
  });

  it('enforces the daily quota per UTC day', () => {
    tokens.upsert({ token: 'q', dailyQuota: 2 });
    const reasons = () => {
      const check = tokens.check('q');
      return check.ok ? 'ok' : check.reason;
    };
    expect([reasons(), reasons(), reasons()]).toEqual(['ok', 'ok', 'quota']);
    now += 1_000; // 00:00:00 UTC the next day
    expect([reasons(), reasons(), reasons()]).toEqual(['ok', 'ok', 'quota']);
    expect(tokens.list()[0]?.usage).toMatchObject({
      calls: 6,
      quotaRejected: 2,
      dailyUsed: 2,
      day: '2026-05-05',
    });
  });

  it('changes only the given fields of an existing token and keeps its usage', () => {
    tokens.upsert({ token: 't', ratePerSecond: 5, dailyQuota: 100 });
    tokens.check('t');
    tokens.upsert({ token: 't', revoked: true });
    expect(tokens.list()).toEqual([
      expect.objectContaining({
        token: 't',
        ratePerSecond: 5,
        dailyQuota: 100,
        revoked: true,
        usage: expect.objectContaining({ calls: 1 }),
      }),
    ]);
    tokens.clearUsage();
    expect(tokens.list()[0]?.usage.calls).toBe(0);
    expect(tokens.remove('t')).toBe(true);
    expect(tokens.remove('t')).toBe(false);
  });
});
