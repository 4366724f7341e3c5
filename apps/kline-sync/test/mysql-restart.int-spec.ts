import { randomBytes } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { startMariaDbServer, waitFor, type PrivateMariaDbServer } from '@batchgate/testing';
import { startKlineStack, type KlineStack } from './stack.harness';

/**
 * SPEC §2.2: a job survives MySQL dying mid-job. Both services keep their databases on a MariaDB
 * of this test's own, which is SIGKILLed while stocks are in flight and started again on the same
 * data directory (InnoDB crash recovery).
 */
describe('kline-sync when MySQL crashes mid-job', () => {
  let mysql: PrivateMariaDbServer;
  let stack: KlineStack;
  const queue = `m${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    mysql = await startMariaDbServer();
    stack = await startKlineStack({ SYNC_WORK_QUEUE: queue, SYNC_ACK_WAIT_MS: '3000', SYNC_WORKER_CONCURRENCY: '4' }, 1, { mysql });
    const tokens = Array.from({ length: 6 }, (_, i) => `m-${randomBytes(3).toString('hex')}-${i}`);
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
    await (await stack?.nats.jetstreamManager())?.consumers.delete('KLINE_SYNC_WORK', `kline-sync-workers-${queue}`).catch(() => undefined);
    await stack?.stop();
    await mysql?.stop();
  });

  it('finishes the job after MySQL comes back: every stock stored once, none failed', async () => {
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
    await mysql.kill();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await mysql.restart();

    const job = await waitFor(
      async () => {
        const progress = await progressOf();
        return progress.finishedAt ? progress : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'job to finish after the MySQL restart' },
    );
    expect(doneAtCrash).toBeLessThan(200);
    expect(job).toMatchObject({ status: 'success', progress: { total: 200, done: 200, succeeded: 200, failed: 0 } });
    const [bars] = await stack.klineDatabase.query<{ stocks: number; n: number }>(
      'SELECT COUNT(DISTINCT stock_code) AS stocks, COUNT(*) AS n FROM kline_bar',
    );
    expect({ stocks: Number(bars?.stocks), n: Number(bars?.n) }).toEqual({ stocks: 200, n: 2000 });
    const [failures] = await stack.klineDatabase.query<{ n: number }>('SELECT COUNT(*) AS n FROM stk_sync_failure');
    expect(Number(failures?.n)).toBe(0);
  });
});
