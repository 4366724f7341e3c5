import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { SyncFailureEntity } from '../failures/sync-failure.entity';
import { SyncJobEntity } from './sync-job.entity';

export interface WorkItemKey {
  jobId: string;
  market: string;
  code: string;
}

export type ItemOutcome = { ok: true } | { ok: false; reason: string; startDate: string; endDate: string };

/** Jobs a replica remembers having marked running (it marks each once, not once per stock). */
const STARTED_JOBS_REMEMBERED = 256;

/**
 * Job progress with exactly-once accounting: an item moves from pending to done once (a
 * conditional UPDATE), and only that transition stores its bars or failure row — so a
 * redelivered work message (a replica died before acking) changes nothing twice.
 *
 * The items are the one record of progress: a running job's counts are read from them, and the
 * job row is written only when the job starts and when its last item is done. Counting on the job
 * row per item made every stock of every replica wait for the same row lock.
 */
@Injectable()
export class SyncJobsRepository {
  private readonly startedJobs = new Set<string>();

  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** The job, with the counts of its items so far while it runs. */
  async find(id: string): Promise<SyncJobEntity | null> {
    const job = await this.dataSource.getRepository(SyncJobEntity).findOneBy({ id });
    if (!job || job.finishedAt) return job;
    const counts = (await this.dataSource.query(
      'SELECT status, COUNT(*) AS n FROM sync_job_item WHERE job_id = ? AND status <> 0 GROUP BY status',
      [id],
    )) as Array<{ status: number; n: string | number }>;
    job.succeeded = Number(counts.find((c) => c.status === 1)?.n ?? 0);
    job.failed = Number(counts.find((c) => c.status === 2)?.n ?? 0);
    return job;
  }

  /** True when the item still has to be pulled; marks its job running on the first item. */
  async claim(item: WorkItemKey): Promise<boolean> {
    const [row] = (await this.dataSource.query(
      'SELECT status FROM sync_job_item WHERE job_id = ? AND market = ? AND stock_code = ?',
      [item.jobId, item.market, item.code],
    )) as Array<{ status: number }>;
    if (!row || row.status !== 0) return false;
    if (!this.startedJobs.has(item.jobId)) {
      await this.dataSource.query(
        "UPDATE sync_job SET status = 'running', started_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND status = 'queued'",
        [item.jobId],
      );
      if (this.startedJobs.size >= STARTED_JOBS_REMEMBERED) this.startedJobs.clear();
      this.startedJobs.add(item.jobId);
    }
    return true;
  }

  /**
   * Records the item's outcome once, in one transaction with what it produced: `store` writes the
   * bars of a success, a failure gets its `stk_sync_failure` row. `counted` is false when another
   * delivery already did; `jobSeconds` is set when this item finished its job (its run time).
   */
  async complete(
    item: WorkItemKey,
    outcome: ItemOutcome,
    store?: (manager: EntityManager) => Promise<void>,
  ): Promise<{ counted: boolean; jobSeconds?: number }> {
    const counted = await this.dataSource.transaction(async (manager) => {
      const result = (await manager.query(
        `UPDATE sync_job_item SET status = ?, attempts = attempts + 1, error_message = ?, finished_at = CURRENT_TIMESTAMP(3)
          WHERE job_id = ? AND market = ? AND stock_code = ? AND status = 0`,
        [outcome.ok ? 1 : 2, outcome.ok ? null : outcome.reason.slice(0, 500), item.jobId, item.market, item.code],
      )) as { affectedRows: number };
      if (result.affectedRows !== 1) return false;
      if (outcome.ok) await store?.(manager);
      else {
        await manager.insert(SyncFailureEntity, {
          stockCode: item.code,
          startDate: outcome.startDate,
          endDate: outcome.endDate,
          failureReason: outcome.reason.slice(0, 500),
        });
      }
      return true;
    });
    if (!counted) return { counted: false };
    const jobSeconds = await this.finishIfDone(item.jobId);
    return jobSeconds === undefined ? { counted: true } : { counted: true, jobSeconds };
  }

  /**
   * Closes the job when no item is pending. Checked after the item's commit: inside it, two last
   * items finishing at once would each still see the other pending. The conditional UPDATE lets
   * exactly one of the completers close the job. Returns its run time when this call closed it.
   */
  private async finishIfDone(jobId: string): Promise<number | undefined> {
    const [pending] = (await this.dataSource.query(
      'SELECT EXISTS (SELECT 1 FROM sync_job_item WHERE job_id = ? AND status = 0) AS pending',
      [jobId],
    )) as Array<{ pending: number | string }>;
    if (Number(pending?.pending ?? 1)) return undefined;
    // Single-table UPDATE assigns left to right: the status reads the counts just set.
    const finished = (await this.dataSource.query(
      `UPDATE sync_job
          SET succeeded = (SELECT COUNT(*) FROM sync_job_item WHERE job_id = ? AND status = 1),
              failed = (SELECT COUNT(*) FROM sync_job_item WHERE job_id = ? AND status = 2),
              status = CASE WHEN failed = 0 THEN 'success' WHEN succeeded = 0 THEN 'failed' ELSE 'partial' END,
              finished_at = CURRENT_TIMESTAMP(3)
        WHERE id = ? AND finished_at IS NULL`,
      [jobId, jobId, jobId],
    )) as { affectedRows: number };
    if (finished.affectedRows !== 1) return undefined;
    const [timing] = (await this.dataSource.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) AS micros FROM sync_job WHERE id = ?',
      [jobId],
    )) as Array<{ micros: string | number | null }>;
    return Number(timing?.micros ?? 0) / 1e6;
  }
}
