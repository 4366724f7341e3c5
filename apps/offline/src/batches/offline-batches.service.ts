import { Inject, Injectable } from '@nestjs/common';
import { lastValueFrom, Observable, takeUntil, timer } from 'rxjs';
import { DataSource } from 'typeorm';
import type { OfflineBatch, OfflineItemResult, OfflineProductsRequest } from '@batchgate/contracts/offline/v1/offline';
import { currentRequestSignal, remainingDeadlineMs } from '@batchgate/platform/context';
import { callerTenant, callerUser } from '@batchgate/platform/errors';
import { isTerminalJobStatus, watchJob, type JobItemSnapshot, type JobOwner, type JobSnapshot, type JobStatus } from '@batchgate/platform/jobs';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { OfflineConfig } from '../config/offline.config';
import { offlineErrors } from '../offline.errors';
import { OfflineMetrics } from '../offline.metrics';
import { MAX_BATCH_PRODUCTS, MAX_THREADS, type OfflineOutcome, type OfflineParams, type OfflineProduct } from './offline-jobs';
import { OFFLINE_JOB_STORE, type OfflineJobStore } from './offline-store';

/** A synchronous batch answers this long before the caller's deadline, finished or not. */
const ANSWER_MARGIN_MS = 1_000;
/** Longest a synchronous call waits when the caller set no deadline. */
const DEFAULT_WAIT_MS = 110_000;

interface BatchRow {
  parent_msg_id: string;
  tool_id: string;
  cache_used: number | string;
  threads_used: number;
}

/**
 * Batches of de-lists, always through their owner (tenant + user): submitted as durable jobs (one
 * item per product), then — synchronously — waited for until they end or the caller's deadline
 * nears; read, watched, cancelled and retried through the job kit.
 */
@Injectable()
export class OfflineBatchesService {
  constructor(
    @Inject(OFFLINE_JOB_STORE) private readonly store: OfflineJobStore,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(SERVICE_CONFIG) private readonly config: OfflineConfig,
    @Inject(OfflineMetrics) private readonly metrics: OfflineMetrics,
  ) {}

  async offline(request: OfflineProductsRequest): Promise<OfflineBatch> {
    const owner = ownerOf(request);
    const productIds = checkedProductIds(request.productIds);
    const params = this.paramsOf(request, productIds.length);
    const job = await this.store.submit(owner, { params, items: productIds.map((productId) => ({ payload: { productId } })) });
    this.metrics.batches.inc({ mode: params.async ? 'async' : 'sync' });
    if (params.async) return this.toBatch(job);
    const waitMs = remainingDeadlineMs(DEFAULT_WAIT_MS) - ANSWER_MARGIN_MS;
    return this.toBatch(await this.waitForEnd(owner, job.id, waitMs, currentRequestSignal()));
  }

  async get(ref: { batchId: string; tenant: string; userId: string }): Promise<OfflineBatch> {
    return this.toBatch(await this.store.get(ownerOf(ref), ref.batchId));
  }

  /** The owner's batches, newest first, each without its item results. */
  async list(request: { tenant: string; userId: string; status: string }, window: { page: number; size: number }): Promise<{ batches: OfflineBatch[]; total: number }> {
    const owner = ownerOf(request);
    const status = request.status === '' ? undefined : (request.status as JobStatus);
    const { jobs, total } = await this.store.list(owner, { ...window, status });
    return { batches: await Promise.all(jobs.map((job) => this.toBatch(job, { withResults: false }))), total };
  }

  watch(ref: { batchId: string; tenant: string; userId: string }): Observable<OfflineBatch> {
    return watchJob(this.store, ownerOf(ref), ref.batchId, (job) => this.toBatch(job));
  }

  async cancel(ref: { batchId: string; tenant: string; userId: string }): Promise<OfflineBatch> {
    return this.toBatch(await this.store.cancel(ownerOf(ref), ref.batchId, { running: 'abort' }));
  }

  async retry(ref: { batchId: string; tenant: string; userId: string }): Promise<OfflineBatch> {
    return this.toBatch(await this.store.retry(ownerOf(ref), ref.batchId));
  }

  private paramsOf(request: OfflineProductsRequest, products: number): OfflineParams {
    const async = request.runAsync || products > this.config.OFFLINE_ASYNC_THRESHOLD;
    if (request.autoThreads) {
      const maxThreads = this.config.OFFLINE_AUTO_MAX_THREADS;
      return { maxThreads, actualThreads: Math.min(maxThreads, products), autoThreads: true, async };
    }
    const maxThreads = request.maxThreads === 0 ? MAX_THREADS : request.maxThreads;
    if (!Number.isInteger(maxThreads) || maxThreads < 1 || maxThreads > MAX_THREADS) {
      throw offlineErrors.invalidArgument('max_threads', `max_threads must be an integer from 1 to ${MAX_THREADS}, or "auto"`);
    }
    return { maxThreads, actualThreads: Math.min(maxThreads, products), autoThreads: false, async };
  }

  /** The job once it has ended, or as it is when the wait is over (deadline, or the caller left). */
  private async waitForEnd(owner: JobOwner, id: string, waitMs: number, signal: AbortSignal | undefined): Promise<JobSnapshot<OfflineParams>> {
    const stop = signal ? new Observable<void>((subscriber) => {
      const onAbort = () => subscriber.next();
      signal.addEventListener('abort', onAbort, { once: true });
      return () => signal.removeEventListener('abort', onAbort);
    }) : new Observable<void>();
    const last = await lastValueFrom(watchJob(this.store, owner, id, (job) => job).pipe(takeUntil(timer(Math.max(0, waitMs))), takeUntil(stop)), {
      defaultValue: undefined,
    });
    return last ?? this.store.get(owner, id);
  }

  private async toBatch(job: JobSnapshot<OfflineParams>, { withResults = true } = {}): Promise<OfflineBatch> {
    const owner = job.owner;
    const [{ items }, [row]] = await Promise.all([
      withResults ? this.store.items(owner, job.id, { page: 1, size: MAX_BATCH_PRODUCTS }) : { items: [] },
      this.dataSource.query('SELECT parent_msg_id, tool_id, cache_used, threads_used FROM offline_batch WHERE job_id = ? AND tenant = ? AND user_id = ?', [
        job.id,
        owner.tenant,
        owner.userId,
      ]) as Promise<BatchRow[]>,
    ]);
    const results = items.map(toItemResult);
    const finished = isTerminalJobStatus(job.status);
    const done = job.succeeded + job.failed + job.cancelled;
    const params = job.params;
    return {
      batchId: job.id,
      success: finished ? job.status !== 'cancelled' : true,
      message: finished
        ? `批量下架完成，共处理 ${job.total} 个商品，${job.succeeded} 个下架成功`
        : `批量下架进行中，已处理 ${done}/${job.total} 个商品`,
      parentMsgId: row?.parent_msg_id ?? '',
      toolId: row?.tool_id ?? '',
      cacheUsed: Number(row?.cache_used ?? 0) === 1,
      threadInfo: {
        maxThreads: params.maxThreads,
        actualThreads: params.autoThreads && row && row.threads_used > 0 ? Math.min(row.threads_used, job.total) : params.actualThreads,
        productCount: job.total,
      },
      results,
      summary: { total: job.total, success: job.succeeded, failed: job.failed },
      status: job.status,
      progress: { total: job.total, done, succeeded: job.succeeded, failed: job.failed, cancelled: job.cancelled },
      autoThreads: params.autoThreads,
      createdAt: job.createdAt.toISOString(),
      startedAt: job.startedAt?.toISOString() ?? '',
      finishedAt: job.finishedAt?.toISOString() ?? '',
    };
  }
}

function ownerOf(ref: { tenant: string; userId: string }): JobOwner {
  return { tenant: callerTenant(ref.tenant), userId: callerUser(ref.userId) };
}

/** productIds: 1..1000 unique positive integers (SPEC §4); anything else stores nothing. */
function checkedProductIds(productIds: number[]): number[] {
  if (productIds.length < 1 || productIds.length > MAX_BATCH_PRODUCTS) {
    throw offlineErrors.invalidArgument('productIds', `productIds must hold 1 to ${MAX_BATCH_PRODUCTS} product ids`);
  }
  const seen = new Set<number>();
  for (const id of productIds) {
    if (!Number.isSafeInteger(id) || id < 1) throw offlineErrors.invalidArgument('productIds', `productIds must be positive integers (got ${id})`);
    if (seen.has(id)) throw offlineErrors.invalidArgument('productIds', `productIds must be unique (${id} is repeated)`);
    seen.add(id);
  }
  return productIds;
}

function toItemResult(item: JobItemSnapshot<OfflineProduct, OfflineOutcome>): OfflineItemResult {
  const result = item.result;
  const success = item.status === 'success';
  return {
    productId: item.payload.productId,
    success,
    message: result?.message ?? item.errorMessage ?? statusMessage(item.status),
    details: {
      productName: result?.productName ?? '',
      productImg: result?.productImg ?? '',
      offlineMsgId: result?.offlineMsgId ?? '',
      retryCount: result?.retryCount ?? 0,
    },
    status: item.status,
    alreadyOffline: result?.alreadyOffline ?? false,
  };
}

function statusMessage(status: string): string {
  switch (status) {
    case 'cancelled':
      return '已取消';
    case 'running':
      return '下架中';
    default:
      return '等待下架';
  }
}
