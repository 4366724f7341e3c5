import { json, startSim, type SimUnderTest } from './sim.harness';

describe('upstream-sim admin API, reset and operations endpoints', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim({
      settings: [
        {
          routes: { 'market.kline': { latency: { kind: 'fixed', ms: 1 } } },
          market: { tokens: [{ token: 'startup', ratePerSecond: 5 }] },
        },
        { marketplace: { defaultPolls: 3 } },
      ],
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const kline = (token: string) =>
    sim.get('/stock/kline?region=SH&code=600000&kType=8&limit=1', { token });

  it('reads back the current settings in the shape it accepts (outage windows resolved)', async () => {
    await sim.configure({
      routes: {
        'chat.completions': {
          errorRate: 0.1,
          outages: [{ startMs: 1_000, endMs: 2_000, relative: true }],
        },
      },
      publishing: { visibleAfterMs: 500 },
    });
    const settings = await json<Record<string, Record<string, unknown>>>(sim.get('/__sim/config'));
    expect(settings['routes']?.['market.kline']).toEqual({ latency: { kind: 'fixed', ms: 1 } });
    const window = (
      settings['routes']?.['chat.completions'] as {
        outages: Array<{ startMs: number; relative: boolean }>;
      }
    ).outages[0];
    expect(window?.relative).toBe(false);
    expect(window?.startMs).toBeGreaterThan(Date.now());
    expect(settings['marketplace']).toMatchObject({ defaultPolls: 3 });
    expect(settings['publishing']).toMatchObject({ visibleAfterMs: 500 });
    expect(settings['market']).toMatchObject({
      tokens: [{ token: 'startup', ratePerSecond: 5, dailyQuota: 0, revoked: false }],
    });
    // Posting it back changes nothing.
    await sim.configure(settings);
    expect(await json(sim.get('/__sim/config'))).toEqual(settings);
  });

  it('resets counters, effects and state to the start-up settings; tokens added later go unless kept', async () => {
    await sim.post('/__sim/market/tokens', { token: 'added' });
    await sim.configure({
      routes: { 'market.kline': { errorRate: 1 } },
      marketplace: { defaultPolls: 1 },
    });
    expect((await kline('added')).status).toBe(500);
    await sim.post(
      '/publishing/articles',
      { title: 't', content: 'c' },
      { 'idempotency-key': 'reset-1' },
    );
    await sim.post('/webhook/notify', {}, { 'idempotency-key': 'w-1' });

    await sim.reset({ keepTokens: true });
    let stats = await sim.stats();
    expect(stats.routes).toEqual({});
    expect(stats.effects).toEqual({});
    expect(stats.webhook).toEqual({ deliveries: 0, withoutKey: 0 });
    expect(stats.market.tokens.find((t) => t.token === 'added')?.usage.calls).toBe(0);
    expect((await kline('added')).status).toBe(200);
    expect((await json(sim.get('/__sim/config')))['marketplace']).toMatchObject({
      defaultPolls: 3,
    });
    // The article is gone: the same key publishes anew.
    expect(
      (
        await sim.post(
          '/publishing/articles',
          { title: 't', content: 'c' },
          { 'idempotency-key': 'reset-1' },
        )
      ).status,
    ).toBe(201);

    await sim.reset();
    stats = await sim.stats();
    expect(stats.market.tokens.map((t) => t.token)).toEqual(['startup']);
    expect((await kline('added')).status).toBe(401);
    expect((await sim.post('/__sim/reset', { keep: 'everything' })).status).toBe(400);
  });

  it('reports per-route counters and leaves out the routes nobody called', async () => {
    await Promise.all([kline('startup'), kline('startup'), kline('nope')]);
    const stats = await sim.stats();
    expect(Object.keys(stats.routes)).toEqual(['market.kline']);
    expect(stats.routes['market.kline']).toEqual({
      requests: 3,
      inFlight: 0,
      inFlightPeak: expect.any(Number),
      errorsInjected: 0,
      injected: { '5xx': 0, '429': 0, reset: 0, hang: 0, 'lost-response': 0, outage: 0 },
      rateLimited: 0,
      aborted: 0,
      responses: { '2xx': 2, '3xx': 0, '4xx': 1, '5xx': 0 },
    });
    expect(Date.parse(stats.since)).toBeLessThanOrEqual(Date.now());
  });

  it('serves /metrics, /healthz and /readyz on its own port, with its own series', async () => {
    await kline('startup');
    expect(await json(sim.get('/healthz'))).toEqual({ status: 'ok' });
    expect(await json(sim.get('/readyz'))).toMatchObject({ ready: true });
    const metrics = await (await sim.get('/metrics')).text();
    expect(metrics).toMatch(
      /upstream_sim_requests_total\{route="market.kline",service="upstream-sim"\} [1-9]/,
    );
    expect(metrics).toContain(
      'upstream_sim_in_flight{route="chat.completions",service="upstream-sim"} 0',
    );
    expect(metrics).toContain(
      'upstream_sim_effects_total{kind="publish.article",outcome="effect",service="upstream-sim"}',
    );
    expect(metrics).toContain('process_cpu_seconds_total');
  });

  it('answers unknown routes and malformed JSON with a clear 4xx', async () => {
    expect(await json(sim.get('/v2/nothing'))).toEqual({
      error: 'NOT_FOUND',
      message: 'no simulated route GET /v2/nothing',
    });
    const malformed = await fetch(`${sim.url}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"routes":',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: expect.stringMatching(/JSON/) });
  });
});
