import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { klineSyncWorkSubject, WORK_STREAMS } from '@batchgate/contracts';
import type { StockSyncRequested } from '@batchgate/contracts/events/v1/events';
import { consumeWorkQueue, NATS_CONNECTION } from '@batchgate/platform/messaging';
import { BrokenCircuitError, sleep } from '@batchgate/concurrency';
import { isDependencyUnreachable } from '@batchgate/platform/errors';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import { upstreamResponseOf } from '@batchgate/platform/upstream';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { SyncJobsRepository } from '../jobs/sync-jobs.repository';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { KlinesService } from '../klines/klines.service';
import { StockPuller } from './stock-puller';

const WORK_STREAM = WORK_STREAMS[0].name;
/** Backoff of a stock's outcome write while the database is unavailable: 100 ms doubling to 2 s. */
const STORE_RETRY_FIRST_DELAY_MS = 100;
const STORE_RETRY_MAX_DELAY_MS = 2_000;
/** MySQL errors after which the same transaction succeeds when run again. */
const RETRYABLE_WRITE_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
/** The provider's breaker refused the call, or the provider answered 5xx: not the stock's failure. */
const isProviderOutage = (error: unknown): boolean => error instanceof BrokenCircuitError || (upstreamResponseOf(error)?.status ?? 0) >= 500;
const isRetryableWrite = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = (error as { driverError?: { code?: unknown } }).driverError ?? (error as { code?: unknown });
  return typeof code === 'string' && RETRYABLE_WRITE_CODES.has(code);
};

/**
 * Takes stocks off the job work queue (shared by every replica), pulls and stores their bars, and
 * records each stock's outcome once. A replica killed mid-job loses nothing: its unacked stocks
 * are redelivered to another, bars are upserted, and the outcome is counted once.
 */
@Injectable()
export class SyncWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private consumer: { stop: () => Promise<void> } | undefined;
  private queueProbe: NodeJS.Timeout | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(SyncJobsRepository) private readonly jobs: SyncJobsRepository,
    @Inject(StockPuller) private readonly puller: StockPuller,
    @Inject(KlinesService) private readonly klines: KlinesService,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(KlineSyncMetrics) private readonly metrics: KlineSyncMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = await consumeWorkQueue(
      this.nats,
      {
        stream: WORK_STREAM,
        durable: `kline-sync-workers-${this.config.SYNC_WORK_QUEUE}`,
        subject: klineSyncWorkSubject(this.config.SYNC_WORK_QUEUE),
        concurrency: this.config.SYNC_WORKER_CONCURRENCY,
        maxAckPending: this.config.SYNC_QUEUE_SIZE,
        ackWaitMs: this.config.SYNC_ACK_WAIT_MS,
        handler: (item, meta) => this.sync(item, meta),
        metrics: this.metrics.concurrency,
      },
      this.logger,
    );
    const manager = await this.nats.jetstreamManager();
    const durable = `kline-sync-workers-${this.config.SYNC_WORK_QUEUE}`;
    this.queueProbe = setInterval(() => {
      manager.consumers.info(WORK_STREAM, durable).then(
        (info) => {
          this.metrics.queueStocks.set({ state: 'waiting' }, info.num_pending);
          this.metrics.queueStocks.set({ state: 'in_progress' }, info.num_ack_pending);
        },
        () => undefined,
      );
    }, 5_000);
    this.queueProbe.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.queueProbe);
    await this.consumer?.stop();
  }

  /**
   * Pulls the stock, then records its outcome. The pull's failure is the stock's; the database's
   * is not: a stock whose bars were fetched waits for the database (holding its message) and is
   * stored once it is back — never failed with a database error, never fetched again.
   */
  private async sync(item: StockSyncRequested, { stopping }: { stopping: AbortSignal }): Promise<void> {
    const work = { jobId: item.jobId, market: item.market, code: item.code, startDate: item.startDate, endDate: item.endDate };
    const claimed = await this.jobs.claim(work);
    if (!claimed) return;
    const retried = claimed.attempts > 0;
    const startedAt = performance.now();
    let completion: Parameters<SyncJobsRepository['complete']>;
    try {
      const bars = await this.puller.pull({ ...item, tenant: claimed.tenant }, { waitWhileDown: stopping });
      const store = (manager: EntityManager) =>
        this.klines.upsert({ tenant: claimed.tenant, market: item.market, stockCode: item.code, kType: item.kType }, bars, manager);
      completion = [work, { ok: true }, { retried, store }];
    } catch (error) {
      // Stopped while waiting out a provider outage: the stock goes back to the queue, unpulled.
      if (stopping.aborted && isProviderOutage(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn({ jobId: item.jobId, stock: `${item.market}:${item.code}`, reason }, 'stock sync failed');
      completion = [work, { ok: false, reason }, { retried }];
    }
    const outcome = completion[1].ok ? 'success' : 'failure';
    this.observeJob(await this.untilStored(() => this.jobs.complete(...completion), item, stopping));
    this.metrics.stocksDone.inc({ outcome });
    this.metrics.stockDuration.observe({ outcome }, (performance.now() - startedAt) / 1000);
  }

  /**
   * Runs `write` until the database takes it: while MySQL cannot be reached (or is too busy to
   * take the query) it is tried again with backoff; the work queue's heartbeats keep the message
   * this replica's meanwhile. On shutdown the message is handed back (the stock is pulled again
   * elsewhere: the one repeat a stop can cost). Other errors are thrown: the message is redelivered.
   */
  private async untilStored<T>(write: () => Promise<T>, item: StockSyncRequested, stopping: AbortSignal): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await write();
      } catch (error) {
        if (!(isDependencyUnreachable(error) || isRetryableWrite(error)) || stopping.aborted) throw error;
        if (failures === 0) {
          this.logger.warn({ err: error, jobId: item.jobId, stock: `${item.market}:${item.code}` }, 'database unavailable; the stock is stored when it is back');
        }
        const delayMs = Math.min(STORE_RETRY_MAX_DELAY_MS, STORE_RETRY_FIRST_DELAY_MS * 2 ** failures);
        await sleep(delayMs * (0.5 + Math.random() / 2), { signal: stopping }).catch(() => undefined);
      }
    }
  }

  private observeJob(completion: { jobSeconds?: number }): void {
    if (completion.jobSeconds !== undefined) this.metrics.jobDuration.observe(completion.jobSeconds);
  }
}
