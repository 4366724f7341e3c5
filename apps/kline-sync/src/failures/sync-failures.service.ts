import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { CountedOutcome } from '@batchgate/platform/jobs';
import type { PageWindow } from '@batchgate/platform/paging';
import { SYNC_JOBS, type SyncParams, type SyncStock, type SyncStockResult } from '../jobs/sync-job-kind';
import { SyncFailureEntity, SyncFailureStatus } from './sync-failure.entity';

const MAX_REASON = 500;

/**
 * `stk_sync_failure`: one row per stock pull that failed after its retries, re-pulled on demand.
 * Failures are their tenant's (every user of it with the permission sees and retries them): each
 * query names the tenant.
 */
@Injectable()
export class SyncFailuresService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * The failure rows of stocks whose outcome the job kit records, in its transaction (its
   * `onOutcomes`): a failed stock gets its row; a stock of a retried job (run before its job's
   * retry queued it again) counts one more retry on the tenant's pending row instead, or closes
   * it as retried OK when it succeeds.
   */
  async recordOutcomes(manager: EntityManager, outcomes: ReadonlyArray<CountedOutcome<SyncParams, SyncStock, SyncStockResult>>): Promise<void> {
    const newRows: unknown[][] = [];
    for (const { owner, params, payload, outcome, attempt, tries } of outcomes) {
      const reason = outcome.ok ? null : outcome.reason.slice(0, MAX_REASON);
      if (attempt > tries) {
        const retried = (await manager.query(
          `UPDATE stk_sync_failure
              SET status = ?, retry_count = retry_count + 1, last_retry_time = CURRENT_TIMESTAMP(3), failure_reason = COALESCE(?, failure_reason)
            WHERE tenant = ? AND stock_code = ? AND start_date = ? AND end_date = ? AND status = ?`,
          [
            outcome.ok ? SyncFailureStatus.RetriedOk : SyncFailureStatus.Pending,
            reason,
            owner.tenant,
            payload.code,
            params.startDate,
            params.endDate,
            SyncFailureStatus.Pending,
          ],
        )) as { affectedRows: number };
        if (retried.affectedRows > 0) continue;
      }
      if (!outcome.ok) newRows.push([owner.tenant, payload.code, params.startDate, params.endDate, reason ?? '']);
    }
    if (newRows.length === 0) return;
    await manager.query(
      `INSERT INTO stk_sync_failure (tenant, stock_code, start_date, end_date, failure_reason) VALUES ${newRows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
      newRows.flat(),
    );
  }

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
      `SELECT JSON_EXTRACT(j.params, '$.kType') AS kType FROM job_item i JOIN job j ON j.id = i.job_id
        WHERE j.kind = ? AND j.tenant = ? AND i.tenant = j.tenant AND i.status = 'failed'
          AND JSON_UNQUOTE(JSON_EXTRACT(i.payload, '$.code')) = ?
          AND JSON_UNQUOTE(JSON_EXTRACT(j.params, '$.startDate')) = ? AND JSON_UNQUOTE(JSON_EXTRACT(j.params, '$.endDate')) = ?
        ORDER BY i.finished_at DESC LIMIT 1`,
      [SYNC_JOBS.name, failure.tenant, failure.stockCode, failure.startDate, failure.endDate],
    )) as Array<{ kType: number | string }>;
    return row ? Number(row.kType) : 8;
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
