import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { calculateThreadCount, distributeStocks, distributeTokens } from '@batchgate/concurrency';
import { runOutsideRequest } from '@batchgate/platform/context';
import type { JobOwner, JobSnapshot } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { SYNC_JOB_STORE } from '../kline-sync.tokens';
import { TokenSupply } from '../sync/token-supply';
import { AnswersFirst } from './answers-first';
import type { SyncJobStore, SyncParams, SyncStock } from './sync-job-kind';

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
/** Held jobs planned in one pass: one token read per tenant and one plan write for all of them. */
const PASS_BATCH = 200;
/**
 * A held job to plan; `stocks` as its submission stored them (item i, seq i) when that
 * submission hands them over, else they are read.
 */
export interface HeldJob {
  id: string;
  owner: JobOwner;
  stocks?: readonly SyncStock[];
}

/** A job's stocks by seq, as their order is dealt. */
type StockSeqs = ReadonlyArray<{ seq: number; market: string }>;

/**
 * Plans sync jobs after their submission has been answered, and then queues them. A job is
 * submitted held (`pending`, shown as queued) so its answer waits for nothing but its commit;
 * the plan needs the tenant's tokens as token-manager has them now (seed 004: threads from the
 * token count, tokens split evenly), the same fresh pool its stocks are then pulled with.
 *
 * The replica that took the submission plans it soon after; a job whose replica stopped before
 * that (or whose planning failed: token-manager unreachable) is planned by any replica's sweep.
 * Jobs are planned in passes, one at a time, each over every job held meanwhile: planning one job
 * per submission cost a token read at token-manager, a job read, an items read and a plan write
 * per job, and a burst of submissions started hundreds of them in one event-loop turn, ahead of
 * the submissions still to be answered. Two replicas planning one job store one plan (the first)
 * and release it once (the kit's guarded transition).
 */
@Injectable()
export class SyncPlanner implements OnApplicationBootstrap, OnModuleDestroy {
  private sweep: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Jobs queued for or in a pass on this replica, so neither a submission nor the sweep plans them twice. */
  private readonly planning = new Set<string>();
  private readonly queue: HeldJob[] = [];
  private passes: Promise<void> | undefined;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(SYNC_JOB_STORE) private readonly jobs: SyncJobStore,
    @Inject(TokenSupply) private readonly tokenSupply: TokenSupply,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(KlineSyncMetrics) private readonly metrics: KlineSyncMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(AnswersFirst) private readonly answersFirst: AnswersFirst,
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
    await this.passes;
  }

  /** Plans and queues a just-submitted job in the background (outside the request: its deadline is not the job's). */
  planSoon(job: HeldJob): void {
    if (this.planning.has(job.id)) return;
    this.planning.add(job.id);
    this.queue.push(job);
    this.passes ??= runOutsideRequest(() => this.runPasses());
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

  /** Passes until the queue is empty; the next submission starts them again. */
  private async runPasses(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // A macrotask first: the submissions of the same burst join the pass, and the I/O that
        // is ready (answers still to be sent) runs before it.
        await new Promise((resolve) => setImmediate(resolve));
        const pass = this.queue.splice(0, PASS_BATCH);
        try {
          await this.planPass(pass);
        } finally {
          for (const job of pass) this.planning.delete(job.id);
        }
      }
    } finally {
      this.passes = undefined;
    }
  }

  private async planPass(pass: readonly HeldJob[]): Promise<void> {
    const byTenant = new Map<string, HeldJob[]>();
    for (const job of pass) byTenant.set(job.owner.tenant, [...(byTenant.get(job.owner.tenant) ?? []), job]);
    await Promise.all(
      [...byTenant].map(([tenant, jobs]) =>
        this.planTenant(tenant, jobs).catch((error: unknown) =>
          this.logger.warn({ err: error, tenant, jobs: jobs.length }, 'sync job planning failed; a sweep plans them again'),
        ),
      ),
    );
  }

  /** One tenant's held jobs of a pass: one fresh token read, one plan, one plan write, then their releases. */
  private async planTenant(tenant: string, held: readonly HeldJob[]): Promise<void> {
    const usable = (await this.tokenSupply.fresh(tenant)).credentials().filter((token) => token.status === 'active');
    const jobs = await Promise.all(
      held.map(async (job) => ({ ...job, seqs: job.stocks?.map((stock, seq) => ({ seq, market: stock.market })) ?? (await this.storedSeqs(job)) })),
    );
    const total = jobs.reduce((sum, job) => sum + job.seqs.length, 0);
    // The first calls are booked while the plans are stored and the stocks are queued.
    if (usable.length > 0) this.tokenSupply.prime(tenant, total);
    const threads = calculateThreadCount(usable.length, this.config.SYNC_TOKENS_PER_THREAD, this.config.SYNC_MAX_THREADS);
    const plan: SyncPlan = { threads, tokensPerThread: distributeTokens(usable, threads).map((lane) => lane.length), tokenCount: usable.length };
    await this.storePlans(jobs, plan);
    // With no usable token the stocks are still queued: each fails for want of one (a failure
    // row to re-pull once the tenant has tokens), as when its tokens go away mid-job.
    await this.release(jobs.map((job) => ({ owner: job.owner, id: job.id, order: seedOrder(job.seqs, threads) })));
  }

  /** The plan of every job of the pass in one statement; the first plan stored stands (a sweep on another replica may have planned one meanwhile). */
  private async storePlans(jobs: readonly HeldJob[], plan: SyncPlan): Promise<void> {
    const json = JSON.stringify(plan);
    // At most PASS_BATCH rows: one statement.
    const stored = (await this.dataSource.query(
      `INSERT IGNORE INTO sync_job_plan (job_id, tenant, user_id, plan) VALUES ${jobs.map(() => '(?, ?, ?, ?)').join(', ')}`,
      jobs.flatMap((job) => [job.id, job.owner.tenant, job.owner.userId, json]),
    )) as { affectedRows: number };
    if (stored.affectedRows > 0) {
      this.metrics.planTokensPerThread.reset();
      plan.tokensPerThread.forEach((tokens, thread) => this.metrics.planTokensPerThread.set({ thread: String(thread) }, tokens));
    }
  }

  /**
   * The pass's jobs in one of the kit's transactions (a release one by one was about ten
   * statements per job, and held the pool's connections while submissions waited for them).
   */
  private async release(jobs: ReadonlyArray<{ owner: JobOwner; id: string; order: number[] }>): Promise<void> {
    try {
      const refused = await this.answersFirst.step(() => this.jobs.releaseAll(jobs));
      refused.forEach((error, index) => {
        // Cancelled, or released by another replica's sweep: nothing left to do.
        if (error && error.code !== 'SYNC.JOB_NOT_PENDING') this.logger.warn({ err: error, jobId: jobs[index]?.id }, 'sync job not released');
      });
    } catch (error) {
      this.logger.warn({ err: error, jobs: jobs.length }, 'sync job planning failed; a sweep plans them again');
    }
  }

  /** A job's stocks as stored (a job the sweep found: its submission's replica did not plan it). */
  private async storedSeqs(job: HeldJob): Promise<StockSeqs> {
    const { total } = await this.jobs.get(job.owner, job.id);
    const { items } = await this.jobs.items(job.owner, job.id, { page: 1, size: Math.max(1, total) });
    return items.map((item) => ({ seq: item.seq, market: item.payload.market }));
  }

  private async planOrphans(): Promise<void> {
    try {
      for (const job of await this.jobs.held(ORPHANED_AFTER_MS, SWEEP_BATCH)) this.planSoon(job);
      await this.passes;
    } catch (error) {
      this.logger.warn({ err: error }, 'planning held sync jobs failed; the next sweep tries again');
    }
  }
}

/**
 * The order a job's stocks are queued in (their seqs), as the seed deals them: grouped by market
 * (items are stored in (market, code) order), each market's stocks round-robin over the threads.
 */
function seedOrder(stocks: StockSeqs, threads: number): number[] {
  const byMarket = new Map<string, number[]>();
  for (const { seq, market } of stocks) {
    const seqs = byMarket.get(market) ?? [];
    byMarket.set(market, seqs);
    seqs.push(seq);
  }
  return [...byMarket.values()].flatMap((seqs) => distributeStocks(seqs, threads).flat());
}

/** A job's plan row, read beside the job (JobStore.getWith). */
const PLAN_ATTACHMENT = { table: 'sync_job_plan', columns: ['plan'] } as const;

/** MariaDB keeps JSON as text; MySQL's driver parses it. */
function planOf(stored: SyncPlan | string): SyncPlan {
  return typeof stored === 'string' ? (JSON.parse(stored) as SyncPlan) : stored;
}
