import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { calculateThreadCount, distributeStocks, distributeTokens } from '@batchgate/concurrency';
import { runOutsideRequest } from '@batchgate/platform/context';
import { DomainError } from '@batchgate/platform/errors';
import type { JobOwner, JobSnapshot } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { SYNC_JOB_STORE } from '../kline-sync.tokens';
import { TokenSupply } from '../sync/token-supply';
import type { SyncJobStore, SyncParams } from './sync-job-kind';

/** How the job's work is split, as seed 004 plans it (reported with the job). */
export interface SyncPlan {
  threads: number;
  tokensPerThread: number[];
  tokenCount: number;
}

/** How often a replica looks for held jobs nobody planned (their replica stopped first). */
const SWEEP_INTERVAL_MS = 5_000;
/** A held job this old is taken to be orphaned: its own replica plans it within milliseconds. */
const ORPHANED_AFTER_MS = 10_000;
const SWEEP_BATCH = 50;

/**
 * Plans sync jobs after their submission has been answered, and then queues them. A job is
 * submitted held (`pending`, shown as queued) so its answer waits for nothing but its commit;
 * the plan needs the tenant's tokens as token-manager has them now (seed 004: threads from the
 * token count, tokens split evenly), the same fresh pool its stocks are then pulled with.
 *
 * The replica that took the submission plans it at once; a job whose replica stopped before that
 * (or whose planning failed: token-manager unreachable) is planned by any replica's sweep. Two
 * replicas planning one job store one plan (the first) and release it once (the kit's guarded
 * transition).
 */
@Injectable()
export class SyncPlanner implements OnApplicationBootstrap, OnModuleDestroy {
  private sweep: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Jobs being planned on this replica, so the sweep does not plan them twice. */
  private readonly planning = new Set<string>();

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(SYNC_JOB_STORE) private readonly jobs: SyncJobStore,
    @Inject(TokenSupply) private readonly tokenSupply: TokenSupply,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(KlineSyncMetrics) private readonly metrics: KlineSyncMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.sweep = setInterval(() => {
      this.sweeping ??= this.planOrphans().finally(() => (this.sweeping = undefined));
    }, SWEEP_INTERVAL_MS);
    this.sweep.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweep);
    await this.sweeping;
  }

  /** Plans and queues a just-submitted job in the background (outside the request: its deadline is not the job's). */
  planSoon(id: string, owner: JobOwner): void {
    runOutsideRequest(() => {
      void this.plan(id, owner).catch((error: unknown) =>
        this.logger.warn({ err: error, jobId: id }, 'sync job planning failed; a sweep plans it again'),
      );
    });
  }

  /** The owner's plans of these jobs (a job not planned yet has none). */
  async plansOf(owner: JobOwner, ids: readonly string[]): Promise<Map<string, SyncPlan>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.dataSource.query('SELECT job_id, plan FROM sync_job_plan WHERE job_id IN (?) AND tenant = ? AND user_id = ?', [
      ids,
      owner.tenant,
      owner.userId,
    ])) as Array<{ job_id: string; plan: SyncPlan | string }>;
    return new Map(rows.map((row) => [row.job_id, planOf(row.plan)]));
  }

  /** The owner's job and its plan (none while it is not planned yet), in one statement: the read by id. */
  async jobWithPlan(owner: JobOwner, id: string): Promise<{ job: JobSnapshot<SyncParams>; plan: SyncPlan | undefined }> {
    const { job, attached } = await this.jobs.getWith<{ plan: SyncPlan | string }>(owner, id, PLAN_ATTACHMENT);
    return { job, plan: attached && planOf(attached.plan) };
  }

  private async plan(id: string, owner: JobOwner): Promise<void> {
    if (this.planning.has(id)) return;
    this.planning.add(id);
    try {
      const usable = (await this.tokenSupply.fresh(owner.tenant)).credentials().filter((token) => token.status === 'active');
      const job = await this.jobs.get(owner, id);
      // The first calls are booked while the plan is stored and the stocks are queued.
      if (usable.length > 0) this.tokenSupply.prime(owner.tenant, Math.ceil(job.total / usable.length));
      const threads = calculateThreadCount(usable.length, this.config.SYNC_TOKENS_PER_THREAD, this.config.SYNC_MAX_THREADS);
      const plan: SyncPlan = { threads, tokensPerThread: distributeTokens(usable, threads).map((lane) => lane.length), tokenCount: usable.length };
      // The first plan stored stands (a sweep on another replica may have planned it meanwhile).
      const stored = (await this.dataSource.query(
        'INSERT IGNORE INTO sync_job_plan (job_id, tenant, user_id, plan) VALUES (?, ?, ?, ?)',
        [id, owner.tenant, owner.userId, JSON.stringify(plan)],
      )) as { affectedRows: number };
      if (stored.affectedRows === 1) {
        this.metrics.planTokensPerThread.reset();
        plan.tokensPerThread.forEach((tokens, thread) => this.metrics.planTokensPerThread.set({ thread: String(thread) }, tokens));
      }
      // With no usable token the stocks are still queued: each fails for want of one (a failure
      // row to re-pull once the tenant has tokens), as when its tokens go away mid-job.
      await this.jobs.release(owner, id, { order: await this.seedOrder(id, owner, job.total, threads) }).catch((error: unknown) => {
        // Cancelled, or released by another replica's sweep: nothing left to do.
        if (!(error instanceof DomainError && error.code === 'SYNC.JOB_NOT_PENDING')) throw error;
      });
    } finally {
      this.planning.delete(id);
    }
  }

  /**
   * The order the job's stocks are queued in, as the seed deals them: grouped by market (items
   * are stored in (market, code) order), each market's stocks round-robin over the threads.
   */
  private async seedOrder(id: string, owner: JobOwner, total: number, threads: number): Promise<number[]> {
    const { items } = await this.jobs.items(owner, id, { page: 1, size: Math.max(1, total) });
    const byMarket = new Map<string, number[]>();
    for (const item of items) {
      const seqs = byMarket.get(item.payload.market) ?? [];
      byMarket.set(item.payload.market, seqs);
      seqs.push(item.seq);
    }
    return [...byMarket.values()].flatMap((seqs) => distributeStocks(seqs, threads).flat());
  }

  private async planOrphans(): Promise<void> {
    try {
      for (const job of await this.jobs.held(ORPHANED_AFTER_MS, SWEEP_BATCH)) await this.plan(job.id, job.owner);
    } catch (error) {
      this.logger.warn({ err: error }, 'planning held sync jobs failed; the next sweep tries again');
    }
  }
}

/** A job's plan row, read beside the job (JobStore.getWith). */
const PLAN_ATTACHMENT = { table: 'sync_job_plan', columns: ['plan'] } as const;

/** MariaDB keeps JSON as text; MySQL's driver parses it. */
function planOf(stored: SyncPlan | string): SyncPlan {
  return typeof stored === 'string' ? (JSON.parse(stored) as SyncPlan) : stored;
}
