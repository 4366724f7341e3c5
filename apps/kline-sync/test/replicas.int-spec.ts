import { randomBytes } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import type { SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import { queryTestDatabase, waitFor } from '@batchgate/testing';
import { deleteSyncWorkConsumer, startKlineStack, type KlineStack } from './stack.harness';

interface SimStats {
  market: { tokens: Array<{ token: string; usage: { calls: number; served: number; rateLimited: number } }> };
}

/** Two kline-sync replicas, each with its own token-manager replica, sharing one job. */
// Each case starts its own stack of five processes inside the test.
jest.setTimeout(120_000);

describe('kline-sync scale-out', () => {
  let stack: KlineStack;
  let queue: string;

  const prepare = async (stocks: number, tokens: Array<{ secret: string; dailyLimit: number }>) => {
    queue = `t${randomBytes(4).toString('hex')}`;
    stack = await startKlineStack({ SYNC_WORK_QUEUE: queue, SYNC_ACK_WAIT_MS: '3000' }, 2);
    await stack.addKlineSyncReplica();
    await stack.sim('/__sim/config', {
      routes: { 'market.kline': { latency: { kind: 'fixed', ms: 20 } } },
      market: { tokens: tokens.map((t) => ({ token: t.secret, ratePerSecond: 10 })) },
    });
    for (const [i, token] of tokens.entries()) {
      await lastValueFrom(
        stack.tokenManager.createToken({ tenant: 'acme', provider: 'itick', name: `t${i}`, secret: token.secret, dailyLimit: token.dailyLimit, rateLimitPerSecond: 10, expireTime: '' }),
      );
    }
    const list = Array.from({ length: stocks }, (_, i) => ({ code: String(600000 + i), market: 'SH', name: '' }));
    await lastValueFrom(stack.klineSync.importStocks({ tenant: 'acme', stocks: list }));
  };

  const runJob = async (onProgress?: (job: SyncJob) => Promise<void>) => {
    const started = await lastValueFrom(
      stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-02-01', endDate: '2026-02-10', kType: 8, userId: 'alice', tenant: 'acme' }),
    );
    return waitFor(
      async () => {
        const job = await lastValueFrom(stack.klineSync.getSyncJob({ id: started.id, userId: 'alice', tenant: 'acme' }));
        await onProgress?.(job);
        return job.finishedAt ? job : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'job to finish' },
    );
  };

  afterEach(async () => {
    await deleteSyncWorkConsumer(stack.nats, queue);
    await stack.stop();
  });

  it('never lets a token pass its daily limit: daily_used equals the calls the provider counted', async () => {
    const tokens = Array.from({ length: 6 }, (_, i) => ({ secret: `q-${randomBytes(3).toString('hex')}-${i}`, dailyLimit: 25 }));
    await prepare(200, tokens);
    const job = await runJob();
    expect(job.progress?.done).toBe(200);
    expect(job.status).toBe('partial');

    const simStats = (await stack.sim('/__sim/stats')) as SimStats;
    const rows = await queryTestDatabase<{ name: string; daily_used: number }>(stack.tokenDatabase.name, 'SELECT name, daily_used FROM api_token');
    let rateLimited = 0;
    for (const [i, token] of tokens.entries()) {
      const used = rows.find((r) => r.name === `t${i}`)?.daily_used;
      const usage = simStats.market.tokens.find((t) => t.token === token.secret)?.usage;
      expect({ token: i, used }).toEqual({ token: i, used: usage?.calls });
      expect(used).toBe(25);
      rateLimited += usage?.rateLimited ?? 0;
    }
    // Every reserved call reached the provider: the stocks that got bars are the calls it did not
    // refuse for rate. Token-manager books every call a slot under the token's rate (with a gap
    // where the replicas' slots meet) and each replica paces its own calls as the provider counts
    // them, so a refusal is rare: 0–1 of 150 on a quiet machine, 11–19 at a load average of 8–12,
    // when the event loop's delays shift the paced calls. How rare is bench:kline's measure; the
    // bound here only catches pacing that is gone (then most calls in a window would be refused).
    expect(job.progress?.succeeded).toBe(150 - rateLimited);
    expect(rateLimited).toBeLessThan(150 * 0.2);
  });

  it('loses no stock when a replica is killed mid-job: its stocks are redelivered to the other', async () => {
    const tokens = Array.from({ length: 12 }, (_, i) => ({ secret: `k-${randomBytes(3).toString('hex')}-${i}`, dailyLimit: 0 }));
    await prepare(240, tokens);
    let killed = false;
    const job = await runJob(async (progress) => {
      if (!killed && (progress.progress?.done ?? 0) >= 60) {
        killed = true;
        await stack.processes.klineSync[1]?.kill();
      }
    });
    expect(killed).toBe(true);
    expect(job).toMatchObject({ status: 'success', progress: { total: 240, done: 240, succeeded: 240, failed: 0 } });
    const [bars] = await queryTestDatabase<{ stocks: number; n: number }>(
      stack.klineDatabase.name,
      'SELECT COUNT(DISTINCT stock_code) AS stocks, COUNT(*) AS n FROM kline_bar',
    );
    expect({ stocks: Number(bars?.stocks), n: Number(bars?.n) }).toEqual({ stocks: 240, n: 2400 });
    const [failures] = await queryTestDatabase<{ n: number }>(stack.klineDatabase.name, 'SELECT COUNT(*) AS n FROM stk_sync_failure');
    expect(Number(failures?.n)).toBe(0);
  });
});
