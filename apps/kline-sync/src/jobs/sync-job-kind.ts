import { defineJobKind, type JobStore } from '@batchgate/platform/jobs';

/** What a sync job covers: one date range and bar type, for the tenant's stocks (of one market, or all). */
export interface SyncParams {
  market: string | null;
  startDate: string;
  endDate: string;
  kType: number;
}

/** One item of a sync job: a stock. */
export interface SyncStock {
  market: string;
  code: string;
}

/** What a stock's run stored. */
export interface SyncStockResult {
  bars: number;
}

/**
 * kline-sync's jobs on the platform's job kit: errors `SYNC.JOB_NOT_FOUND` ("Sync job … does not
 * exist"), `SYNC.JOB_FINISHED`, `SYNC.NOTHING_TO_RETRY` ("… no failed or cancelled stocks …"), and
 * the kit's metrics labelled `kind="sync"`.
 */
export const SYNC_JOBS = defineJobKind<SyncParams, SyncStock, SyncStockResult>({
  service: 'kline-sync',
  name: 'sync',
  errorPrefix: 'SYNC',
  label: 'Sync job',
  itemLabel: 'stocks',
});

/**
 * Stocks per work-queue message. A stock runs for seconds (its provider calls), so the queue's
 * cost per message matters little, and small messages spread a job over every replica: a replica
 * holds at most its concurrency plus one message's stocks.
 */
export const SYNC_STOCKS_PER_MESSAGE = 4;

export type SyncJobStore = JobStore<SyncParams, SyncStock, SyncStockResult>;
