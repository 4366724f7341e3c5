import { waitFor } from '@batchgate/testing';
import { json, startSim, type SimUnderTest } from './sim.harness';

describe('upstream-sim fault knobs and counters', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim({ settings: { market: { tokens: [{ token: 'ok' }] } } });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const kline = (signal?: AbortSignal) =>
    sim.get('/stock/kline?region=SH&code=600000&kType=8&limit=1', { token: 'ok' }, signal);
  const route = async (name: string) => (await sim.stats()).routes[name];
  /** The route's counters once its last request has been counted out (nothing in flight). */
  const settled = (name: string) =>
    waitFor(async () => {
      const counters = await route(name);
      return counters && counters.requests > 0 && counters.inFlight === 0 ? counters : undefined;
    }, { intervalMs: 10, what: `${name} to have nothing in flight` });
  const timed = async (request: () => Promise<Response>) => {
    const started = performance.now();
    await (await request()).arrayBuffer();
    return performance.now() - started;
  };
  const publish = (key: string, signal?: AbortSignal) =>
    sim.post(
      '/publishing/articles',
      { title: 'Fault drill', content: 'x' },
      { 'idempotency-key': key },
      signal,
    );

  it('rejects bad knobs with 400 and a line per problem', async () => {
    const bad = await sim.post('/__sim/config', {
      routes: {
        'market.kline': { latency: { kind: 'fixed', ms: -1 } },
        'market.klin': {},
        'chat.completions': { colour: 'red' },
      },
      publishing: { failureRate: 2 },
    });
    expect(bad.status).toBe(400);
    const body = await json<{ error: string; problems: string[] }>(bad);
    expect(body.error).toBe('INVALID_SETTINGS');
    expect(body.problems).toHaveLength(4);
    expect(body.problems.join('\n')).toMatch(/market\.klin: unknown route/);
    expect(body.problems.join('\n')).toMatch(/publishing\.failureRate/);
    expect((await sim.post('/__sim/config', [1])).status).toBe(400);
  });

  it('adds latency from the configured distribution', async () => {
    await sim.configure({ routes: { 'market.kline': { latency: { kind: 'fixed', ms: 80 } } } });
    expect(await timed(() => kline())).toBeGreaterThanOrEqual(75);
    await sim.configure({
      routes: { 'market.kline': { latency: { kind: 'uniform', minMs: 30, maxMs: 40 } } },
    });
    const times = await Promise.all(Array.from({ length: 5 }, () => timed(() => kline())));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(28);
  });

  it('injects 5xx at the configured rate, the same requests for the same seed', async () => {
    const run = async () => {
      await sim.configure({
        routes: { 'market.kline': { errorRate: 0.3, errorKind: '5xx', errorStatus: 503, seed: 7 } },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const response = await kline();
        statuses.push(response.status);
        await response.arrayBuffer();
      }
      return statuses;
    };
    const first = await run();
    const errors = first.filter((s) => s === 503).length;
    expect(errors).toBeGreaterThan(15);
    expect(errors).toBeLessThan(45);
    expect(first.filter((s) => s !== 503 && s !== 200)).toEqual([]);
    expect(await run()).toEqual(first);
    expect(await route('market.kline')).toMatchObject({
      requests: 200,
      errorsInjected: 2 * errors,
      injected: { '5xx': 2 * errors },
    });
    // Injected errors keep the provider's body shape.
    await sim.configure({ routes: { 'market.kline': { errorRate: 1 } } });
    expect(await json(kline())).toEqual({ code: 500, msg: 'simulated server error', data: null });
  });

  it('injects 429 with Retry-After, counted as rate limited', async () => {
    await sim.configure({
      routes: { 'chat.completions': { errorRate: 1, errorKind: '429', retryAfterS: 7 } },
    });
    const response = await sim.post('/v1/chat/completions', {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    expect(await route('chat.completions')).toMatchObject({
      rateLimited: 1,
      injected: { '429': 1 },
    });
  });

  it('resets connections (not counted as aborted by the client)', async () => {
    await sim.configure({ routes: { 'market.kline': { errorRate: 1, errorKind: 'reset' } } });
    await expect(kline()).rejects.toThrow();
    expect(await settled('market.kline')).toMatchObject({
      requests: 1,
      aborted: 0,
      inFlight: 0,
      injected: { reset: 1 },
    });
  });

  it('hangs until the client gives up, and counts the aborted request', async () => {
    await sim.configure({ routes: { 'market.kline': { errorRate: 1, errorKind: 'hang' } } });
    const started = performance.now();
    await expect(kline(AbortSignal.timeout(150))).rejects.toThrow();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(await settled('market.kline')).toMatchObject({
      aborted: 1,
      inFlight: 0,
      injected: { hang: 1 },
    });
    // With hangMs the simulator gives up first and resets the connection.
    await sim.configure({
      routes: { 'market.kline': { errorRate: 1, errorKind: 'hang', hangMs: 100 } },
    });
    await expect(kline()).rejects.toThrow();
    expect(await route('market.kline')).toMatchObject({ aborted: 1, injected: { hang: 2 } });
  });

  it('counts a request abandoned during its latency as aborted; its effect still happens (as on a real server)', async () => {
    await sim.configure({ routes: { 'publish.article': { latency: { kind: 'fixed', ms: 250 } } } });
    await expect(publish('slow-1', AbortSignal.timeout(50))).rejects.toThrow();
    await settled('publish.article');
    const stats = await sim.stats();
    expect(stats.routes['publish.article']).toMatchObject({ requests: 1, aborted: 1, inFlight: 0 });
    expect(stats.effects['publish.article']?.['slow-1']).toEqual({ effects: 1, repeats: 0 });
    const metrics = await (await sim.get('/metrics')).text();
    expect(metrics).toMatch(
      /upstream_sim_aborted_total\{route="publish.article",service="upstream-sim"\} 1/,
    );
  });

  it('loses the answer after the effect (lost-response): the retry with the same key is a repeat', async () => {
    await sim.configure({
      routes: { 'publish.article': { errorRate: 1, errorKind: 'lost-response' } },
    });
    await expect(publish('lost-1')).rejects.toThrow();
    expect((await sim.stats()).effects['publish.article']?.['lost-1']).toEqual({
      effects: 1,
      repeats: 0,
    });
    await sim.configure({ routes: { 'publish.article': null } });
    expect(await json(publish('lost-1'))).toMatchObject({ repeat: true });
    expect((await sim.stats()).effects['publish.article']?.['lost-1']).toEqual({
      effects: 1,
      repeats: 1,
    });
  });

  it('answers 503 with Retry-After inside an outage window (absolute or relative), resets or hangs on request', async () => {
    const now = Date.now();
    await sim.configure({
      routes: { 'market.kline': { outages: [{ startMs: now - 1_000, endMs: now + 60_000 }] } },
    });
    const down = await kline();
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(58);
    expect(await down.json()).toEqual({ code: 503, msg: 'simulated outage', data: null });

    const outageConfigured = performance.now();
    await sim.configure({
      routes: { 'market.kline': { outages: [{ startMs: 0, endMs: 200, relative: true }] } },
    });
    expect((await kline()).status).toBe(503);
    await waitFor(
      async () => {
        const response = await kline();
        await response.arrayBuffer();
        return response.status === 200 ? true : undefined;
      },
      { intervalMs: 20, what: 'the outage to end' },
    );
    expect(performance.now() - outageConfigured).toBeGreaterThanOrEqual(195);
    const outagesSoFar = (await route('market.kline'))?.injected?.['outage'] ?? 0;

    await sim.configure({
      routes: {
        'market.kline': { outages: [{ startMs: 0, endMs: 60_000, relative: true, kind: 'reset' }] },
      },
    });
    await expect(kline()).rejects.toThrow();
    expect(await route('market.kline')).toMatchObject({ injected: { outage: outagesSoFar + 1 } });
  });

  it('applies `*` knobs to every route without its own', async () => {
    await sim.configure({
      routes: { '*': { errorRate: 1, errorStatus: 502 }, 'market.kline': {} },
    });
    expect((await kline()).status).toBe(200);
    const chat = await sim.post('/v1/chat/completions', {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(chat.status).toBe(502);
    expect(await chat.json()).toMatchObject({ error: { type: 'server_error' } });
    expect((await publish('any')).status).toBe(502);
  });

  it('grows latency with load above the capacity knee: 2K in flight is clearly slower than K/2', async () => {
    const K = 10;
    await sim.configure({
      routes: {
        'market.kline': { latency: { kind: 'fixed', ms: 50 }, knee: { capacity: K, slopeMs: 20 } },
      },
    });
    const wave = async (inFlight: number) =>
      Promise.all(Array.from({ length: inFlight }, () => timed(() => kline())));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const half = await wave(K / 2);
    const peakAtHalf = (await route('market.kline'))?.inFlightPeak ?? 0;
    const double = await wave(2 * K);
    // At 2K the last arrivals wait up to K × 20 ms more; the mean grows by about 55 ms.
    expect(mean(double) - mean(half)).toBeGreaterThan(30);
    expect(Math.max(...double)).toBeGreaterThan(Math.max(...half) + 100);
    expect(peakAtHalf).toBeLessThanOrEqual(K / 2);
    expect((await route('market.kline'))?.inFlightPeak).toBeGreaterThanOrEqual(1.5 * K);
  });

  it('releases hung requests when the server closes', async () => {
    const own = await startSim({
      settings: { routes: { 'webhook.notify': { errorRate: 1, errorKind: 'hang' } } },
    });
    const pending = own.post('/webhook/notify', { event: 'x' });
    const outcome = pending.then(
      () => 'answered',
      () => 'reset',
    );
    await waitFor(async () => ((await own.stats()).routes['webhook.notify']?.inFlight === 1 ? true : undefined), {
      intervalMs: 10,
      what: 'the webhook request to hang at the server',
    });
    const started = performance.now();
    await own.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await outcome).toBe('reset');
  });
});
