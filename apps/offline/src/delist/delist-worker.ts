import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { AimdLimit, classifyError, sleep, type AdaptiveLimit, type LimitSample } from '@batchgate/concurrency';
import { ItemFailure, JobWorker, type JobItemRun } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { OfflineConfig } from '../config/offline.config';
import { findOfflineProduct } from '../batches/offline-products';
import type { OfflineOutcome, OfflineParams, OfflineProduct } from '../batches/offline-jobs';
import { OFFLINE_JOB_STORE, type OfflineJobStore } from '../batches/offline-store';
import { MarketplaceClient, StaleSessionError, UnknownProductError, type CallObserver, type MarketplaceSession } from '../marketplace/marketplace.client';
import { OfflineMetrics } from '../offline.metrics';
import { SessionCache, type ResolvedSession } from '../session/session-cache';
import { ThreadGate } from './thread-gate';

export const DELISTED_MESSAGE = '下架成功';
export const ALREADY_OFFLINE_MESSAGE = '商品已下架，无需重复下架';

/** One batch as this replica runs it: its threads and the session its products use. */
interface BatchRun {
  tenant: string;
  gate: ThreadGate;
  /** max_threads "auto": the replica's adaptive gate as well, and the calls feed its limit. */
  auto: boolean;
  session?: Promise<ResolvedSession>;
  /** The session recorded for the batch's answer by this replica. */
  recorded?: MarketplaceSession;
  /** Products of the batch in hand here; the entry goes with the last. */
  products: number;
}

/**
 * Runs the products of every batch from the work queue (any replica; a batch is one message, so
 * one replica holds it). Per product: the tenant's record first (de-listed before: reported so,
 * not de-listed again); then, inside the batch's threads and the replica's bound, invoke the
 * marketplace's de-list tool with the item's idempotency key and poll until the outcome, under
 * the marketplace's breaker (an outage is waited out, not failed). A product the marketplace
 * refuses fails alone; a product whose run is cut short (crash, shutdown) runs again, and the
 * marketplace answers a repeated de-list as the one in progress or as already offline.
 */
@Injectable()
export class DelistWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private worker: JobWorker<OfflineParams, OfflineProduct, OfflineOutcome> | undefined;
  private readonly batches = new Map<string, BatchRun>();
  /** Every de-list of this replica, over all batches. */
  private readonly replicaGate: ThreadGate;
  /**
   * The marketplace's capacity as this replica finds it (max_threads "auto"): one limit over all
   * auto batches, since they share the marketplace, fed one sample per product: the mean
   * latency of its calls (invoke and polls, not the waits between polls) against the no-load
   * baseline, and whether one timed out or was rate-limited. Per product rather than per call,
   * because a fast poll and a slow invoke in one round would read as noise.
   */
  private readonly adaptive: AdaptiveLimit;
  private readonly autoGate: ThreadGate;
  private readonly stopping = new AbortController();

  constructor(
    @Inject(OFFLINE_JOB_STORE) private readonly store: OfflineJobStore,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(MarketplaceClient) private readonly marketplace: MarketplaceClient,
    @Inject(SessionCache) private readonly sessions: SessionCache,
    @Inject(SERVICE_CONFIG) private readonly config: OfflineConfig,
    @Inject(OfflineMetrics) private readonly metrics: OfflineMetrics,
    @Inject(Registry) private readonly registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.replicaGate = new ThreadGate(() => config.OFFLINE_MAX_IN_FLIGHT);
    // Slow start from half the maximum. A round is overload above the limit's break-even latency
    // (n threads at it do no more than n − 1 at the baseline: 1.25 × the baseline for 5, 1.14 ×
    // for 8), and never below 1.1 × (the jitter of a quiet machine's rounds).
    this.adaptive = new AimdLimit({
      initial: Math.max(1, Math.floor(config.OFFLINE_AUTO_MAX_THREADS / 2)),
      max: config.OFFLINE_AUTO_MAX_THREADS,
      tolerance: 1.1,
      baselineWindowMs: 60_000,
    });
    this.autoGate = new ThreadGate(() => this.adaptive.current);
    metrics.adaptiveLimit.set(this.adaptive.current);
    this.adaptive.onChange((limit) => {
      metrics.adaptiveLimit.set(limit);
      this.autoGate.admitWaiting();
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.worker = new JobWorker(
      this.store,
      (run) => this.delistProduct(run),
      {
        // Items in hand, not de-lists at once: a batch's products wait for its threads without a
        // slot each, so a big batch never keeps a small one waiting behind it on this replica.
        concurrency: 100_000,
        maxDeliveries: this.config.OFFLINE_MAX_DELIVERIES,
        ackWaitMs: this.config.OFFLINE_ACK_WAIT_MS,
        retryDelayMs: 1_000,
      },
      this.logger,
      this.registry,
    );
    await this.worker.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.worker?.stop();
  }

  private async delistProduct(run: JobItemRun<OfflineParams, OfflineProduct>): Promise<OfflineOutcome> {
    const { productId } = run.payload;
    const known = await findOfflineProduct(this.dataSource.manager, run.owner.tenant, productId);
    if (known) {
      this.metrics.products.inc({ outcome: 'already_offline' });
      return {
        productName: known.product_name,
        productImg: known.product_img,
        offlineMsgId: known.offline_msg_id,
        retryCount: 0,
        message: ALREADY_OFFLINE_MESSAGE,
        alreadyOffline: true,
      };
    }
    // At shutdown the product's calls stop too: it runs again on another replica, where the
    // marketplace answers the repeated de-list as the one in progress.
    const signal = AbortSignal.any([run.signal, this.stopping.signal]);
    const batch = this.enter(run.jobId, run.owner.tenant, run.params);
    try {
      const releaseThread = await batch.gate.acquire(signal);
      const releaseAuto = batch.auto ? await this.acquireOrRelease(this.autoGate, signal, [releaseThread]) : () => undefined;
      const releaseReplica = await this.acquireOrRelease(this.replicaGate, signal, [releaseAuto, releaseThread]);
      const startedAt = performance.now();
      const calls = batch.auto ? new CallSample(startedAt, this.autoGate.inFlight) : undefined;
      try {
        const outcome = await this.marketplace.whileAvailable(() => this.delist(run, batch, signal, calls?.observe), {
          signal,
          waitWhileDownMs: this.config.MARKETPLACE_OUTAGE_WAIT_MS,
          stopWaiting: this.stopping.signal,
        });
        const label = outcome.alreadyOffline ? 'already_offline' : 'delisted';
        this.metrics.products.inc({ outcome: label });
        this.metrics.delistDuration.observe({ outcome: label }, (performance.now() - startedAt) / 1000);
        return outcome;
      } catch (error) {
        if (error instanceof ItemFailure) {
          this.metrics.products.inc({ outcome: 'failed' });
          this.metrics.delistDuration.observe({ outcome: 'failed' }, (performance.now() - startedAt) / 1000);
        }
        throw error;
      } finally {
        const sample = calls?.sample(performance.now());
        if (sample) this.adaptive.onSample(sample);
        releaseReplica();
        releaseAuto();
        releaseThread();
      }
    } finally {
      await this.leave(run.jobId, run.owner.tenant);
    }
  }

  /** A place in `gate`; if the wait fails (cancelled), the places already held are given back. */
  private async acquireOrRelease(gate: ThreadGate, signal: AbortSignal, held: Array<() => void>): Promise<() => void> {
    try {
      return await gate.acquire(signal);
    } catch (error) {
      for (const release of held) release();
      throw error;
    }
  }

  /** Invoke, then poll until the marketplace reports the outcome. */
  private async delist(run: JobItemRun<OfflineParams, OfflineProduct>, batch: BatchRun, signal: AbortSignal, observe?: CallObserver): Promise<OfflineOutcome> {
    const tenant = run.owner.tenant;
    let { session } = await this.session(run, batch, signal);
    let answer;
    try {
      answer = await this.invoke(run, session, signal, observe);
    } catch (error) {
      if (!(error instanceof StaleSessionError)) throw error;
      // The cached ids went stale (the seller's configuration changed): fetch new ones, once.
      const stale = session;
      batch.session = this.sessions.refresh(tenant, stale, signal);
      ({ session } = await this.session(run, batch, signal));
      answer = await this.invoke(run, session, signal, observe);
    }
    if (answer.state === 'already-offline') {
      return { productName: answer.productName, productImg: answer.productImg, offlineMsgId: '', retryCount: 0, message: ALREADY_OFFLINE_MESSAGE, alreadyOffline: true };
    }
    for (let polls = 1; ; polls++) {
      if (polls > 1 || this.config.OFFLINE_POLL_INTERVAL_MS > 0) await sleep(this.config.OFFLINE_POLL_INTERVAL_MS, { signal });
      const poll = await this.marketplace.poll(answer.offlineMsgId, signal, observe);
      const facts = {
        productName: poll.productName || answer.productName,
        productImg: poll.productImg || answer.productImg,
        offlineMsgId: answer.offlineMsgId,
        retryCount: polls,
        alreadyOffline: false,
      };
      if (poll.final) {
        this.metrics.pollsPerProduct.observe(polls);
        if (poll.status === 'success') return { ...facts, message: DELISTED_MESSAGE };
        const message = poll.message || '下架失败';
        throw new ItemFailure(message, { result: { ...facts, message } });
      }
      if (polls >= this.config.OFFLINE_MAX_POLLS) {
        const message = `下架结果未知：${polls} 次查询后仍未完成 (no outcome after ${polls} polls)`;
        throw new ItemFailure(message, { result: { ...facts, message } });
      }
    }
  }

  private async invoke(run: JobItemRun<OfflineParams, OfflineProduct>, session: MarketplaceSession, signal: AbortSignal, observe?: CallObserver) {
    const { productId } = run.payload;
    try {
      return await this.marketplace.invoke(session, productId, run.idempotencyKey, signal, observe);
    } catch (error) {
      if (error instanceof UnknownProductError) {
        const message = `商品不存在 (product ${productId} is unknown to the marketplace)`;
        throw new ItemFailure(message, { result: { productName: '', productImg: '', offlineMsgId: '', retryCount: 0, message, alreadyOffline: false } });
      }
      // Refused for good (not an outage, not worth another run): the product fails now.
      const kind = classifyError(error, Date.now()).kind;
      if (!(error instanceof StaleSessionError) && (kind === 'permanent' || kind === 'auth' || kind === 'quota')) {
        throw new ItemFailure(`下架失败：${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  /** The batch's session on this replica: resolved once for its products, and recorded for its answer. */
  private async session(run: JobItemRun<OfflineParams, OfflineProduct>, batch: BatchRun, signal: AbortSignal): Promise<ResolvedSession> {
    batch.session ??= this.sessions.get(run.owner.tenant, signal);
    const pending = batch.session;
    let resolved: ResolvedSession;
    try {
      resolved = await pending;
    } catch (error) {
      // A failed fetch is not kept: the next product asks again.
      if (batch.session === pending) batch.session = undefined;
      throw error;
    }
    if (batch.recorded !== resolved.session) {
      batch.recorded = resolved.session;
      await this.record(run, resolved);
    }
    return resolved;
  }

  /** The session the batch used, for its answer; whether it came from the cache is the first session's. */
  private async record(run: JobItemRun<OfflineParams, OfflineProduct>, resolved: ResolvedSession): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO offline_batch (job_id, tenant, user_id, parent_msg_id, tool_id, cache_used) VALUES (?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE parent_msg_id = VALUES(parent_msg_id), tool_id = VALUES(tool_id)`,
      [run.jobId, run.owner.tenant, run.owner.userId, resolved.session.parentMsgId, resolved.session.toolId, resolved.cacheUsed ? 1 : 0],
    );
  }

  /** The tenant's configuration changed: its running batches here fetch their session again. */
  forgetSessions(tenant: string): void {
    for (const batch of this.batches.values()) if (batch.tenant === tenant) batch.session = undefined;
  }

  private enter(jobId: string, tenant: string, params: OfflineParams): BatchRun {
    let batch = this.batches.get(jobId);
    if (!batch) {
      batch = { tenant, gate: new ThreadGate(() => params.actualThreads), auto: params.autoThreads, products: 0 };
      this.batches.set(jobId, batch);
    }
    batch.products++;
    return batch;
  }

  /** The batch's last product here: an auto batch records the limit it ended with (its threadInfo). */
  private async leave(jobId: string, tenant: string): Promise<void> {
    const batch = this.batches.get(jobId);
    if (!batch || --batch.products > 0) return;
    this.batches.delete(jobId);
    if (batch.auto) {
      await this.dataSource.query('UPDATE offline_batch SET threads_used = ? WHERE job_id = ? AND tenant = ?', [this.adaptive.current, jobId, tenant]).catch((error: unknown) => {
        this.logger.warn({ err: error, jobId }, 'could not record the thread count of an auto batch');
      });
    }
  }
}

/** One product's marketplace calls, as one sample of the adaptive limit. */
class CallSample {
  private calls = 0;
  private totalMs = 0;
  private dropped = false;

  constructor(
    private readonly startedAt: number,
    /** Products of auto batches de-listing when this one started, itself included. */
    private readonly inFlight: number,
  ) {}

  readonly observe: CallObserver = ({ latencyMs, error }) => {
    this.calls++;
    this.totalMs += latencyMs;
    if (error === undefined) return;
    const kind = classifyError(error, Date.now()).kind;
    if (kind === 'timeout' || kind === 'rate-limited') this.dropped = true;
  };

  /** Undefined when the product made no call (cancelled first). */
  sample(now: number): LimitSample | undefined {
    if (this.calls === 0) return undefined;
    return { startedAt: this.startedAt, latencyMs: this.totalMs / this.calls, inFlight: this.inFlight, dropped: this.dropped, now };
  }
}
