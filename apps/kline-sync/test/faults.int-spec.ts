import { randomBytes } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import type { SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import { startTcpProxy, waitFor, type TcpProxy } from '@batchgate/testing';
import { provideTokens, startKlineStack, type KlineStack } from './stack.harness';

/**
 * SPEC §2.8: a fault never turns work already done into a failure, nor repeats a billed call.
 * Each fault strikes a 1,000-stock job (one day bar per stock, so one provider call each) of one
 * kline-sync replica whose MySQL and NATS connections run through TCP proxies of this test; the
 * provider is upstream-sim. After the fault every stock ends `success`, its bar stored once, and
 * the provider served exactly one call per stock.
 *
 * The faults last until the service has felt them (a condition on its metrics, its readiness or
 * the provider's counters), not a fixed time: on a loaded machine a fixed window may pass before
 * anything was in flight.
 */
const STOCKS = 1_000;
const TOKENS = 20;
const RATE_PER_TOKEN = 10;
/**
 * Long enough that a fault always finds calls on the wire (200 calls/s × 150 ms = 30 stocks
 * mid-fetch), short enough that the job takes seconds.
 */
const LATENCY_MS = 150;
const DAY = '2026-02-02';

interface FaultStack {
  stack: KlineStack;
  mysql: TcpProxy;
  nats: TcpProxy;
}

interface SimStats {
  routes: Record<string, { requests: number; injected: { outage: number } }>;
  market: { tokens: Array<{ token: string; usage: { calls: number; served: number; rateLimited: number } }> };
}

async function startFaultStack(): Promise<FaultStack> {
  const [mysql, nats] = [await startTcpProxy({ host: '127.0.0.1', port: 3306 }), await startTcpProxy({ host: '127.0.0.1', port: 4222 })];
  const queue = `f${randomBytes(4).toString('hex')}`;
  const stack = await startKlineStack({
    SYNC_WORK_QUEUE: queue,
    DB_HOST: mysql.host,
    DB_PORT: String(mysql.port),
    NATS_URL: `nats://${nats.host}:${nats.port}`,
  });
  await provideTokens(stack, { count: TOKENS, ratePerSecond: RATE_PER_TOKEN, latencyMs: LATENCY_MS });
  const stocks = Array.from({ length: STOCKS }, (_, i) => ({ code: String(600000 + i), market: 'SH', name: '' }));
  await lastValueFrom(stack.klineSync.importStocks({ tenant: 'acme', stocks }));
  return { stack, mysql, nats };
}

jest.setTimeout(240_000);

describe('kline-sync under faults, each during a 1,000-stock job', () => {
  let f: FaultStack;

  beforeEach(async () => {
    f = await startFaultStack();
  }, 120_000);

  afterEach(async () => {
    await f?.stack.stop();
    await Promise.all([f?.mysql.close(), f?.nats.close()]);
  });

  const opsUrl = (path: string) => (f.stack.klineSyncOpsUrls[0] ?? '').replace(/\/metrics$/, path);
  const stats = async () => (await f.stack.sim('/__sim/stats')) as SimStats;
  const served = async () => (await stats()).market.tokens.reduce((sum, t) => sum + t.usage.served, 0);
  const startJob = () =>
    lastValueFrom(f.stack.klineSync.startSyncJob({ market: 'SH', startDate: DAY, endDate: DAY, kType: 8, userId: 'alice', tenant: 'acme' }));
  const progressOf = (job: SyncJob) => lastValueFrom(f.stack.klineSync.getSyncJob({ id: job.id, userId: 'alice', tenant: 'acme' }));
  const doneAtLeast = (job: SyncJob, done: number) =>
    waitFor(async () => ((await progressOf(job)).progress?.done ?? 0) >= done || undefined, { timeoutMs: 60_000, intervalMs: 50, what: `${done} stocks done` });
  const finished = (job: SyncJob) =>
    waitFor(
      async () => {
        const progress = await progressOf(job);
        return progress.finishedAt ? progress : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'the job to finish after the fault' },
    );
  const readyChecks = async () => ((await (await fetch(opsUrl('/readyz'))).json()) as { checks: Record<string, string> }).checks;
  /** Waits until the provider has served `more` calls since `since`: work went on during the fault. */
  const servedGrew = async (since: number, more: number) =>
    waitFor(async () => (await served()) >= since + more || undefined, { timeoutMs: 30_000, intervalMs: 50, what: `${more} more provider calls` });
  /** Waits until the provider has served nothing for a second: the work is stuck on the fault. */
  const workStalled = async () => {
    let last = -1;
    await waitFor(
      async () => {
        const now = await served();
        const stalled = now === last;
        last = now;
        return stalled || undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'the work to stall' },
    );
  };

  /** Every stock `success`, one bar each, no failure row, and one provider call per stock. */
  const expectEveryStockDoneOnce = async (job: SyncJob) => {
    const outcome = await finished(job);
    const failures = await f.stack.klineDatabase.query<{ stock_code: string; failure_reason: string }>('SELECT stock_code, failure_reason FROM stk_sync_failure');
    expect(failures).toEqual([]);
    expect(outcome).toMatchObject({ status: 'success', progress: { total: STOCKS, done: STOCKS, succeeded: STOCKS, failed: 0 } });
    const [bars] = await f.stack.klineDatabase.query<{ stocks: number; n: number }>('SELECT COUNT(DISTINCT stock_code) AS stocks, COUNT(*) AS n FROM kline_bar');
    expect({ stocks: Number(bars?.stocks), bars: Number(bars?.n) }).toEqual({ stocks: STOCKS, bars: STOCKS });
    expect(await served()).toBe(STOCKS);
  };

  it('MySQL cut, then blackholed: fetched stocks wait for the database and are stored once', async () => {
    const job = await startJob();
    await doneAtLeast(job, 150);
    const servedAtCut = await served();
    f.mysql.setMode('cut');
    // Stocks in hand were fetched while the database was gone, and wait to be stored.
    await servedGrew(servedAtCut, 5);
    await waitFor(() => f.stack.processes.klineSync[0]?.output().includes('the stock is stored when it is back') || undefined, {
      timeoutMs: 30_000,
      what: 'a fetched stock waiting for the database',
    });
    f.mysql.setMode('blackhole');
    await waitFor(async () => Object.values(await readyChecks()).includes('down') || undefined, {
      timeoutMs: 30_000,
      what: 'readiness to report the database down',
    });
    const acceptedInBlackhole = f.mysql.acceptedConnections;
    await waitFor(() => f.mysql.acceptedConnections > acceptedInBlackhole || undefined, { timeoutMs: 30_000, what: 'a connection attempt into the blackhole' });
    f.mysql.setMode('pass');

    await expectEveryStockDoneOnce(job);
  });

  it('NATS cut, then blackholed: acks and heartbeats lost on the way repeat no stock', async () => {
    const job = await startJob();
    await doneAtLeast(job, 150);
    const acceptedAtCut = f.nats.acceptedConnections;
    f.nats.setMode('cut');
    // The client tried to reconnect (refused) at least twice.
    await waitFor(() => f.nats.acceptedConnections >= acceptedAtCut + 2 || undefined, { timeoutMs: 30_000, what: 'NATS reconnect attempts' });
    f.nats.setMode('pass');
    await doneAtLeast(job, 400);
    f.nats.setMode('blackhole');
    await workStalled();
    f.nats.setMode('pass');

    await expectEveryStockDoneOnce(job);
  });

  it('provider outage (503 + Retry-After): stocks wait, a request is answered at once, calls during it stay at the probe rate, no quota is lost', async () => {
    const job = await startJob();
    await doneAtLeast(job, 150);
    const outageMs = 4_000;
    await f.stack.sim('/__sim/config', {
      routes: { 'market.kline': { latency: { kind: 'fixed', ms: LATENCY_MS }, outages: [{ startMs: 0, endMs: outageMs, relative: true, kind: '503' }] } },
    });
    const doneAtOutage = (await progressOf(job)).progress?.done ?? 0;
    // A request meanwhile is answered at once (the provider is down), not held for the outage.
    await waitFor(async () => ((await stats()).routes['market.kline']?.injected.outage ?? 0) > 0 || undefined, { timeoutMs: 10_000, what: 'the outage to be met' });
    const askedAt = Date.now();
    const { results } = await lastValueFrom(
      f.stack.klineSync.executeTriggers({ tenant: 'acme', triggers: [{ id: 't', market: 'SH', code: '600001', kType: 1, priceChangePercent: 1, bars: 5 }] }),
    );
    expect({ error: results[0]?.error, fast: Date.now() - askedAt < outageMs / 2 }).toEqual({ error: expect.stringContaining('circuit breaker') as unknown, fast: true });

    await expectEveryStockDoneOnce(job);
    const route = (await stats()).routes['market.kline'];
    const outageCalls = route?.injected.outage ?? 0;
    // The outage was felt: calls hit it, and stocks were still to do when it began.
    expect(outageCalls).toBeGreaterThan(0);
    expect(doneAtOutage).toBeLessThan(STOCKS - 100);
    // The first 503 pauses the provider until its Retry-After (the outage's end): only the calls
    // already on the wire meet it (200 calls/s × 150 ms latency = 30), and a probe per breaker
    // recovery time (2 s) if the outage outlives its Retry-After.
    expect(outageCalls).toBeLessThanOrEqual(30 + Math.ceil(outageMs / 2_000));
    // No quota lost: token-manager counts for each token what the provider counted, plus the
    // calls the outage answered (sent, not billed by the simulator) — nothing reserved and unsent.
    const billed = (await stats()).market.tokens.reduce((sum, t) => sum + t.usage.calls, 0);
    await waitFor(
      async () => {
        const [row] = await f.stack.tokenDatabase.query<{ used: number }>('SELECT SUM(daily_used) AS used FROM api_token');
        return Number(row?.used) === billed + outageCalls || undefined;
      },
      { timeoutMs: 10_000, what: `token-manager to count ${billed} + ${outageCalls} calls (${JSON.stringify(await f.stack.tokenDatabase.query('SELECT SUM(daily_used) AS used FROM api_token'))})` },
    );
  });
});
