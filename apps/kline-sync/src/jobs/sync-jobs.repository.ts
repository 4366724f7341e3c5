import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SyncFailureEntity } from '../failures/sync-failure.entity';
import { SyncJobEntity } from './sync-job.entity';

export interface WorkItemKey {
  jobId: string;
  market: string;
  code: string;
}

export type ItemOutcome = { ok: true } | { ok: false; reason: string; startDate: string; endDate: string };

/**
 * Job progress with exactly-once accounting: an item moves from pending to done once (a
 * conditional UPDATE), and only that transition counts towards the job and writes a failure
 * row — so a redelivered work message (a replica died before acking) changes nothing twice.
 */
@Injectable()
export class SyncJobsRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async find(id: string): Promise<SyncJobEntity | null> {
    return this.dataSource.getRepository(SyncJobEntity).findOneBy({ id });
  }

  /** True when the item still has to be pulled; marks its job running on the first item. */
  async claim(item: WorkItemKey): Promise<boolean> {
    const [row] = (await this.dataSource.query(
      'SELECT status FROM sync_job_item WHERE job_id = ? AND market = ? AND stock_code = ?',
      [item.jobId, item.market, item.code],
    )) as Array<{ status: number }>;
    if (!row || row.status !== 0) return false;
    await this.dataSource.query(
      "UPDATE sync_job SET status = 'running', started_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND status = 'queued'",
      [item.jobId],
    );
    return true;
  }

  /**
   * Records the item's outcome once. `counted` is false when another delivery already did;
   * `jobSeconds` is set when this item finished its job (its run time, for the metrics).
   */
  async complete(item: WorkItemKey, outcome: ItemOutcome): Promise<{ counted: boolean; jobSeconds?: number }> {
    return this.dataSource.transaction(async (manager) => {
      const result = (await manager.query(
        `UPDATE sync_job_item SET status = ?, attempts = attempts + 1, error_message = ?, finished_at = CURRENT_TIMESTAMP(3)
          WHERE job_id = ? AND market = ? AND stock_code = ? AND status = 0`,
        [outcome.ok ? 1 : 2, outcome.ok ? null : outcome.reason.slice(0, 500), item.jobId, item.market, item.code],
      )) as { affectedRows: number };
      if (result.affectedRows !== 1) return { counted: false };
      if (!outcome.ok) {
        await manager.insert(SyncFailureEntity, {
          stockCode: item.code,
          startDate: outcome.startDate,
          endDate: outcome.endDate,
          failureReason: outcome.reason.slice(0, 500),
        });
      }
      await manager.query(
        `UPDATE sync_job SET succeeded = succeeded + ?, failed = failed + ? WHERE id = ?`,
        [outcome.ok ? 1 : 0, outcome.ok ? 0 : 1, item.jobId],
      );
      const finished = (await manager.query(
        `UPDATE sync_job
            SET status = CASE WHEN failed = 0 THEN 'success' WHEN succeeded = 0 THEN 'failed' ELSE 'partial' END,
                finished_at = CURRENT_TIMESTAMP(3)
          WHERE id = ? AND finished_at IS NULL AND succeeded + failed >= total`,
        [item.jobId],
      )) as { affectedRows: number };
      if (finished.affectedRows !== 1) return { counted: true };
      const [timing] = (await manager.query(
        'SELECT TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) AS micros FROM sync_job WHERE id = ?',
        [item.jobId],
      )) as Array<{ micros: string | number | null }>;
      return { counted: true, jobSeconds: Number(timing?.micros ?? 0) / 1e6 };
    });
  }
}
