import { Inject, Injectable } from '@nestjs/common';
import { runBatch } from '@batchgate/concurrency';
import type { RetryFailedResponse } from '@batchgate/contracts/klinesync/v1/klinesync';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { klineSyncErrors } from '../kline-sync.errors';
import { KlinesService } from '../klines/klines.service';
import { StocksService } from '../stocks/stocks.service';
import { StockPuller } from '../sync/stock-puller';
import { SyncFailureStatus } from './sync-failure.entity';
import { SyncFailuresService } from './sync-failures.service';

/**
 * Re-pulls pending failures (seed 004's retryFailedSync, without its defects): each failure with
 * its own date range, one item per failure (no thread groups to be empty), and only that row's
 * status updated — 1 when it succeeds, 2 once it has used `maxRetryCount` retries.
 */
@Injectable()
export class RetryFailedService {
  constructor(
    @Inject(SyncFailuresService) private readonly failures: SyncFailuresService,
    @Inject(StocksService) private readonly stocks: StocksService,
    @Inject(StockPuller) private readonly puller: StockPuller,
    @Inject(KlinesService) private readonly klines: KlinesService,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
  ) {}

  /** Re-pulls the tenant's pending failures only, with the tenant's tokens, into the tenant's bars. */
  async retry(tenant: string, stockCode: string | undefined, maxRetryCount: number, signal?: AbortSignal): Promise<RetryFailedResponse> {
    if (!Number.isInteger(maxRetryCount) || maxRetryCount < 1 || maxRetryCount > 20) {
      throw klineSyncErrors.invalidSyncArgument('maxRetryCount must be an integer between 1 and 20');
    }
    const pending = await this.failures.listPendingRetry(tenant, stockCode, maxRetryCount);
    const markets = new Map((await this.stocks.list(tenant)).map((s) => [s.stockCode, s.market]));
    const report = await runBatch(
      pending,
      async (failure) => {
        const market = markets.get(failure.stockCode);
        if (!market) throw new Error(`stock ${failure.stockCode} is not in stock_info`);
        const kType = await this.failures.kTypeOf(failure);
        const bars = await this.puller.pull(
          { tenant, market, code: failure.stockCode, kType, startDate: failure.startDate, endDate: failure.endDate },
          { signal },
        );
        await this.klines.upsert({ tenant, market, stockCode: failure.stockCode, kType }, bars);
      },
      { concurrency: this.config.SYNC_WORKER_CONCURRENCY, signal, name: 'retry-failed' },
    );
    let succeeded = 0;
    let givenUp = 0;
    for (const result of report.results) {
      const reason = result.ok ? undefined : result.error instanceof Error ? result.error.message : String(result.error);
      const status = await this.failures.markRetried(result.item, result.ok, maxRetryCount, reason);
      if (status === SyncFailureStatus.RetriedOk) succeeded++;
      if (status === SyncFailureStatus.GivenUp) givenUp++;
    }
    return { retried: pending.length, succeeded, failed: pending.length - succeeded, givenUp };
  }
}
