/**
 * Every state of a durable job and of its items, and every transition between them, in one place
 * (SPEC §2.1). The job store's SQL takes its `WHERE status IN (…)` guards from here, so a
 * transition two replicas race for is applied once: the loser's UPDATE matches no row.
 */
export const JOB_STATUSES = [
  'pending',
  'queued',
  'running',
  'success',
  'failed',
  'cancelled',
  'partial',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const ITEM_STATUSES = [
  'pending',
  'queued',
  'running',
  'success',
  'failed',
  'cancelled',
] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = [
  'success',
  'failed',
  'cancelled',
  'partial',
];
export const OPEN_JOB_STATUSES: readonly JobStatus[] = ['pending', 'queued', 'running'];
export const OPEN_ITEM_STATUSES: readonly ItemStatus[] = ['pending', 'queued', 'running'];

export function isTerminalJobStatus(status: string): boolean {
  return (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);
}

/**
 * Item transitions: the states each may start from, and where it leads.
 * - `release`: a held item (submitted with `hold`) goes onto the work queue.
 * - `claim`: a worker starts the item. From `running` too: JetStream redelivers an item only when
 *   its worker stopped heart-beating (it died), and the claim's new attempt number fences the old
 *   run out (its completion no longer matches).
 * - `succeed` / `fail`: the claimed run records its outcome (guarded by its attempt number).
 *   (A claim past the maximum number of runs is failed at once by the worker, through `fail`: a
 *   handler that crashes its process every time would otherwise loop for ever.)
 * - `cancel`: the owner cancels; running items are aborted.
 * - `retry`: failed and cancelled items of a finished job are queued again (held `pending` until
 *   released, when the retry asks to hold them).
 */
export const ITEM_TRANSITIONS = {
  release: { from: ['pending'], to: 'queued' },
  claim: { from: ['queued', 'running'], to: 'running' },
  succeed: { from: ['running'], to: 'success' },
  fail: { from: ['running'], to: 'failed' },
  cancel: { from: ['pending', 'queued', 'running'], to: 'cancelled' },
  retry: { from: ['failed', 'cancelled'], to: 'queued' },
} as const satisfies Record<string, { from: readonly ItemStatus[]; to: ItemStatus }>;

/**
 * Job transitions. A job leaves `running` for its outcome when its last open item ends
 * ({@link outcomeOf}); `cancel` ends it at once; `retry` reopens a finished one.
 */
export const JOB_TRANSITIONS = {
  release: { from: ['pending'], to: 'queued' },
  start: { from: ['queued'], to: 'running' },
  finish: { from: ['queued', 'running'] },
  cancel: { from: ['pending', 'queued', 'running'], to: 'cancelled' },
  retry: { from: ['failed', 'cancelled', 'partial'], to: 'queued' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to?: JobStatus }>;

/** The outcome of a job whose items have all ended (as kline-sync's seed reports it). */
export function outcomeOf(counts: {
  succeeded: number;
  failed: number;
  cancelled: number;
}): JobStatus {
  if (counts.failed === 0 && counts.cancelled === 0) return 'success';
  if (counts.succeeded === 0) return counts.failed > 0 ? 'failed' : 'cancelled';
  return 'partial';
}

/**
 * The job's `list_status` column (JobWriteCosts1765324800000, a generated column): its status
 * with `running` folded into `queued`, so that the owner's status index is not rewritten when a
 * job starts. A list by status filters by this first (the index), then by the status itself.
 */
export function listStatusOf(status: JobStatus): JobStatus {
  return status === 'running' ? 'queued' : status;
}

/** `'a', 'b'` for an `IN (…)` guard; the statuses are the constants above, never input. */
export function sqlList(statuses: readonly string[]): string {
  return statuses.map((status) => `'${status}'`).join(', ');
}
