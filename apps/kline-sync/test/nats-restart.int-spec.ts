import { randomBytes } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { queryTestDatabase, startNatsServer, waitFor, type PrivateNatsServer } from '@batchgate/testing';
import { startKlineStack, type KlineStack } from './stack.harness';

/**
 * SPEC §2.2: a job survives NATS dying mid-job. The services run against a NATS of this test's
 * own, which is SIGKILLed while stocks are in flight and started again on the same store.
 */
describe('kline-sync when NATS crashes mid-job', () => {
  let nats: PrivateNatsServer;
  let stack: KlineStack;

  beforeAll(async () => {
    nats = await startNatsServer();
    // Few stocks in hand at once, so the crash leaves most of the job on the stream.
    stack = await startKlineStack({ SYNC_ACK_WAIT_MS: '3000', SYNC_WORKER_CONCURRENCY: '4' }, 1, { natsUrl: nats.url });
    const tokens = Array.from({ length: 6 }, (_, i) => `n-${randomBytes(3).toString('hex')}-${i}`);
    await stack.sim('/__sim/config', {
      routes: { 'market.kline': { latency: { kind: 'fixed', ms: 20 } } },
      market: { tokens: tokens.map((token) => ({ token, ratePerSecond: 10 })) },
    });
    for (const [i, secret] of tokens.entries()) {
      await lastValueFrom(
        stack.tokenManager.createToken({ provider: 'itick', name: `t${i}`, secret, dailyLimit: 0, rateLimitPerSecond: 10, expireTime: '' }),
      );
    }
    const stocks = Array.from({ length: 200 }, (_, i) => ({ code: String(600000 + i), market: 'SH', name: '' }));
    await lastValueFrom(stack.klineSync.importStocks({ stocks }));
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await nats?.stop();
  });

  it('finishes the job after NATS comes back: every stock pulled once into the store, none failed', async () => {
    const owner = { userId: 'alice', tenant: 'acme' };
    const started = await lastValueFrom(
      stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-02-01', endDate: '2026-02-10', kType: 8, ...owner }),
    );
    const progressOf = async () => lastValueFrom(stack.klineSync.getSyncJob({ id: started.id, ...owner }));
    const doneAtCrash = await waitFor(
      async () => {
        const done = (await progressOf()).progress?.done ?? 0;
        return done >= 40 ? done : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: '40 stocks done' },
    );
    await nats.kill();
    // While NATS is down, stocks in hand finish (MySQL and the provider are up), new ones wait.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const duringOutage = await progressOf();
    expect(duringOutage.finishedAt).toBe('');
    expect(duringOutage.progress?.done).toBeLessThan(200);
    await nats.restart();

    const job = await waitFor(
      async () => {
        const progress = await progressOf();
        return progress.finishedAt ? progress : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'job to finish after the NATS restart' },
    );
    expect(doneAtCrash).toBeLessThan(200);
    // Messages whose ack was lost with NATS come again; their stocks are not pulled a second time.
    const stats = (await stack.sim('/__sim/stats')) as { market: { tokens: Array<{ usage: { served: number } }> } };
    expect(stats.market.tokens.reduce((sum, t) => sum + t.usage.served, 0)).toBe(200);
    expect(job).toMatchObject({ status: 'success', progress: { total: 200, done: 200, succeeded: 200, failed: 0 } });
    const [bars] = await queryTestDatabase<{ stocks: number; n: number }>(
      stack.klineDatabase.name,
      'SELECT COUNT(DISTINCT stock_code) AS stocks, COUNT(*) AS n FROM kline_bar',
    );
    expect({ stocks: Number(bars?.stocks), n: Number(bars?.n) }).toEqual({ stocks: 200, n: 2000 });
    const [failures] = await queryTestDatabase<{ n: number }>(stack.klineDatabase.name, 'SELECT COUNT(*) AS n FROM stk_sync_failure');
    expect(Number(failures?.n)).toBe(0);
  });

  it('accepts a job while NATS is down: it is stored, and its stocks are queued once NATS is back', async () => {
    const owner = { userId: 'bob', tenant: 'acme' };
    await nats.kill();
    const started = await lastValueFrom(
      stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-03-01', endDate: '2026-03-05', kType: 8, ...owner }),
    );
    const [stored] = await queryTestDatabase<{ status: string; total: number }>(
      stack.klineDatabase.name,
      'SELECT status, total FROM sync_job WHERE id = ?',
      [started.id],
    );
    expect(stored).toEqual({ status: 'queued', total: 200 });
    await nats.restart();
    const job = await waitFor(
      async () => {
        const progress = await lastValueFrom(stack.klineSync.getSyncJob({ id: started.id, ...owner }));
        return progress.finishedAt ? progress : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'job accepted during the outage to finish' },
    );
    expect(job).toMatchObject({ status: 'success', progress: { total: 200, done: 200, succeeded: 200, failed: 0 } });
  });
});
