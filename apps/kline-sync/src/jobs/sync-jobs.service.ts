import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { calculateThreadCount, distributeStocks, distributeTokens } from '@batchgate/concurrency';
import { klineSyncWorkSubject } from '@batchgate/contracts';
import type { StartSyncJobRequest, SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant, callerUser } from '@batchgate/platform/errors';
import { Outbox } from '@batchgate/platform/messaging';
import type { PageWindow } from '@batchgate/platform/paging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { klineSyncErrors } from '../kline-sync.errors';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { StocksService } from '../stocks/stocks.service';
import { barRange } from '../sync/bar-range';
import { TokenSupply } from '../sync/token-supply';
import { jobTiming, SYNC_JOB_STATUSES, SyncJobEntity, type SyncJobStatus, type SyncPlanRecord } from './sync-job.entity';
import { SyncJobsRepository, type JobOwner } from './sync-jobs.repository';

/** Starts sync jobs (stored first, then queued as one work item per stock) and reports on them. */
@Injectable()
export class SyncJobsService {
  constructor(
    @Inject(Outbox) private readonly outbox: Outbox,
    @Inject(StocksService) private readonly stocks: StocksService,
    @Inject(SyncJobsRepository) private readonly jobs: SyncJobsRepository,
    @Inject(TokenSupply) private readonly tokenSupply: TokenSupply,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(KlineSyncMetrics) private readonly metrics: KlineSyncMetrics,
  ) {}


  /**
   * Plans as seed 004 does (threads from the token count, tokens split evenly, stocks round-robin
   * per market) and queues the stocks on the JetStream work queue through the outbox, so the job
   * and its work are committed together and any replica may run it. The plan counts the tenant's
   * tokens as token-manager has them now, read into the pool the stocks are then pulled with.
   */
  async start(request: StartSyncJobRequest): Promise<SyncJob> {
    const tenant = callerTenant(request.tenant);
    const userId = callerUser(request.userId);
    const kType = request.kType || 8;
    barRange(request.startDate, request.endDate, kType, this.config.SYNC_MAX_BARS_PER_STOCK);
    const stocks = await this.stocks.list(tenant, request.market || undefined);
    if (stocks.length === 0) {
      throw klineSyncErrors.noStocks(request.market || null);
    }
    const usable = (await this.tokenSupply.fresh(tenant)).credentials().filter((token) => token.status === 'active');
    if (usable.length === 0) {
      throw klineSyncErrors.noTokens(this.config.ITICK_PROVIDER);
    }
    const threads = calculateThreadCount(usable.length, this.config.SYNC_TOKENS_PER_THREAD, this.config.SYNC_MAX_THREADS);
    const plan: SyncPlanRecord = {
      threads,
      tokensPerThread: distributeTokens(usable, threads).map((lane) => lane.length),
      tokenCount: usable.length,
    };
    // Seed order: grouped by market, each market's stocks dealt round-robin over the threads.
    const byMarket = new Map<string, typeof stocks>();
    for (const stock of stocks) byMarket.set(stock.market, [...(byMarket.get(stock.market) ?? []), stock]);
    const ordered = [...byMarket.values()].flatMap((group) => distributeStocks(group, threads).flat());

    this.metrics.planTokensPerThread.reset();
    plan.tokensPerThread.forEach((tokens, thread) => this.metrics.planTokensPerThread.set({ thread: String(thread) }, tokens));
    const id = randomUUID();
    await this.outbox.transaction(async ({ manager, emitAll }) => {
      await manager.insert(SyncJobEntity, {
        id,
        tenant,
        userId,
        market: request.market || null,
        startDate: request.startDate,
        endDate: request.endDate,
        kType,
        status: 'queued',
        plan,
        total: ordered.length,
      });
      for (let offset = 0; offset < ordered.length; offset += 500) {
        const chunk = ordered.slice(offset, offset + 500);
        await manager.query(
          `INSERT INTO sync_job_item (job_id, market, stock_code) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
          chunk.flatMap((s) => [id, s.market, s.stockCode]),
        );
      }
      await emitAll(
        klineSyncWorkSubject(this.config.SYNC_WORK_QUEUE),
        ordered.map((s) => ({ jobId: id, market: s.market, code: s.stockCode, startDate: request.startDate, endDate: request.endDate, kType })),
      );
    });
    return this.get(id, { tenant, userId });
  }

  /** The owner's job; anybody else's is not found (its existence is not disclosed). */
  async get(id: string, owner: JobOwner): Promise<SyncJob> {
    return toSyncJobMessage(await this.owned(id, owner), new Date());
  }

  async list(owner: JobOwner, status: string | undefined, window: PageWindow): Promise<{ jobs: SyncJob[]; total: number }> {
    if (status !== undefined && !SYNC_JOB_STATUSES.includes(status as SyncJobStatus)) {
      throw klineSyncErrors.invalidSyncArgument(`status must be one of ${SYNC_JOB_STATUSES.join(', ')}`, { field: 'status' });
    }
    const now = new Date();
    const result = await this.jobs.list(owner, status, window);
    return { jobs: result.jobs.map((job) => toSyncJobMessage(job, now)), total: result.total };
  }

  async cancel(id: string, owner: JobOwner): Promise<SyncJob> {
    const job = await this.owned(id, owner);
    if (!(await this.jobs.cancel(id))) {
      throw klineSyncErrors.jobFinished(id, job.status);
    }
    return this.get(id, owner);
  }

  /** Queues the failed and cancelled stocks of a finished job again, in one transaction with the job's reopening. */
  async retry(id: string, owner: JobOwner): Promise<SyncJob> {
    const job = await this.owned(id, owner);
    const queued = await this.outbox.transaction(async ({ manager, emitAll }) => {
      const items = await this.jobs.reopen(manager, id);
      await emitAll(
        klineSyncWorkSubject(this.config.SYNC_WORK_QUEUE),
        items.map((item) => ({ ...item, startDate: job.startDate, endDate: job.endDate, kType: job.kType })),
      );
      return items.length;
    });
    if (queued === 0) {
      throw klineSyncErrors.nothingToRetry(id, job.status);
    }
    return this.get(id, owner);
  }

  private async owned(id: string, owner: JobOwner): Promise<SyncJobEntity> {
    const job = await this.jobs.find(id, owner);
    if (!job) throw klineSyncErrors.jobNotFound(id);
    return job;
  }
}

export function toSyncJobMessage(job: SyncJobEntity, now: Date): SyncJob {
  const { elapsedMs, etaMs } = jobTiming(job, now);
  return {
    id: job.id,
    status: job.status,
    progress: { total: job.total, done: job.succeeded + job.failed + job.cancelled, succeeded: job.succeeded, failed: job.failed },
    cancelled: job.cancelled,
    plan: job.plan ?? undefined,
    elapsedMs,
    etaMs,
    market: job.market ?? '',
    startDate: job.startDate,
    endDate: job.endDate,
    kType: job.kType,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt ? job.finishedAt.toISOString() : '',
  };
}
