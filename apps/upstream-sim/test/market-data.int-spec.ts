import { klineBars, type Bar } from '../src/market-data/bars';
import { json, manualClock, startSim, type SimUnderTest } from './sim.harness';

const ET = Date.parse('2026-03-31T23:59:59.999Z');

interface ItickAnswer {
  code: number;
  msg: string | null;
  data: Bar[] | null;
}

describe('upstream-sim market-data API (iTick style)', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await sim.reset();
    await sim.post('/__sim/market/tokens', { token: 'ok' });
  });

  const kline = (
    token: string | undefined,
    query = `region=SH&code=600000&kType=8&limit=5&et=${ET}`,
  ) => sim.get(`/stock/kline?${query}`, token === undefined ? {} : { token });

  it('serves deterministic bars in the iTick shape that a test recomputes (minute, day, week, month)', async () => {
    for (const [kType, limit] of [
      [1, 120],
      [8, 31],
      [9, 10],
      [10, 3],
    ] as const) {
      const response = await kline(
        'ok',
        `region=sh&code=600519&kType=${kType}&limit=${limit}&et=${ET}`,
      );
      expect(response.status).toBe(200);
      const body = await json<ItickAnswer>(response);
      expect(body).toEqual({
        code: 0,
        msg: null,
        data: klineBars('SH', '600519', kType, ET, limit),
      });
      expect(body.data).toHaveLength(limit);
    }
    const day = await json<ItickAnswer>(
      kline('ok', `region=SH&code=600519&kType=8&limit=31&et=${ET}`),
    );
    expect(day.data?.map((b) => new Date(b.t).toISOString().slice(0, 10))).toEqual(
      Array.from({ length: 31 }, (_, i) => `2026-03-${String(i + 1).padStart(2, '0')}`),
    );
    expect(await json(kline('ok', `region=SH&code=600519&kType=8&limit=31&et=${ET}`))).toEqual(day);
  });

  it('defaults `et` to now and `limit` to 100', async () => {
    const before = Date.now();
    const body = await json<ItickAnswer>(kline('ok', 'region=HK&code=700&kType=1'));
    expect(body.data).toHaveLength(100);
    const last = body.data?.at(-1)?.t ?? 0;
    expect(last).toBeGreaterThan(before - 120_000);
    expect(last).toBeLessThanOrEqual(Date.now());
  });

  it('answers the provider auth error for missing, unknown, revoked and deleted tokens', async () => {
    await sim.post('/__sim/market/tokens', [
      { token: 'gone', revoked: true },
      { token: 'deleted' },
    ]);
    expect((await sim.del('/__sim/market/tokens/deleted')).status).toBe(200);
    expect((await sim.del('/__sim/market/tokens/deleted')).status).toBe(404);
    for (const token of [undefined, 'nope', 'gone', 'deleted']) {
      const response = await kline(token);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        code: 401,
        msg: 'token is invalid or revoked',
        data: null,
      });
    }
    await sim.post('/__sim/market/tokens', { token: 'gone', revoked: false });
    expect((await kline('gone')).status).toBe(200);
  });

  it('rate-limits each token on its own with 429 and Retry-After', async () => {
    await sim.post('/__sim/market/tokens', [
      { token: 'slow', ratePerSecond: 3 },
      { token: 'other', ratePerSecond: 3 },
    ]);
    const responses = await Promise.all(Array.from({ length: 5 }, () => kline('slow')));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429]);
    const limited = responses.find((r) => r.status === 429);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited?.json()).toEqual({ code: 429, msg: 'too many requests', data: null });
    expect((await kline('other')).status).toBe(200);

    const stats = await sim.stats();
    expect(stats.routes['market.kline']).toMatchObject({ requests: 6, rateLimited: 2 });
    expect(stats.market.tokens.find((t) => t.token === 'slow')?.usage).toMatchObject({
      calls: 5,
      served: 3,
      rateLimited: 2,
      dailyUsed: 3,
    });
  });

  it('enforces the daily quota with its own code, and resets it at UTC midnight', async () => {
    const clock = manualClock(Date.parse('2026-06-01T23:59:58Z'));
    const own = await startSim({
      now: clock.now,
      settings: { market: { tokens: [{ token: 'small', dailyQuota: 2 }] } },
    });
    try {
      const codes = async () => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++)
          out.push(
            (
              await json<ItickAnswer>(
                own.get(`/stock/kline?region=SH&code=600000&kType=8&limit=1`, { token: 'small' }),
              )
            ).code,
          );
        return out;
      };
      expect(await codes()).toEqual([0, 0, 429001]);
      clock.advance(2_000);
      expect(await codes()).toEqual([0, 0, 429001]);
      const usage = (await own.stats()).market.tokens[0]?.usage;
      expect(usage).toMatchObject({
        calls: 6,
        served: 4,
        quotaRejected: 2,
        dailyUsed: 2,
        day: '2026-06-02',
      });
    } finally {
      await own.close();
    }
  });

  it('says "product does not exist" for unknown stocks: deny list, allow list, and malformed A-share codes', async () => {
    const code = async (region: string, stock: string) =>
      (
        await json<ItickAnswer>(
          kline('ok', `region=${region}&code=${stock}&kType=8&limit=1&et=${ET}`),
        )
      ).code;
    expect(await code('SH', '60000')).toBe(404001);
    expect(await code('HK', '700')).toBe(0);
    await sim.configure({ market: { unknownStocks: ['SH:699999'] } });
    const unknown = await json<ItickAnswer>(
      kline('ok', `region=SH&code=699999&kType=8&limit=1&et=${ET}`),
    );
    expect(unknown).toEqual({ code: 404001, msg: 'product does not exist', data: null });
    await sim.configure({ market: { knownStocks: ['SH:600000', 'US:AAPL'] } });
    expect([
      await code('SH', '600000'),
      await code('US', 'aapl'),
      await code('SH', '600001'),
    ]).toEqual([0, 0, 404001]);
    await sim.configure({ market: { knownStocks: null } });
    expect(await code('SH', '600001')).toBe(0);
    expect((await sim.stats()).market.tokens.find((t) => t.token === 'ok')?.usage.notFound).toBe(3);
  });

  it('knows every well-formed code by default: 320 stocks in parallel', async () => {
    const codes = Array.from({ length: 320 }, (_, i) => String(600000 + i));
    const answers = await Promise.all(
      codes.map((c) =>
        json<ItickAnswer>(kline('ok', `region=SH&code=${c}&kType=8&limit=2&et=${ET}`)),
      ),
    );
    expect(
      answers.every(
        (a, i) =>
          a.code === 0 && a.data?.[1]?.c === klineBars('SH', codes[i] ?? '', 8, ET, 2)[1]?.c,
      ),
    ).toBe(true);
    expect((await sim.stats()).market.tokens.find((t) => t.token === 'ok')?.usage.served).toBe(320);
  });

  it('answers 400 with the provider body for a bad query', async () => {
    const missing = await kline('ok', 'region=SH&kType=8');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      code: 400,
      msg: expect.stringContaining('code'),
      data: null,
    });
    const kType = await json<ItickAnswer>(kline('ok', 'region=SH&code=600000&kType=11'));
    expect(kType.msg).toContain('kType');
    expect((await kline('ok', 'region=SH&code=600000&kType=8&limit=1001')).status).toBe(400);
  });

  it('administers tokens: list with usage, partial update, validation', async () => {
    await sim.post('/__sim/market/tokens', { token: 'admin', ratePerSecond: 50, dailyQuota: 1000 });
    await kline('admin');
    await sim.post('/__sim/market/tokens', { token: 'admin', revoked: true });
    const { tokens } = await json<{ tokens: Array<Record<string, unknown>> }>(
      sim.get('/__sim/market/tokens'),
    );
    expect(tokens.find((t) => t['token'] === 'admin')).toMatchObject({
      ratePerSecond: 50,
      dailyQuota: 1000,
      revoked: true,
      usage: { calls: 1, served: 1 },
    });
    const bad = await sim.post('/__sim/market/tokens', { token: '', ratePerSecond: -1 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: 'INVALID_TOKEN',
      problems: expect.arrayContaining([expect.stringContaining('ratePerSecond')]),
    });
  });
});
