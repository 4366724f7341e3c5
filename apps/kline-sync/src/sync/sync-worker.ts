import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { BrokenCircuitError, sleep } from '@batchgate/concurrency';
import type { KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { isDependencyUnreachable } from '@batchgate/platform/errors';
import { ItemFailure, JobWorker, type JobItemRun } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import { upstreamResponseOf } from '@batchgate/platform/upstream';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import type { SyncJobStore, SyncParams, SyncStock, SyncStockResult } from '../jobs/sync-job-kind';
import { SYNC_JOB_STORE } from '../kline-sync.tokens';
import { KlinesService } from '../klines/klines.service';
import { StockPuller } from './stock-puller';

/**
 * Runs of a stock before it ends failed: only runs that died (a crashed replica) or threw
 * something other than the pull's failure (which ends the stock at once) count.
 */
const MAX_RUNS_PER_STOCK = 5;
/** Backoff of a stock's bar write while the database is unavailable: 100 ms doubling to 2 s. */
const STORE_RETRY_FIRST_DELAY_MS = 100;
const STORE_RETRY_MAX_DELAY_MS = 2_000;
/** MySQL errors after which the same write succeeds when run again. */
const RETRYABLE_WRITE_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
/** The provider's breaker refused the call, or the provider answered 5xx: not the stock's failure. */
const isProviderOutage = (error: unknown): boolean => error instanceof BrokenCircuitError || (upstreamResponseOf(error)?.status ?? 0) >= 500;
const isRetryableWrite = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = (error as { driverError?: { code?: unknown } }).driverError ?? (error as { code?: unknown });
  return typeof code === 'string' && RETRYABLE_WRITE_CODES.has(code);
};

/**
 * Runs the stocks of sync jobs on the job kit's worker (one per replica, sharing the work queue
 * with every replica): pulls a stock's bars and upserts them, so a stock run again after a crash
 * changes nothing twice; the kit records the outcome once and the failures service writes the
 * failure row in the same transaction.
 */
@Injectable()
export class SyncWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly worker: JobWorker<SyncParams, SyncStock, SyncStockResult>;

  constructor(
    @Inject(SYNC_JOB_STORE) jobs: SyncJobStore,
    @Inject(StockPuller) private readonly puller: StockPuller,
    @Inject(KlinesService) private readonly klines: KlinesService,
    @Inject(SERVICE_CONFIG) config: KlineSyncConfig,
    @Inject(Registry) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.worker = new JobWorker(
      jobs,
      (run) => this.sync(run),
      {
        concurrency: config.SYNC_WORKER_CONCURRENCY,
        ackWaitMs: config.SYNC_ACK_WAIT_MS,
        maxAckPending: config.SYNC_QUEUE_SIZE,
        maxDeliveries: MAX_RUNS_PER_STOCK,
      },
      logger,
      registry,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.worker.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker.stop();
  }

  /**
   * Pulls the stock, then stores its bars. The pull's failure is the stock's (ItemFailure: failed
   * now, with its reason); the database's is not: a stock whose bars were fetched waits for the
   * database (the kit heart-beats its message meanwhile) and is stored once it is back — never
   * failed with a database error, never fetched again.
   */
  private async sync(run: JobItemRun<SyncParams, SyncStock>): Promise<SyncStockResult> {
    const { tenant } = run.owner;
    const { market, code } = run.payload;
    const { startDate, endDate, kType } = run.params;
    let bars: KlineBar[];
    try {
      bars = await this.puller.pull({ tenant, market, code, kType, startDate, endDate }, { signal: run.signal, waitWhileDown: run.stopping });
    } catch (error) {
      // Cancelled (the kit records it), or stopped while waiting out a provider outage (the stock
      // goes back to the queue, unpulled).
      if (run.signal.aborted || (run.stopping.aborted && isProviderOutage(error))) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn({ jobId: run.jobId, stock: `${market}:${code}`, reason }, 'stock sync failed');
      throw new ItemFailure(reason, { cause: error });
    }
    // The bar write (group-committed with other stocks') waits while submissions are being
    // answered (AnswersFirst); the pull's calls mostly wait for the provider and their tokens' slots.
    await this.untilStored(() => this.klines.upsert({ tenant, market, stockCode: code, kType }, bars), run);
    return { bars: bars.length };
  }

  /**
   * Runs `write` until the database takes it: while MySQL cannot be reached (or is too busy to
   * take the query) it is tried again with backoff. On shutdown the stock goes back to the queue
   * (it is pulled again elsewhere: the one repeat a stop can cost). Other errors are thrown: the
   * kit runs the stock again, up to its maximum of runs.
   */
  private async untilStored(write: () => Promise<void>, run: JobItemRun<SyncParams, SyncStock>): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        return await write();
      } catch (error) {
        if (!(isDependencyUnreachable(error) || isRetryableWrite(error)) || run.stopping.aborted) throw error;
        if (failures === 0) {
          this.logger.warn(
            { err: error, jobId: run.jobId, stock: `${run.payload.market}:${run.payload.code}` },
            'database unavailable; the stock is stored when it is back',
          );
        }
        const delayMs = Math.min(STORE_RETRY_MAX_DELAY_MS, STORE_RETRY_FIRST_DELAY_MS * 2 ** failures);
        await sleep(delayMs * (0.5 + Math.random() / 2), { signal: run.stopping }).catch(() => undefined);
      }
    }
  }
}
