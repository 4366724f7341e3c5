import { klineBars } from '../src/market-data/bars';
import { startSim, type SimUnderTest } from './sim.harness';

const ET = Date.parse('2026-03-31T23:59:59.999Z');

describe('upstream-sim market-data API (iTick style)', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim({ market: { tokens: [{ token: 'ok', ratePerSecond: 0, dailyQuota: 0, revoked: false }] } });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.state.reset());

  const kline = (token: string | undefined, query = `region=SH&code=600000&kType=8&limit=5&et=${ET}`) =>
    sim.get(`/stock/kline?${query}`, token ? { token } : {});

  it('serves deterministic bars in the iTick shape that a test can recompute', async () => {
    const response = await kline('ok');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { code: number; msg: null; data: unknown[] };
    expect(body).toEqual({ code: 0, msg: null, data: klineBars('SH', '600000', 8, ET, 5) });
    expect(body.data).toHaveLength(5);
    expect(await (await kline('ok')).json()).toEqual(body);
    const bar = klineBars('SH', '600000', 8, ET, 1)[0];
    expect(bar && bar.l <= Math.min(bar.o, bar.c) && bar.h >= Math.max(bar.o, bar.c)).toBe(true);
  });

  it('answers the provider auth error for missing, unknown and revoked tokens', async () => {
    await sim.post('/__sim/market/tokens', { token: 'gone', revoked: true });
    for (const token of [undefined, 'nope', 'gone']) {
      const response = await kline(token);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ code: 401, msg: 'token is invalid or revoked', data: null });
    }
  });

  it('rate-limits per token with 429 and Retry-After, and enforces the daily quota with its own code', async () => {
    await sim.post('/__sim/market/tokens', [
      { token: 'slow', ratePerSecond: 3 },
      { token: 'small', dailyQuota: 2 },
    ]);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await kline('slow')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await kline('slow');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(((await (await kline('small')).json()) as { code: number }).code);
    expect(answers).toEqual([0, 0, 429001]);

    const stats = (await (await sim.get('/__sim/stats')).json()) as {
      routes: Record<string, { rateLimited: number }>;
      market: { tokens: Array<{ token: string; usage: Record<string, number> }> };
    };
    expect(stats.routes['market.kline']?.rateLimited).toBe(3);
    expect(stats.market.tokens.find((t) => t.token === 'slow')?.usage).toEqual({ calls: 6, served: 3, rateLimited: 3, quotaRejected: 0 });
    expect(stats.market.tokens.find((t) => t.token === 'small')?.usage).toEqual({ calls: 3, served: 2, rateLimited: 0, quotaRejected: 1 });
  });

  it('says "product does not exist" for unknown stocks and 400 for a bad query', async () => {
    await sim.post('/__sim/config', { market: { unknownStocks: ['SH:699999'] } });
    expect(await (await kline('ok', `region=SH&code=699999&kType=8&limit=1&et=${ET}`)).json()).toEqual({
      code: 404001,
      msg: 'product does not exist',
      data: null,
    });
    const bad = await kline('ok', 'region=SH&code=600000&kType=6');
    expect(bad.status).toBe(400);
  });
});
