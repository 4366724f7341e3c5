import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { PageWindow } from '@batchgate/platform/paging';
import { PreparedEntityReader } from '@batchgate/platform/persistence';
import { SyncFailureStatus } from '../failures/sync-failure.entity';
import { SyncJobEntity } from './sync-job.entity';

export interface WorkItemKey {
  jobId: string;
  market: string;
  code: string;
}

/** A stock of a job as a worker holds it. */
export interface WorkItem extends WorkItemKey {
  startDate: string;
  endDate: string;
}

export type ItemOutcome = { ok: true } | { ok: false; reason: string };

/** sync_job_item.status */
export const ItemStatus = { Pending: 0, Succeeded: 1, Failed: 2, Cancelled: 3 } as const;

export interface JobOwner {
  tenant: string;
  userId: string;
}

/**
 * Job progress with exactly-once accounting: an item moves from pending to done once (a
 * conditional UPDATE), and only that transition stores its bars or failure row — so a
 * redelivered work message (a replica died before acking) changes nothing twice.
 *
 * The items are the one record of progress: a running job's counts are read from them, and the
 * job row is written only when the job starts and when it ends. Counting on the job row per item
 * made every stock of every replica wait for the same row lock.
 */
@Injectable()
export class SyncJobsRepository {
  /** The read by id is the hot path: a prepared statement, no query builder. */
  private readonly jobReader: PreparedEntityReader<SyncJobEntity>;

  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {
    this.jobReader = new PreparedEntityReader(dataSource, SyncJobEntity);
  }

  /** The owner's job (another owner's is not found), with the counts of its items so far while it runs. */
  async find(id: string, owner: JobOwner): Promise<SyncJobEntity | null> {
    const [job] = await this.jobReader.find('WHERE id = ? AND tenant = ? AND user_id = ?', [id, owner.tenant, owner.userId]);
    if (!job) return null;
    if (!job.finishedAt) await this.countItems(job);
    return job;
  }

  /** The owner's jobs, newest first. */
  async list(owner: JobOwner, status: string | undefined, window: PageWindow): Promise<{ jobs: SyncJobEntity[]; total: number }> {
    const [jobs, total] = await this.dataSource.getRepository(SyncJobEntity).findAndCount({
      where: { tenant: owner.tenant, userId: owner.userId, ...(status ? { status: status as SyncJobEntity['status'] } : {}) },
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: window.offset,
      take: window.limit,
    });
    for (const job of jobs) if (!job.finishedAt) await this.countItems(job);
    return { jobs, total };
  }

  private async countItems(job: SyncJobEntity, manager: EntityManager = this.dataSource.manager): Promise<void> {
    // A retried job restarts its clock: the stocks that ended before that are not this run's pace.
    const counts = (await manager.query(
      `SELECT i.status, COUNT(*) AS n, COALESCE(SUM(i.finished_at >= j.started_at), 0) AS sinceStart
         FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id
        WHERE i.job_id = ? AND i.status <> ${ItemStatus.Pending} GROUP BY i.status`,
      [job.id],
    )) as Array<{ status: number; n: string | number; sinceStart: string | number }>;
    const count = (status: number) => Number(counts.find((c) => c.status === status)?.n ?? 0);
    job.succeeded = count(ItemStatus.Succeeded);
    job.failed = count(ItemStatus.Failed);
    job.cancelled = count(ItemStatus.Cancelled);
    job.finishedThisRun = counts.reduce((sum, c) => sum + Number(c.sinceStart), 0);
  }

  /**
   * Whether the item still has to be pulled, how often it was before (a retried job's stocks),
   * and the job's tenant (whose tokens pull it, whose bars it fills); marks its job running on its
   * first stock.
   */
  async claim(item: WorkItemKey): Promise<{ attempts: number; tenant: string } | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT i.status, i.attempts, j.status AS jobStatus, j.tenant FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id
        WHERE i.job_id = ? AND i.market = ? AND i.stock_code = ?`,
      [item.jobId, item.market, item.code],
    )) as Array<{ status: number; attempts: number; jobStatus: string; tenant: string }>;
    if (!row || row.status !== ItemStatus.Pending) return undefined;
    if (row.jobStatus === 'queued') {
      await this.dataSource.query(
        "UPDATE sync_job SET status = 'running', started_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND status = 'queued'",
        [item.jobId],
      );
    }
    return { attempts: row.attempts, tenant: row.tenant };
  }

  /**
   * Records the item's outcome once, in one transaction with what it produced: `store` writes the
   * bars of a success; a failure gets its `stk_sync_failure` row (the job's tenant's), or, for a
   * stock failing again in a retried job, the tenant's pending row counts one more retry (a
   * success closes it as retried OK).
   * `counted` is false when another delivery already did; `jobSeconds` is set when this item
   * finished its job (its run time).
   */
  async complete(
    item: WorkItem,
    outcome: ItemOutcome,
    options: { retried: boolean; store?: (manager: EntityManager) => Promise<void> },
  ): Promise<{ counted: boolean; jobSeconds?: number }> {
    const counted = await this.dataSource.transaction(async (manager) => {
      const result = (await manager.query(
        `UPDATE sync_job_item SET status = ?, attempts = attempts + 1, error_message = ?, finished_at = CURRENT_TIMESTAMP(3)
          WHERE job_id = ? AND market = ? AND stock_code = ? AND status = ${ItemStatus.Pending}`,
        [outcome.ok ? ItemStatus.Succeeded : ItemStatus.Failed, outcome.ok ? null : outcome.reason.slice(0, 500), item.jobId, item.market, item.code],
      )) as { affectedRows: number };
      if (result.affectedRows !== 1) return false;
      if (outcome.ok) await options.store?.(manager);
      const reason = outcome.ok ? null : outcome.reason.slice(0, 500);
      const retriedFailure = options.retried
        ? ((await manager.query(
            `UPDATE stk_sync_failure
                SET status = ?, retry_count = retry_count + 1, last_retry_time = CURRENT_TIMESTAMP(3), failure_reason = COALESCE(?, failure_reason)
              WHERE tenant = (SELECT tenant FROM sync_job WHERE id = ?) AND stock_code = ? AND start_date = ? AND end_date = ? AND status = ?`,
            [
              outcome.ok ? SyncFailureStatus.RetriedOk : SyncFailureStatus.Pending,
              reason,
              item.jobId,
              item.code,
              item.startDate,
              item.endDate,
              SyncFailureStatus.Pending,
            ],
          )) as { affectedRows: number })
        : { affectedRows: 0 };
      if (!outcome.ok && retriedFailure.affectedRows === 0) {
        await manager.query(
          'INSERT INTO stk_sync_failure (tenant, stock_code, start_date, end_date, failure_reason) SELECT tenant, ?, ?, ?, ? FROM sync_job WHERE id = ?',
          [item.code, item.startDate, item.endDate, reason ?? '', item.jobId],
        );
      }
      return true;
    });
    // Also when not counted now: the delivery that counted it (this one, before its answer was
    // lost with the connection) may not have got to closing the job.
    const jobSeconds = await this.finishIfDone(item.jobId);
    return jobSeconds === undefined ? { counted } : { counted, jobSeconds };
  }

  /**
   * Cancels a job that has not finished: its pending stocks become cancelled (workers skip them),
   * the job ends now. False when it had already finished.
   */
  async cancel(id: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const closed = (await manager.query(
        "UPDATE sync_job SET status = 'cancelled', finished_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND finished_at IS NULL",
        [id],
      )) as { affectedRows: number };
      if (closed.affectedRows !== 1) return false;
      await manager.query('UPDATE sync_job_item SET status = ?, finished_at = CURRENT_TIMESTAMP(3) WHERE job_id = ? AND status = ?', [
        ItemStatus.Cancelled,
        id,
        ItemStatus.Pending,
      ]);
      await this.storeCounts(manager, id);
      return true;
    });
  }

  /**
   * Opens a finished job again for its failed and cancelled stocks (in the caller's transaction,
   * which queues them): they become pending, the job queued. Returns the stocks, or an empty list
   * when the job has not finished or has nothing to retry.
   */
  async reopen(manager: EntityManager, id: string): Promise<WorkItemKey[]> {
    const [job] = (await manager.query('SELECT finished_at AS finishedAt FROM sync_job WHERE id = ? FOR UPDATE', [id])) as Array<{
      finishedAt: Date | null;
    }>;
    if (!job?.finishedAt) return [];
    const items = (await manager.query('SELECT market, stock_code AS code FROM sync_job_item WHERE job_id = ? AND status IN (?, ?)', [
      id,
      ItemStatus.Failed,
      ItemStatus.Cancelled,
    ])) as Array<{ market: string; code: string }>;
    if (items.length === 0) return [];
    await manager.query(
      'UPDATE sync_job_item SET status = ?, error_message = NULL, finished_at = NULL WHERE job_id = ? AND status IN (?, ?)',
      [ItemStatus.Pending, id, ItemStatus.Failed, ItemStatus.Cancelled],
    );
    await manager.query(
      "UPDATE sync_job SET status = 'queued', started_at = NULL, finished_at = NULL, failed = 0, cancelled = 0 WHERE id = ?",
      [id],
    );
    return items.map((item) => ({ jobId: id, market: item.market, code: item.code }));
  }

  /**
   * Closes the job when no item is pending. Checked after the item's commit: inside it, two last
   * items finishing at once would each still see the other pending. The conditional UPDATE lets
   * exactly one of the completers close the job. Returns its run time when this call closed it.
   */
  private async finishIfDone(jobId: string): Promise<number | undefined> {
    const [pending] = (await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM sync_job_item WHERE job_id = ? AND status = ${ItemStatus.Pending}) AS pending`,
      [jobId],
    )) as Array<{ pending: number | string }>;
    if (Number(pending?.pending ?? 1)) return undefined;
    // Single-table UPDATE assigns left to right: the status reads the counts just set.
    const closed = (await this.dataSource.query(
      `UPDATE sync_job
          SET ${COUNTS_FROM_ITEMS},
              status = CASE WHEN failed = 0 THEN 'success' WHEN succeeded = 0 THEN 'failed' ELSE 'partial' END,
              finished_at = CURRENT_TIMESTAMP(3)
        WHERE id = ? AND finished_at IS NULL`,
      [...countParams(jobId), jobId],
    )) as { affectedRows: number };
    if (closed.affectedRows !== 1) return undefined;
    const [timing] = (await this.dataSource.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) AS micros FROM sync_job WHERE id = ?',
      [jobId],
    )) as Array<{ micros: string | number | null }>;
    return Number(timing?.micros ?? 0) / 1e6;
  }

  /** Writes the item counts onto the job row (when it ends). */
  private async storeCounts(manager: EntityManager, jobId: string): Promise<void> {
    await manager.query(`UPDATE sync_job SET ${COUNTS_FROM_ITEMS} WHERE id = ?`, [...countParams(jobId), jobId]);
  }
}

const COUNTS_FROM_ITEMS = ['succeeded', 'failed', 'cancelled']
  .map((column) => `${column} = (SELECT COUNT(*) FROM sync_job_item WHERE job_id = ? AND status = ?)`)
  .join(', ');
const countParams = (jobId: string) => [jobId, ItemStatus.Succeeded, jobId, ItemStatus.Failed, jobId, ItemStatus.Cancelled];
