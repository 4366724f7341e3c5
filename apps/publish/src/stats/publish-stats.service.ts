import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { PublishStats, PublishStatsResponse } from '@batchgate/contracts/publish/v1/publish';
import type { JobOwner } from '@batchgate/platform/jobs';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { PublishConfig } from '../config/publish.config';
import { PUBLISH_JOBS } from '../tasks/publish-jobs';

/**
 * Seed 003's statistics report (发布成功率、耗时统计): success rate and run-time percentiles of the
 * newest ended tasks (PUBLISH_STATS_WINDOW of them), the caller's and their tenant's (each tenant
 * sees only its own). The same figures for the whole service are metrics: the kit's
 * `jobs_items_total{kind="article"}` and `jobs_job_duration_seconds{kind="article"}`.
 */
@Injectable()
export class PublishStatsService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(SERVICE_CONFIG) private readonly config: PublishConfig,
  ) {}

  async stats(owner: JobOwner): Promise<PublishStatsResponse> {
    const [user, tenant] = await Promise.all([this.ended(owner.tenant, owner.userId), this.ended(owner.tenant)]);
    return { user: summarise(user), tenant: summarise(tenant) };
  }

  private ended(tenant: string, userId?: string): Promise<Array<{ status: string; ms: string | number }>> {
    // list_status (the job kit's status index) is status for every state but running.
    return this.dataSource.query(
      `SELECT status, TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) / 1000 AS ms FROM job
        WHERE tenant = ?${userId === undefined ? '' : ' AND user_id = ?'} AND kind = ? AND list_status IN ('success', 'failed') AND started_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT ?`,
      [tenant, ...(userId === undefined ? [] : [userId]), PUBLISH_JOBS.name, this.config.PUBLISH_STATS_WINDOW],
    ) as Promise<Array<{ status: string; ms: string | number }>>;
  }
}

function summarise(rows: Array<{ status: string; ms: string | number }>): PublishStats {
  const durations = rows.map((row) => Number(row.ms)).sort((a, b) => a - b);
  const succeeded = rows.filter((row) => row.status === 'success').length;
  return {
    total: rows.length,
    succeeded,
    failed: rows.length - succeeded,
    successRate: rows.length === 0 ? 0 : succeeded / rows.length,
    durationP50Ms: percentile(durations, 0.5),
    durationP95Ms: percentile(durations, 0.95),
    durationP99Ms: percentile(durations, 0.99),
  };
}

/** Nearest-rank percentile of sorted values; 0 for none. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? 0;
}
