import { Column, Entity, PrimaryColumn } from 'typeorm';

export const SYNC_JOB_STATUSES = ['queued', 'running', 'success', 'partial', 'failed', 'cancelled'] as const;
export type SyncJobStatus = (typeof SYNC_JOB_STATUSES)[number];

/** How the job's work is split, as seed 004 plans it (reported, and used by the static strategy). */
export interface SyncPlanRecord {
  threads: number;
  tokensPerThread: number[];
  tokenCount: number;
}

@Entity({ name: 'sync_job' })
export class SyncJobEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id!: string;

  /** The owner is (tenant, userId): nobody else sees the job. */
  @Column({ type: 'varchar', length: 64, default: '' })
  tenant!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ type: 'varchar', length: 10, nullable: true })
  market!: string | null;

  @Column({ name: 'start_date', type: 'date' })
  startDate!: string;

  @Column({ name: 'end_date', type: 'date' })
  endDate!: string;

  @Column({ name: 'k_type', type: 'tinyint' })
  kType!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: SyncJobStatus;

  @Column({ type: 'json', nullable: true })
  plan!: SyncPlanRecord | null;

  @Column({ type: 'int', default: 0 })
  total!: number;

  @Column({ type: 'int', default: 0 })
  succeeded!: number;

  @Column({ type: 'int', default: 0 })
  failed!: number;

  /** Stocks cancelled before they were pulled. */
  @Column({ type: 'int', default: 0 })
  cancelled!: number;

  @Column({ name: 'error_message', type: 'varchar', length: 500, nullable: true })
  errorMessage!: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'datetime', precision: 3, nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'datetime', precision: 3, nullable: true })
  finishedAt!: Date | null;

  /**
   * Stocks that ended since `startedAt` (a retried job restarts it), counted from the items while
   * the job runs; not a column.
   */
  finishedThisRun?: number;
}

/**
 * Elapsed time of the current run and a linear ETA for the stocks still pending, from the pace of
 * this run (a retried job's earlier successes do not count).
 */
export function jobTiming(
  job: Pick<SyncJobEntity, 'startedAt' | 'finishedAt' | 'total' | 'succeeded' | 'failed' | 'cancelled' | 'finishedThisRun'>,
  now: Date,
): { elapsedMs: number; etaMs: number } {
  if (!job.startedAt) return { elapsedMs: 0, etaMs: 0 };
  const end = job.finishedAt ?? now;
  const elapsedMs = Math.max(0, end.getTime() - job.startedAt.getTime());
  const ended = job.succeeded + job.failed + job.cancelled;
  const finishedThisRun = job.finishedThisRun ?? ended;
  if (job.finishedAt || finishedThisRun === 0) return { elapsedMs, etaMs: 0 };
  return { elapsedMs, etaMs: Math.round((elapsedMs / finishedThisRun) * (job.total - ended)) };
}
