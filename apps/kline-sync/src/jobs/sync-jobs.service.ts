import { Inject, Injectable } from '@nestjs/common';
import type { StartSyncJobRequest, SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant, callerUser } from '@batchgate/platform/errors';
import type { JobOwner } from '@batchgate/platform/jobs';
import type { PageWindow } from '@batchgate/platform/paging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { klineSyncErrors } from '../kline-sync.errors';
import { SYNC_JOB_STORE } from '../kline-sync.tokens';
import { StocksService } from '../stocks/stocks.service';
import { barRange } from '../sync/bar-range';
import { AnswersFirst } from './answers-first';
import type { SyncJobStore } from './sync-job-kind';
import { kitStatusesOf, SYNC_JOB_STATUSES, toSyncJobMessage, type SyncJobStatus } from './sync-job.view';
import { SyncPlanner } from './sync-planner';

/**
 * Sync jobs on the job kit: a submission stores the job with one item per stock, in (market,
 * code) order, and answers; the planner plans and queues it after the answer. Every read and
 * change goes through the owner (another owner's job is SYNC.JOB_NOT_FOUND).
 */
@Injectable()
export class SyncJobsService {
  constructor(
    @Inject(SYNC_JOB_STORE) private readonly jobs: SyncJobStore,
    @Inject(SyncPlanner) private readonly planner: SyncPlanner,
    @Inject(StocksService) private readonly stocks: StocksService,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(AnswersFirst) private readonly answersFirst: AnswersFirst,
  ) {}

  /** Stores the job (held for its planning) in one transaction and answers; nothing else is awaited. */
  start(request: StartSyncJobRequest): Promise<SyncJob> {
    return this.answersFirst.answer(() => this.store(request));
  }

  private async store(request: StartSyncJobRequest): Promise<SyncJob> {
    const owner = ownerOf(request);
    const kType = request.kType || 8;
    barRange(request.startDate, request.endDate, kType, this.config.SYNC_MAX_BARS_PER_STOCK);
    const stocks = await this.stocks.list(owner.tenant, request.market || undefined);
    if (stocks.length === 0) {
      throw klineSyncErrors.noStocks(request.market || null);
    }
    const items = stocks.map((stock) => ({ payload: { market: stock.market, code: stock.stockCode } }));
    const job = await this.jobs.submit(owner, {
      params: { market: request.market || null, startDate: request.startDate, endDate: request.endDate, kType },
      items,
      hold: true,
    });
    this.planner.planSoon({ id: job.id, owner, stocks: items.map((item) => item.payload) });
    return toSyncJobMessage(job, undefined, new Date());
  }

  /** The owner's job; anybody else's is not found (its existence is not disclosed). */
  async get(id: string, caller: JobOwner): Promise<SyncJob> {
    const { job, plan } = await this.planner.jobWithPlan(ownerOf(caller), id);
    return toSyncJobMessage(job, plan, new Date());
  }

  async list(caller: JobOwner, status: string | undefined, window: PageWindow): Promise<{ jobs: SyncJob[]; total: number }> {
    const owner = ownerOf(caller);
    if (status !== undefined && !SYNC_JOB_STATUSES.includes(status as SyncJobStatus)) {
      throw klineSyncErrors.invalidSyncArgument(`status must be one of ${SYNC_JOB_STATUSES.join(', ')}`, { field: 'status' });
    }
    const result = await this.jobs.list(owner, {
      page: window.page,
      size: window.size,
      ...(status ? { status: kitStatusesOf(status as SyncJobStatus) } : {}),
    });
    const plans = await this.planner.plansOf(
      owner,
      result.jobs.map((job) => job.id),
    );
    const now = new Date();
    return { jobs: result.jobs.map((job) => toSyncJobMessage(job, plans.get(job.id), now)), total: result.total };
  }

  /** Ends an open job: its queued stocks are cancelled, its running ones aborted. */
  async cancel(id: string, caller: JobOwner): Promise<SyncJob> {
    const owner = ownerOf(caller);
    await this.jobs.cancel(owner, id);
    return this.get(id, owner);
  }

  /** Queues the failed and cancelled stocks of a finished job again. */
  async retry(id: string, caller: JobOwner): Promise<SyncJob> {
    const owner = ownerOf(caller);
    await this.jobs.retry(owner, id);
    return this.get(id, owner);
  }
}

/** The caller as the job kit's owner: a tenant or user that cannot be stored is refused (REQUEST.INVALID_TENANT / _USER). */
function ownerOf(caller: { tenant: string; userId: string }): JobOwner {
  return { tenant: callerTenant(caller.tenant), userId: callerUser(caller.userId) };
}
