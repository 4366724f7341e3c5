import { randomBytes } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import type { SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import { TokenStatus } from '@batchgate/contracts/tokens/v1/tokens';
import { queryTestDatabase, waitFor } from '@batchgate/testing';
import { deleteSyncWorkConsumer, startKlineStack, type KlineStack } from './stack.harness';

const STOCKS = Array.from({ length: 300 }, (_, i) => ({ code: String(600000 + i), market: 'SH', name: `Stock ${i}` }));
const BAD_STOCK = { code: '699999', market: 'SH', name: 'Delisted' };
const TOKENS = Array.from({ length: 12 }, (_, i) => `itick-${randomBytes(3).toString('hex')}-${i}`);
const PROVIDER_RATE = 25;

interface SimStats {
  market: { tokens: Array<{ token: string; usage: { calls: number; served: number } }> };
}

/**
 * Seed 004's integration scenario against the real stack: 300 stocks and 12 tokens → 2 threads of
 * 6 tokens; revoking tokens mid-run retires them and fails only the stocks that used them (with
 * one attempt per stock, as the seed); retry-failed re-pulls each failure with its own dates; a
 * stock the provider does not know is given up after maxRetryCount.
 */
describe('kline-sync: the seed scenario', () => {
  let stack: KlineStack;
  const queue = `t${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    stack = await startKlineStack({ SYNC_WORK_QUEUE: queue, SYNC_CALL_MAX_ATTEMPTS: '1', SYNC_MAX_IN_FLIGHT_PER_TOKEN: '2' });
    // With one attempt per stock, a single 429 would fail a stock. The provider here allows 25
    // calls/s per token against the 20/s the tokens are registered with: a process starved by the
    // other suites running beside this one can bunch calls together on arrival. Rate accuracy is
    // the scale-out test's and the benchmark's subject, not this scenario's.
    await stack.sim('/__sim/config', {
      routes: { 'market.kline': { latency: { kind: 'fixed', ms: 15 } } },
      market: { unknownStocks: [`SH:${BAD_STOCK.code}`], tokens: TOKENS.map((token) => ({ token, ratePerSecond: PROVIDER_RATE })) },
    });
    for (const [i, secret] of TOKENS.entries()) {
      await lastValueFrom(
        stack.tokenManager.createToken({ tenant: 'acme', provider: 'itick', name: `t${i}`, secret, dailyLimit: 0, rateLimitPerSecond: 20, expireTime: '' }),
      );
    }
    await lastValueFrom(stack.klineSync.importStocks({ tenant: 'acme', stocks: [...STOCKS, BAD_STOCK] }));
  }, 90_000);

  afterAll(async () => {
    await deleteSyncWorkConsumer(stack.nats, queue);
    await stack.stop();
  });

  const job = (id: string) => lastValueFrom(stack.klineSync.getSyncJob({ id, userId: 'alice', tenant: 'acme' }));

  it('plans 2 threads of 6 tokens, stores every bar the provider defines, and survives revoked tokens', async () => {
    const started = await lastValueFrom(
      stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-01-01', endDate: '2026-01-31', kType: 8, userId: 'alice', tenant: 'acme' }),
    );
    // Stored and answered before its planning (which asks token-manager for the tenant's tokens).
    expect(started).toMatchObject({ status: 'queued', progress: { total: 301, done: 0 }, plan: { threads: 0, tokensPerThread: [], tokenCount: 0 } });
    const planned = await waitFor(async () => ((await job(started.id)).plan?.tokenCount ? (await job(started.id)).plan : undefined), {
      what: 'the job to be planned',
    });
    expect(planned).toEqual({ threads: 2, tokensPerThread: [6, 6], tokenCount: 12 });

    // Mid-run, the provider revokes two tokens.
    await waitFor(async () => ((await job(started.id)).progress?.done ?? 0) >= 60 ? true : undefined, { timeoutMs: 60_000 });
    const revoked = TOKENS.slice(0, 2);
    await stack.sim('/__sim/market/tokens', revoked.map((token) => ({ token, ratePerSecond: PROVIDER_RATE, revoked: true })));

    const finished: SyncJob = await waitFor(
      async () => {
        const current = await job(started.id);
        return current.finishedAt ? current : undefined;
      },
      { timeoutMs: 90_000, what: 'job to finish' },
    );
    expect(finished.status).toBe('partial');
    expect(finished.progress?.done).toBe(301);
    expect(finished.elapsedMs).toBeGreaterThan(0);

    // Failures: the unknown stock, and the stocks whose one attempt hit a revoked token.
    const failures = await queryTestDatabase<{ stock_code: string; start_date: string; end_date: string; status: number; failure_reason: string }>(
      stack.klineDatabase.name,
      "SELECT stock_code, DATE_FORMAT(start_date, '%Y-%m-%d') AS start_date, DATE_FORMAT(end_date, '%Y-%m-%d') AS end_date, status, failure_reason FROM stk_sync_failure",
    );
    expect(failures.map((f) => f.stock_code)).toContain(BAD_STOCK.code);
    expect(failures.length).toBe(finished.progress?.failed);
    expect(failures.every((f) => f.start_date === '2026-01-01' && f.end_date === '2026-01-31' && f.status === 0)).toBe(true);
    const revokedFailures = failures.filter((f) => f.stock_code !== BAD_STOCK.code);
    expect(revokedFailures.length).toBeGreaterThan(0);
    // The provider's refusal, or — for a stock that had leased a revoked token before another
    // stock's refusal retired it — token-manager's refusal of the retired token.
    expect(revokedFailures.filter((f) => !/revoked|invalid|no longer usable/.test(f.failure_reason))).toEqual([]);

    // Both revoked tokens are retired at token-manager; the other ten are untouched.
    const tokens = await lastValueFrom(stack.tokenManager.listTokens({ tenant: 'acme', provider: 'itick', status: 0, page: { page: 1, pageSize: 100 } }));
    const retiredNames = tokens.tokens.filter((t) => t.status === TokenStatus.TOKEN_STATUS_RETIRED).map((t) => t.name).sort();
    expect(retiredNames).toEqual(['t0', 't1']);

    // Every succeeded stock has exactly the bars the simulator defines for January.
    const stored = await queryTestDatabase<{ n: number }>(stack.klineDatabase.name, 'SELECT COUNT(*) AS n FROM kline_bar');
    expect(Number(stored[0]?.n)).toBe((301 - failures.length) * 31);
    const sample = STOCKS.find((s) => !failures.some((f) => f.stock_code === s.code));
    const ours = await lastValueFrom(stack.klineSync.getKline({ tenant: 'acme', market: 'SH', code: sample?.code ?? '', kType: 8, from: 0, to: 0 }));
    const referenceToken = `reference-${randomBytes(3).toString('hex')}`;
    await stack.sim('/__sim/market/tokens', { token: referenceToken });
    const theirs = (await (
      await fetch(`${stack.simUrl}/stock/kline?region=SH&code=${sample?.code}&kType=8&limit=31&et=${Date.parse('2026-01-31T23:59:59.999Z')}`, {
        headers: { token: referenceToken },
      })
    ).json()) as { data: unknown[] };
    expect(ours.bars).toEqual(theirs.data);

    // The seed's monitoring list, on the replica's /metrics.
    const metrics = await (await fetch(stack.klineSyncOpsUrls[0] ?? '')).text();
    expect(metrics).toContain('jobs_job_duration_seconds_count{service="kline-sync",kind="sync",status="partial"} 1');
    expect(metrics).toContain(`jobs_items_total{kind="sync",outcome="failed",service="kline-sync"} ${finished.progress?.failed}`);
    expect(metrics).toMatch(/kline_sync_token_calls_total\{token_id="\d+",service="kline-sync"\} \d+/);
    expect(metrics).toContain('kline_sync_plan_tokens_per_thread{thread="1",service="kline-sync"} 6');
    expect(metrics).toMatch(/concurrency_in_flight\{name="itick-tokens",service="kline-sync"\}/);

    // Quota accounting: token-manager's daily_used equals the calls the simulator counted per token,
    // once the replica has given back the calls it reserved and did not make (a second after their
    // slots passed; at once for the revoked tokens).
    const simStats = (await stack.sim('/__sim/stats')) as SimStats;
    const counted = TOKENS.map((token, i) => ({ token: i, used: simStats.market.tokens.find((t) => t.token === token)?.usage.calls ?? 0 }));
    const usage = async () => {
      const all = await lastValueFrom(stack.tokenManager.listTokens({ tenant: 'acme', provider: 'itick', status: 0, page: { page: 1, pageSize: 100 } }));
      const usedByName = new Map(all.tokens.map((t) => [t.name, t.dailyUsed]));
      return TOKENS.map((_, i) => ({ token: i, used: usedByName.get(`t${i}`) }));
    };
    await waitFor(async () => (JSON.stringify(await usage()) === JSON.stringify(counted) ? true : undefined), { timeoutMs: 10_000 }).catch(() => undefined);
    expect(await usage()).toEqual(counted);
  });

  it('retry-failed re-pulls each failure with its own dates; an unknown stock is given up after maxRetryCount', async () => {
    const first = await lastValueFrom(stack.klineSync.retryFailed({ tenant: 'acme', stockCode: '', maxRetryCount: 3 }));
    const pending = await queryTestDatabase<{ stock_code: string; status: number; retry_count: number }>(
      stack.klineDatabase.name,
      'SELECT stock_code, status, retry_count FROM stk_sync_failure ORDER BY id',
    );
    expect(first.retried).toBe(pending.length);
    expect(first.succeeded).toBe(pending.length - 1);
    for (const row of pending) {
      if (row.stock_code === BAD_STOCK.code) expect(row).toMatchObject({ status: 0, retry_count: 1 });
      else expect(row).toMatchObject({ status: 1, retry_count: 1 });
    }
    await lastValueFrom(stack.klineSync.retryFailed({ tenant: 'acme', stockCode: BAD_STOCK.code, maxRetryCount: 3 }));
    const last = await lastValueFrom(stack.klineSync.retryFailed({ tenant: 'acme', stockCode: BAD_STOCK.code, maxRetryCount: 3 }));
    expect(last).toMatchObject({ retried: 1, succeeded: 0, givenUp: 1 });
    const nothingLeft = await lastValueFrom(stack.klineSync.retryFailed({ tenant: 'acme', stockCode: '', maxRetryCount: 3 }));
    expect(nothingLeft.retried).toBe(0);

    const list = await lastValueFrom(stack.klineSync.listFailures({ tenant: 'acme', stockCode: BAD_STOCK.code, status: 2, page: { page: 1, pageSize: 20 } }));
    expect(list.failures).toEqual([expect.objectContaining({ stockCode: BAD_STOCK.code, status: 2, retryCount: 3 })]);
    const newestFirst = await lastValueFrom(stack.klineSync.listFailures({ tenant: 'acme', stockCode: '', status: -1, page: { page: 1, pageSize: 5 } }));
    const ids = newestFirst.failures.map((f) => f.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it("keeps every tenant to its own stocks, failures, bars and tokens", async () => {
    const other = 'globex';
    const failuresOf = (tenant: string) =>
      lastValueFrom(stack.klineSync.listFailures({ tenant, stockCode: '', status: -1, page: { page: 1, pageSize: 100 } }));
    const acmeFailures = await failuresOf('acme');
    expect(acmeFailures.failures.length).toBeGreaterThan(0);
    const storedBefore = await queryTestDatabase<{ n: number }>(stack.klineDatabase.name, "SELECT COUNT(*) AS n FROM kline_bar WHERE tenant = 'acme'");
    expect(Number(storedBefore[0]?.n)).toBeGreaterThan(0);

    // The other tenant sees none of acme's failures or bars, and its retry re-pulls nothing of acme's.
    expect(await failuresOf(other)).toEqual({ failures: [], page: { page: 1, pageSize: 100, total: 0 } });
    expect(await lastValueFrom(stack.klineSync.retryFailed({ tenant: other, stockCode: '', maxRetryCount: 5 }))).toEqual({
      retried: 0,
      succeeded: 0,
      failed: 0,
      givenUp: 0,
    });
    const acmeBars = await lastValueFrom(stack.klineSync.getKline({ tenant: 'acme', market: 'SH', code: STOCKS[5]?.code ?? '', kType: 8, from: 0, to: 0 }));
    expect(acmeBars.bars.length).toBe(31);
    expect((await lastValueFrom(stack.klineSync.getKline({ tenant: other, market: 'SH', code: STOCKS[5]?.code ?? '', kType: 8, from: 0, to: 0 }))).bars).toEqual([]);

    // Its import creates its own rows (the same codes count as new), and acme's next job still
    // plans acme's 301 stocks, not the other tenant's extra one.
    const imported = await lastValueFrom(
      stack.klineSync.importStocks({ tenant: other, stocks: [...STOCKS.slice(0, 3), { code: '688001', market: 'SH', name: 'Only theirs' }] }),
    );
    expect(imported).toEqual({ inserted: 4, updated: 0 });
    const acmeJob = await lastValueFrom(
      stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-02-02', endDate: '2026-02-03', kType: 8, userId: 'alice', tenant: 'acme' }),
    );
    expect(acmeJob.progress?.total).toBe(301);
    await lastValueFrom(stack.klineSync.cancelSyncJob({ id: acmeJob.id, userId: 'alice', tenant: 'acme' }));

    const errorCode = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        (error: { metadata: { get: (key: string) => unknown[] } }) => error.metadata.get('x-error-code')[0],
      );
    const start = (tenant: string, userId = 'alice') =>
      lastValueFrom(stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-02-02', endDate: '2026-02-03', kType: 8, userId, tenant }));
    // Its jobs use its own token pool, which is empty: acme's twelve tokens are not lent to it. The
    // job is planned on no token and each stock fails for want of one (a failure row to re-pull).
    const tokenless = await start(other);
    const tokenlessEnd = await waitFor(
      async () => {
        const current = await lastValueFrom(stack.klineSync.getSyncJob({ id: tokenless.id, userId: 'alice', tenant: other }));
        return current.finishedAt ? current : undefined;
      },
      { what: 'the tokenless job to end' },
    );
    expect(tokenlessEnd).toMatchObject({ status: 'failed', plan: { tokenCount: 0 }, progress: { total: 4, failed: 4 } });
    const tokenlessFailures = (await failuresOf(other)).failures;
    expect(tokenlessFailures.map((f) => f.failureReason)).toEqual(Array.from({ length: 4 }, () => expect.stringMatching(/no usable credential/)));
    // An owner that cannot be stored is refused, never a row of nobody's (or a 500).
    expect(await errorCode(start(''))).toBe('REQUEST.INVALID_TENANT');
    expect(await errorCode(start('acme', 'u'.repeat(129)))).toBe('REQUEST.INVALID_USER');
    // acme's job stays invisible to the same user name in the other tenant.
    expect(await errorCode(lastValueFrom(stack.klineSync.getSyncJob({ id: acmeJob.id, userId: 'alice', tenant: other })))).toBe('SYNC.JOB_NOT_FOUND');
    expect((await failuresOf('acme')).failures).toEqual(acmeFailures.failures);

    // A pool read while it was empty is read again before a pull fails for want of a token: the
    // other tenant's trigger right after it stored a token pulls with that token.
    const trigger = { id: 'g', market: 'SH', code: STOCKS[0]?.code ?? '', kType: 8, priceChangePercent: 0, bars: 2 };
    const withoutTokens = await lastValueFrom(stack.klineSync.executeTriggers({ tenant: other, triggers: [trigger] }));
    expect(withoutTokens.results[0]?.error).toMatch(/no usable credential/);
    await lastValueFrom(
      stack.tokenManager.createToken({ tenant: other, provider: 'itick', name: 'g0', secret: TOKENS[5] ?? '', dailyLimit: 0, rateLimitPerSecond: 20, expireTime: '' }),
    );
    const withToken = await lastValueFrom(stack.klineSync.executeTriggers({ tenant: other, triggers: [trigger] }));
    expect(withToken.results).toEqual([expect.objectContaining({ id: 'g', fired: true, error: '' })]);
  });
});
