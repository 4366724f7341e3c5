import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ItemStatus } from '../jobs/sync-jobs.repository';
import { SyncFailureEntity, SyncFailureStatus } from './sync-failure.entity';

export interface FailurePage {
  records: SyncFailureEntity[];
  total: number;
  page: number;
  size: number;
}

/** `stk_sync_failure`: one row per stock pull that failed after its retries, re-pulled on demand. */
@Injectable()
export class SyncFailuresService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Written in its own transaction (seed 004 §3.3), so it survives whatever happens to the job. */
  async record(stockCode: string, startDate: string, endDate: string, reason: string): Promise<void> {
    await this.dataSource.transaction((manager) =>
      manager.insert(SyncFailureEntity, { stockCode, startDate, endDate, failureReason: reason.slice(0, 500) }),
    );
  }

  /** Pending failures that still have retries left, oldest first. */
  async listPendingRetry(stockCode: string | undefined, maxRetryCount: number): Promise<SyncFailureEntity[]> {
    const query = this.dataSource
      .getRepository(SyncFailureEntity)
      .createQueryBuilder('f')
      .where('f.status = :pending', { pending: SyncFailureStatus.Pending })
      .andWhere('f.retry_count < :max', { max: maxRetryCount })
      .orderBy('f.id', 'ASC');
    if (stockCode) query.andWhere('f.stock_code = :stockCode', { stockCode });
    return query.getMany();
  }

  /**
   * After one re-pull: status 1 on success; otherwise the retry is counted and the failure is given
   * up (status 2) once it reaches `maxRetryCount`.
   */
  async markRetried(id: string, succeeded: boolean, maxRetryCount: number, reason?: string): Promise<SyncFailureStatus> {
    const failure = await this.dataSource.getRepository(SyncFailureEntity).findOneByOrFail({ id });
    const retryCount = failure.retryCount + 1;
    const status = succeeded
      ? SyncFailureStatus.RetriedOk
      : retryCount >= maxRetryCount
        ? SyncFailureStatus.GivenUp
        : SyncFailureStatus.Pending;
    await this.dataSource.getRepository(SyncFailureEntity).update(
      { id },
      { status, retryCount, lastRetryTime: new Date(), ...(reason ? { failureReason: reason.slice(0, 500) } : {}) },
    );
    return status;
  }

  /**
   * The bar type a failure was pulled with. The seed's table has no kType column (kept exactly as
   * specified), so it comes from the failed job item with the same stock and dates; day bars when
   * the failure did not come from a job.
   */
  async kTypeOf(failure: SyncFailureEntity): Promise<number> {
    const [row] = (await this.dataSource.query(
      `SELECT j.k_type AS kType FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id
        WHERE i.stock_code = ? AND i.status = ${ItemStatus.Failed} AND j.start_date = ? AND j.end_date = ?
        ORDER BY i.finished_at DESC LIMIT 1`,
      [failure.stockCode, failure.startDate, failure.endDate],
    )) as Array<{ kType: number }>;
    return row?.kType ?? 8;
  }

  /** Newest first, as the seed's list endpoint. */
  async page(filter: { stockCode?: string; status?: number; page: number; size: number }): Promise<FailurePage> {
    const query = this.dataSource
      .getRepository(SyncFailureEntity)
      .createQueryBuilder('f')
      .orderBy('f.create_time', 'DESC')
      .addOrderBy('f.id', 'DESC')
      .skip((filter.page - 1) * filter.size)
      .take(filter.size);
    if (filter.stockCode) query.andWhere('f.stock_code = :stockCode', { stockCode: filter.stockCode });
    if (filter.status !== undefined) query.andWhere('f.status = :status', { status: filter.status });
    const [records, total] = await query.getManyAndCount();
    return { records, total, page: filter.page, size: filter.size };
  }
}
