import { randomBytes } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { lastValueFrom } from 'rxjs';
import type { SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import { startMariaDbServer, startNatsServer, waitFor, type RestartableProcess } from '@batchgate/testing';
import { provideTokens, startKlineStack, type KlineStack, type StackInfrastructure } from './stack.harness';

/**
 * SPEC §2.2: a job survives NATS or MySQL dying mid-job. The services run on a server of this
 * test's own, which is SIGKILLed while stocks are in flight and started again on the same data.
 */
const STOCKS = 200;
const BARS_PER_STOCK = 10; // 2026-02-01..2026-02-10, day bars

interface Crashable {
  server: RestartableProcess;
  infrastructure: StackInfrastructure;
}
interface Crash {
  start: () => Promise<Crashable>;
  /** Provider calls a crash may repeat. */
  repeatedPulls: number;
  /** What a job started while the server is down gets. */
  jobWhileDown: 'accepted' | 'unavailable';
}
const CRASHES: Array<[name: string, crash: Crash]> = [
  [
    'NATS',
    {
      start: async () => {
        const server = await startNatsServer();
        return { server, infrastructure: { natsUrl: server.url } };
      },
      // A message whose ack was lost with NATS comes again; its stock is done and not pulled.
      repeatedPulls: 0,
      // The job and its stocks are committed to MySQL; the outbox queues them when NATS is back.
      jobWhileDown: 'accepted',
    },
  ],
  [
    'MySQL',
    {
      start: async () => {
        const server = await startMariaDbServer();
        return { server, infrastructure: { mysql: server } };
      },
      // A stock fetched while MySQL is down waits for it and is stored then, not pulled again.
      repeatedPulls: 0,
      jobWhileDown: 'unavailable',
    },
  ],
];

describe.each(CRASHES)('kline-sync when %s crashes', (name, crash) => {
  let crashable: Crashable;
  let stack: KlineStack;

  const queue = `c${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    crashable = await crash.start();
    // Few stocks in hand at once, so a crash leaves most of the job to do.
    stack = await startKlineStack({ SYNC_WORK_QUEUE: queue, SYNC_ACK_WAIT_MS: '3000', SYNC_WORKER_CONCURRENCY: '4' }, 1, crashable.infrastructure);
    await provideTokens(stack, { count: 6, ratePerSecond: 10, latencyMs: 20 });
    const stocks = Array.from({ length: STOCKS }, (_, i) => ({ code: String(600000 + i), market: 'SH', name: '' }));
    await lastValueFrom(stack.klineSync.importStocks({ tenant: 'acme', stocks }));
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await crashable?.server.stop();
  });

  const startJob = (userId: string) =>
    lastValueFrom(stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-02-01', endDate: '2026-02-10', kType: 8, userId, tenant: 'acme' }));
  const progressOf = (job: SyncJob, userId: string) => lastValueFrom(stack.klineSync.getSyncJob({ id: job.id, userId, tenant: 'acme' }));
  const finished = (job: SyncJob, userId: string) =>
    waitFor(
      async () => {
        const progress = await progressOf(job, userId);
        return progress.finishedAt ? progress : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `job to finish after the ${name} restart` },
    );
  const expectEveryStockStoredOnce = async () => {
    const [bars] = await stack.klineDatabase.query<{ stocks: number; n: number }>('SELECT COUNT(DISTINCT stock_code) AS stocks, COUNT(*) AS n FROM kline_bar');
    expect({ stocks: Number(bars?.stocks), n: Number(bars?.n) }).toEqual({ stocks: STOCKS, n: STOCKS * BARS_PER_STOCK });
    const [failures] = await stack.klineDatabase.query<{ n: number }>('SELECT COUNT(*) AS n FROM stk_sync_failure');
    expect(Number(failures?.n)).toBe(0);
  };
  /** Stock runs the replica has started so far (a stock handed back and run again counts twice). */
  const itemsTaken = async () => {
    const metrics = await (await fetch(stack.klineSyncOpsUrls[0] ?? '')).text();
    const line = metrics.split('\n').find((l) => l.startsWith('jobs_item_runs_started_total{') && l.includes('kind="sync"'));
    return Number(line?.split(' ').at(-1) ?? Number.NaN);
  };
  const servedCalls = async () => {
    const stats = (await stack.sim('/__sim/stats')) as { market: { tokens: Array<{ usage: { served: number } }> } };
    return stats.market.tokens.reduce((sum, t) => sum + t.usage.served, 0);
  };

  it(`finishes a job after ${name} dies mid-job and comes back: every stock stored, none failed`, async () => {
    const job = await startJob('alice');
    const doneAtCrash = await waitFor(
      async () => {
        const done = (await progressOf(job, 'alice')).progress?.done ?? 0;
        return done >= 40 ? done : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: '40 stocks done' },
    );
    const takenAtCrash = await itemsTaken();
    await crashable.server.kill();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // The queue pauses: the replica does not take (and hand back) every stock of the job in turn;
    // it runs what it held at the crash (at most its 4 slots and one message's stocks).
    const takenWhileDown = (await itemsTaken()) - takenAtCrash;
    await crashable.server.restart();

    expect(doneAtCrash).toBeLessThan(STOCKS);
    expect(takenAtCrash).toBeGreaterThanOrEqual(40);
    expect(takenWhileDown).toBeLessThanOrEqual(12);
    expect(await finished(job, 'alice')).toMatchObject({ status: 'success', progress: { total: STOCKS, done: STOCKS, succeeded: STOCKS, failed: 0 } });
    await expectEveryStockStoredOnce();
    // Operators see the outage begin and end in the logs, not a line per poll or per stock.
    for (const service of [stack.processes.klineSync[0], stack.processes.tokenManagers[0]]) {
      const messages = (service?.output() ?? '').split('\n').map((line) => /"msg":"([^"]*)"/.exec(line)?.[1]);
      expect(messages.filter((m) => m?.startsWith('outbox relay failing')).length).toBeLessThanOrEqual(1);
      expect(messages.filter((m) => m === 'job item failed; it runs again' || m === 'job work message failed; it goes back to the queue').length).toBeLessThanOrEqual(12);
    }
    expect(await servedCalls()).toBeGreaterThanOrEqual(STOCKS);
    expect(await servedCalls()).toBeLessThanOrEqual(STOCKS + crash.repeatedPulls);
  });

  it(`answers a job started while ${name} is down as the design says, and loses nothing`, async () => {
    await crashable.server.kill();
    const started = await startJob('bob').then(
      (job) => ({ job }),
      (error: { code?: number }) => ({ grpcCode: error.code }),
    );
    await crashable.server.restart();
    if (crash.jobWhileDown === 'unavailable') {
      expect(started).toEqual({ grpcCode: GrpcStatus.UNAVAILABLE });
      const [jobs] = await stack.klineDatabase.query<{ n: number }>("SELECT COUNT(*) AS n FROM job WHERE user_id = 'bob'");
      expect(Number(jobs?.n)).toBe(0);
      return;
    }
    if (!('job' in started)) throw new Error(`the job was refused: gRPC ${started.grpcCode}`);
    expect(await finished(started.job, 'bob')).toMatchObject({ status: 'success', progress: { total: STOCKS, done: STOCKS, succeeded: STOCKS, failed: 0 } });
  });
});
