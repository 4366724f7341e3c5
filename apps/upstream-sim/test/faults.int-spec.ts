import { startSim, type SimUnderTest } from './sim.harness';

describe('upstream-sim fault knobs and counters', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim({ market: { tokens: [{ token: 'ok', ratePerSecond: 0, dailyQuota: 0, revoked: false }] } });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.state.reset());

  const stats = async () => (await (await sim.get('/__sim/stats')).json()) as { routes: Record<string, Record<string, number>> };
  const kline = (signal?: AbortSignal) => sim.get('/stock/kline?region=SH&code=600000&kType=8&limit=1', { token: 'ok' }, signal);
  const timed = async (request: () => Promise<Response>) => {
    const started = performance.now();
    await (await request()).text();
    return performance.now() - started;
  };

  it('validates live configuration and rejects unknown knobs with 400', async () => {
    const bad = await sim.post('/__sim/config', { routes: { 'market.kline': { latency: { kind: 'fixed', ms: -1 } } } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'INVALID_SETTINGS' });
    expect((await sim.post('/__sim/config', { routes: { 'market.kline': { colour: 'red' } } })).status).toBe(400);
  });

  it('injects latency, 5xx at a rate, connection resets and outages', async () => {
    await sim.post('/__sim/config', { routes: { 'market.kline': { latency: { kind: 'fixed', ms: 80 } } } });
    expect(await timed(() => kline())).toBeGreaterThanOrEqual(75);

    await sim.post('/__sim/config', { routes: { 'market.kline': { errorRate: 0.5, errorKind: '5xx', seed: 7 } } });
    const codes = await Promise.all(Array.from({ length: 200 }, async () => (await kline()).status));
    const errors = codes.filter((c) => c === 500).length;
    expect(errors).toBeGreaterThan(60);
    expect(errors).toBeLessThan(140);
    expect((await stats()).routes['market.kline']?.errorsInjected).toBe(errors);

    await sim.post('/__sim/config', { routes: { 'market.kline': { errorRate: 1, errorKind: 'reset' } } });
    await expect(kline()).rejects.toThrow();

    const now = Date.now();
    await sim.post('/__sim/config', { routes: { 'market.kline': { outages: [{ startMs: now - 1_000, endMs: now + 60_000 }] } } });
    expect((await kline()).status).toBe(503);
  });

  it('hangs until the client gives up, and counts the aborted request', async () => {
    await sim.post('/__sim/config', { routes: { 'market.kline': { errorRate: 1, errorKind: 'hang' } } });
    await expect(kline(AbortSignal.timeout(150))).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await stats()).routes['market.kline']).toMatchObject({ aborted: 1, inFlight: 0 });
  });

  it('grows latency with load above the capacity knee', async () => {
    await sim.post('/__sim/config', { routes: { 'market.kline': { latency: { kind: 'fixed', ms: 20 }, knee: { capacity: 10, slopeMs: 30 } } } });
    const meanLatency = async (inFlight: number) => {
      const times = await Promise.all(Array.from({ length: inFlight }, () => timed(() => kline())));
      return times.reduce((a, b) => a + b, 0) / times.length;
    };
    const atHalf = await meanLatency(5);
    const atDouble = await meanLatency(20);
    // Up to 10 extra in flight × 30 ms: far above anything a loaded test machine adds by itself.
    expect(atDouble - atHalf).toBeGreaterThan(80);
    expect((await stats()).routes['market.kline']?.inFlightPeak).toBeGreaterThanOrEqual(15);
  });

  it('reset clears counters and state back to the start-up settings', async () => {
    await kline();
    expect((await sim.post('/__sim/reset', {})).status).toBe(200);
    expect((await stats()).routes).toEqual({});
    expect((await kline()).status).toBe(200);
  });
});
