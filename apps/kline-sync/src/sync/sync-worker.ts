import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EntityManager } from 'typeorm';
import { klineSyncWorkSubject, WORK_STREAMS } from '@batchgate/contracts';
import type { StockSyncRequested } from '@batchgate/contracts/events/v1/events';
import { consumeWorkQueue, NATS_CONNECTION } from '@batchgate/platform/messaging';
import { LOGGER } from '@batchgate/platform/nest';
import { prometheusConcurrencyListener } from '@batchgate/platform/observability';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { SyncJobsRepository } from '../jobs/sync-jobs.repository';
import { KLINE_SYNC_CONFIG } from '../kline-sync.tokens';
import { KlinesService } from '../klines/klines.service';
import { StockPuller } from './stock-puller';

const WORK_STREAM = WORK_STREAMS[0].name;

/**
 * Takes stocks off the job work queue (shared by every replica), pulls and stores their bars, and
 * records each stock's outcome once. A replica killed mid-job loses nothing: its unacked stocks
 * are redelivered to another, bars are upserted, and the outcome is counted once.
 */
@Injectable()
export class SyncWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private consumer: { stop: () => Promise<void> } | undefined;
  private queueProbe: NodeJS.Timeout | undefined;
  private readonly stocksDone: Counter<'outcome'>;
  private readonly stockDuration: Histogram<'outcome'>;
  private readonly jobDuration: Histogram;
  private readonly queueLength: Gauge<'state'>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(SyncJobsRepository) private readonly jobs: SyncJobsRepository,
    @Inject(StockPuller) private readonly puller: StockPuller,
    @Inject(KlinesService) private readonly klines: KlinesService,
    @Inject(KLINE_SYNC_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(Registry) private readonly registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.stocksDone = new Counter({
      name: 'kline_sync_stocks_total',
      help: 'Stocks finished by sync jobs, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    });
    // Both outcomes exist from the start: the failure rate reads 0 before the first failure.
    for (const outcome of ['success', 'failure'] as const) this.stocksDone.inc({ outcome }, 0);
    this.stockDuration = new Histogram({
      name: 'kline_sync_stock_duration_seconds',
      help: 'Time to pull and store one stock, by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.jobDuration = new Histogram({
      name: 'kline_sync_job_duration_seconds',
      help: 'Run time of finished sync jobs (first stock started to last stock done)',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    });
    this.queueLength = new Gauge({
      name: 'kline_sync_queue_stocks',
      help: 'Stocks on the work queue: waiting for a replica, or delivered and not yet done',
      labelNames: ['state'],
      registers: [registry],
    });
  }

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
        handler: (item) => this.sync(item),
        metrics: prometheusConcurrencyListener(this.registry),
      },
      this.logger,
    );
    const manager = await this.nats.jetstreamManager();
    const durable = `kline-sync-workers-${this.config.SYNC_WORK_QUEUE}`;
    this.queueProbe = setInterval(() => {
      manager.consumers.info(WORK_STREAM, durable).then(
        (info) => {
          this.queueLength.set({ state: 'waiting' }, info.num_pending);
          this.queueLength.set({ state: 'in_progress' }, info.num_ack_pending);
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

  private async sync(item: StockSyncRequested): Promise<void> {
    const work = { jobId: item.jobId, market: item.market, code: item.code, startDate: item.startDate, endDate: item.endDate };
    const claimed = await this.jobs.claim(work);
    if (!claimed) return;
    const retried = claimed.attempts > 0;
    const startedAt = performance.now();
    let outcome: 'success' | 'failure';
    try {
      const bars = await this.puller.pull({ ...item, tenant: claimed.tenant });
      const store = (manager: EntityManager) =>
        this.klines.upsert({ tenant: claimed.tenant, market: item.market, stockCode: item.code, kType: item.kType }, bars, manager);
      this.observeJob(await this.jobs.complete(work, { ok: true }, { retried, store }));
      outcome = 'success';
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn({ jobId: item.jobId, stock: `${item.market}:${item.code}`, reason }, 'stock sync failed');
      this.observeJob(await this.jobs.complete(work, { ok: false, reason }, { retried }));
      outcome = 'failure';
    }
    this.stocksDone.inc({ outcome });
    this.stockDuration.observe({ outcome }, (performance.now() - startedAt) / 1000);
  }

  private observeJob(completion: { jobSeconds?: number }): void {
    if (completion.jobSeconds !== undefined) this.jobDuration.observe(completion.jobSeconds);
  }
}
