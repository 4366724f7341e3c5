import { waitFor, waitForBatchStopped } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

/**
 * SPEC §2.5: a client that closes its connection before the answer stops the work it asked for.
 * The gateway cancels the gRPC call, and kline-sync aborts the provider calls it was making.
 */
describe('a client that gives up', () => {
  let stack: Stack;
  let bearer: Record<string, string>;
  const sim = (path: string, body?: unknown) =>
    fetch(`${stack.services.url('upstream-sim', 'http')}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((response) => response.json() as Promise<unknown>);

  beforeAll(async () => {
    // The client's abandoned connection would hold the gateway's shutdown until the drain limit.
    stack = await startStack({ services: ['kline-sync'], env: { gateway: { SHUTDOWN_TIMEOUT_MS: '2000' } } });
    const token = await stack.mintToken({ perms: ['tokens:admin', 'stock:sync:run'] });
    bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // A slow provider: 1.5 s a call. The gateway's deadline for triggers is 120 s, so only the
    // client's disconnect can stop them early.
    await sim('/__sim/config', {
      routes: { 'market.kline': { latency: { kind: 'fixed', ms: 1_500 } } },
      market: { tokens: [1, 2, 3].map((i) => ({ token: `cancel-itick-${i}`, ratePerSecond: 10 })) },
    });
    for (const i of [1, 2, 3]) {
      await stack.fetch(`/api/tokens`, {
        method: 'POST',
        headers: bearer,
        body: JSON.stringify({ provider: 'itick', secret: `cancel-itick-${i}`, rateLimitPerSecond: 10 }),
      });
    }
  }, 90_000);
  afterAll(async () => {
    await expect(stack.stop()).resolves.toBeUndefined();
  });

  it('cancels the provider calls of a trigger request whose client disconnected', async () => {
    const triggers = Array.from({ length: 9 }, (_, i) => ({ id: `t${i}`, market: 'SH', code: String(600000 + i), kType: 1, priceChangePercent: 1, bars: 5 }));
    const client = new AbortController();
    const request = stack.fetch(`/api/intraday/parallel/execute-multiple`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify(triggers),
      signal: client.signal,
    });
    // Disconnect once the provider is working for the request.
    const simRoute = async () => ((await sim('/__sim/stats')) as { routes: Record<string, { requests: number; aborted: number }> }).routes['market.kline'];
    await waitFor(async () => ((await simRoute())?.requests ?? 0) > 0 || undefined, { timeoutMs: 10_000, what: 'the first provider call' });
    client.abort();
    await expect(request).rejects.toThrow();
    // The batch is over once nothing of it runs any more; unstopped, it would start the next
    // triggers as soon as the first ones ended (9 triggers, 3 at a time, 1.5 s each).
    const started = await waitForBatchStopped(`${stack.services.url('kline-sync', 'ops')}/metrics`, 'intraday-triggers');
    const kline = await waitFor(
      async () => {
        const route = await simRoute();
        return route && route.requests > 0 && route.aborted === route.requests ? route : undefined;
      },
      { timeoutMs: 10_000, what: 'the provider to see every call aborted' },
    );
    expect(started).toBeLessThanOrEqual(3);
    expect(kline.requests).toBeLessThanOrEqual(3);
  });
});
