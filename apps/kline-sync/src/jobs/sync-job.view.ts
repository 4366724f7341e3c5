import type { SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import type { JobSnapshot, JobStatus } from '@batchgate/platform/jobs';
import type { SyncParams } from './sync-job-kind';
import type { SyncPlan } from './sync-planner';

/** The statuses a sync job is shown with (SYNC_JOB_STATUSES at the gateway). */
export const SYNC_JOB_STATUSES = ['queued', 'running', 'success', 'partial', 'failed', 'cancelled'] as const;
export type SyncJobStatus = (typeof SYNC_JOB_STATUSES)[number];

/** The kit's statuses behind a shown one: a job held for its planning is queued to its owner. */
export function kitStatusesOf(status: SyncJobStatus): JobStatus[] {
  return status === 'queued' ? ['pending', 'queued'] : [status];
}

/** Shown until the job is planned, moments after its submission. */
const NOT_PLANNED: SyncPlan = { threads: 0, tokensPerThread: [], tokenCount: 0 };

/**
 * Elapsed time of the current run and a linear ETA for the stocks still pending, from the pace of
 * this run (a retried job's earlier successes do not count).
 */
export function jobTiming(
  job: Pick<JobSnapshot<unknown>, 'startedAt' | 'finishedAt' | 'total' | 'succeeded' | 'failed' | 'cancelled' | 'doneThisRun'>,
  now: Date,
): { elapsedMs: number; etaMs: number } {
  if (!job.startedAt) return { elapsedMs: 0, etaMs: 0 };
  const end = job.finishedAt ?? now;
  const elapsedMs = Math.max(0, end.getTime() - job.startedAt.getTime());
  const ended = job.succeeded + job.failed + job.cancelled;
  if (job.finishedAt || job.doneThisRun === 0) return { elapsedMs, etaMs: 0 };
  return { elapsedMs, etaMs: Math.round((elapsedMs / job.doneThisRun) * (job.total - ended)) };
}

export function toSyncJobMessage(job: JobSnapshot<SyncParams>, plan: SyncPlan | undefined, now: Date): SyncJob {
  const { elapsedMs, etaMs } = jobTiming(job, now);
  return {
    id: job.id,
    status: job.status === 'pending' ? 'queued' : job.status,
    progress: { total: job.total, done: job.succeeded + job.failed + job.cancelled, succeeded: job.succeeded, failed: job.failed },
    cancelled: job.cancelled,
    plan: plan ?? NOT_PLANNED,
    elapsedMs,
    etaMs,
    market: job.params.market ?? '',
    startDate: job.params.startDate,
    endDate: job.params.endDate,
    kType: job.params.kType,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt ? job.finishedAt.toISOString() : '',
  };
}
