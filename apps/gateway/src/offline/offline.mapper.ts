import type { OfflineBatch, OfflineItemResult } from '@batchgate/contracts/offline/v1/offline';
import type { OfflineBatchItemView, OfflineBatchView, OfflineItemView, OfflineResultView } from './offline.dto';

const NO_THREADS = { maxThreads: 0, actualThreads: 0, productCount: 0 };
const NO_SUMMARY = { total: 0, success: 0, failed: 0 };
const NO_PROGRESS = { total: 0, done: 0, succeeded: 0, failed: 0, cancelled: 0 };

function toItemView(item: OfflineItemResult): OfflineItemView {
  const details = item.details;
  return {
    productId: item.productId,
    success: item.success,
    message: item.message,
    details: {
      productName: details?.productName ?? '',
      productImg: details?.productImg ?? '',
      offlineMsgId: details?.offlineMsgId ?? '',
      retryCount: details?.retryCount ?? 0,
    },
  };
}

/** Seed 000's answer: exactly its fields (the batch's id is in the Location header). */
export function toResultView(batch: OfflineBatch): OfflineResultView {
  return {
    success: batch.success,
    message: batch.message,
    parentMsgId: batch.parentMsgId,
    toolId: batch.toolId,
    cacheUsed: batch.cacheUsed,
    threadInfo: batch.threadInfo ?? NO_THREADS,
    results: batch.results.map(toItemView),
    summary: batch.summary ?? NO_SUMMARY,
  };
}

export function toBatchView(batch: OfflineBatch): OfflineBatchView {
  return {
    ...toResultView(batch),
    batchId: batch.batchId,
    status: batch.status,
    progress: batch.progress ?? NO_PROGRESS,
    results: batch.results.map((item): OfflineBatchItemView => ({ ...toItemView(item), status: item.status })),
    createdAt: batch.createdAt,
    startedAt: batch.startedAt,
    finishedAt: batch.finishedAt,
  };
}
