import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { PageWindow } from '@batchgate/platform/paging';
import { ItemStatus } from '../jobs/sync-jobs.repository';
import { SyncFailureEntity, SyncFailureStatus } from './sync-failure.entity';

/**
 * `stk_sync_failure`: one row per stock pull that failed after its retries, re-pulled on demand.
 * Failures are their tenant's (every user of it with the permission sees and retries them): each
 * query names the tenant.
 */
@Injectable()
export class SyncFailuresService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** The tenant's pending failures that still have retries left, oldest first. */
  async listPendingRetry(tenant: string, stockCode: string | undefined, maxRetryCount: number): Promise<SyncFailureEntity[]> {
    const query = this.dataSource
      .getRepository(SyncFailureEntity)
      .createQueryBuilder('f')
      .where('f.tenant = :tenant AND f.status = :pending', { tenant, pending: SyncFailureStatus.Pending })
      .andWhere('f.retry_count < :max', { max: maxRetryCount })
      .orderBy('f.id', 'ASC');
    if (stockCode) query.andWhere('f.stock_code = :stockCode', { stockCode });
    return query.getMany();
  }

  /**
   * After one re-pull: status 1 on success; otherwise the retry is counted and the failure is given
   * up (status 2) once it reaches `maxRetryCount`.
   */
  async markRetried(failure: SyncFailureEntity, succeeded: boolean, maxRetryCount: number, reason?: string): Promise<SyncFailureStatus> {
    const retryCount = failure.retryCount + 1;
    const status = succeeded
      ? SyncFailureStatus.RetriedOk
      : retryCount >= maxRetryCount
        ? SyncFailureStatus.GivenUp
        : SyncFailureStatus.Pending;
    await this.dataSource.getRepository(SyncFailureEntity).update(
      { id: failure.id, tenant: failure.tenant },
      { status, retryCount, lastRetryTime: new Date(), ...(reason ? { failureReason: reason.slice(0, 500) } : {}) },
    );
    return status;
  }

  /**
   * The bar type a failure was pulled with. The seed's table has no kType column (kept exactly as
   * specified), so it comes from the tenant's failed job item with the same stock and dates; day
   * bars when the failure did not come from a job.
   */
  async kTypeOf(failure: SyncFailureEntity): Promise<number> {
    const [row] = (await this.dataSource.query(
      `SELECT j.k_type AS kType FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id
        WHERE j.tenant = ? AND i.stock_code = ? AND i.status = ${ItemStatus.Failed} AND j.start_date = ? AND j.end_date = ?
        ORDER BY i.finished_at DESC LIMIT 1`,
      [failure.tenant, failure.stockCode, failure.startDate, failure.endDate],
    )) as Array<{ kType: number }>;
    return row?.kType ?? 8;
  }

  /** The tenant's failures, newest first, as the seed's list endpoint. */
  async page(filter: { tenant: string; stockCode?: string; status?: number }, window: PageWindow): Promise<{ records: SyncFailureEntity[]; total: number }> {
    const query = this.dataSource
      .getRepository(SyncFailureEntity)
      .createQueryBuilder('f')
      .where('f.tenant = :tenant', { tenant: filter.tenant })
      .orderBy('f.create_time', 'DESC')
      .addOrderBy('f.id', 'DESC')
      .skip(window.offset)
      .take(window.limit);
    if (filter.stockCode) query.andWhere('f.stock_code = :stockCode', { stockCode: filter.stockCode });
    if (filter.status !== undefined) query.andWhere('f.status = :status', { status: filter.status });
    const [records, total] = await query.getManyAndCount();
    return { records, total };
  }
}
