import { defineJobKind } from '@batchgate/platform/jobs';

/** What a batch was asked for (the job's params). */
export interface OfflineParams {
  /** max_threads as given (or the default 8); for an auto batch, the configured upper bound. */
  maxThreads: number;
  /** Products de-listed at once: min(maxThreads, products); an auto batch's starting point. */
  actualThreads: number;
  /** The thread count is the adaptive limit's (max_threads "auto"). */
  autoThreads: boolean;
  /** Answered at once (202) rather than after the batch. */
  async: boolean;
}

/** One product of a batch (an item's payload). */
export interface OfflineProduct {
  productId: number;
}

/** What de-listing one product found (an item's result, also of a failed one). */
export interface OfflineOutcome {
  productName: string;
  productImg: string;
  offlineMsgId: string;
  /** Polls until the marketplace reported the outcome (seed: retryCount). */
  retryCount: number;
  message: string;
  /** Offline before this batch: de-listed by an earlier batch, or the marketplace said so. */
  alreadyOffline: boolean;
}

/** A batch of de-lists is a durable job; its products are the items. */
export const OFFLINE_JOBS = defineJobKind<OfflineParams, OfflineProduct, OfflineOutcome>({
  service: 'offline',
  name: 'delist',
  errorPrefix: 'OFFLINE',
  label: 'Offline batch',
  itemLabel: 'products',
});

/** Largest batch (SPEC §4); one batch is one work message, so one replica runs it with its threads. */
export const MAX_BATCH_PRODUCTS = 1_000;
/** max_threads bounds and default (seed 000). */
export const MAX_THREADS = 8;
