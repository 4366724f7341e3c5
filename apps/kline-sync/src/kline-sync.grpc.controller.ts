import { Controller, Inject } from '@nestjs/common';
import {
  KlineSyncServiceControllerMethods,
  type ExecuteTriggersRequest,
  type ExecuteTriggersResponse,
  type GetKlineRequest,
  type GetKlineResponse,
  type ImportStocksRequest,
  type ImportStocksResponse,
  type KlineSyncServiceController,
  type ListFailuresRequest,
  type ListFailuresResponse,
  type ListSyncJobsRequest,
  type ListSyncJobsResponse,
  type RetryFailedRequest,
  type RetryFailedResponse,
  type StartSyncJobRequest,
  type SyncJob,
  type SyncJobRequest,
} from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant } from '@batchgate/platform/errors';
import { currentRequestSignal } from '@batchgate/platform/context';
import { pageInfo, pageWindow } from '@batchgate/platform/paging';
import { RetryFailedService } from './failures/retry-failed.service';
import type { SyncFailureEntity } from './failures/sync-failure.entity';
import { SyncFailuresService } from './failures/sync-failures.service';
import { SyncJobsService } from './jobs/sync-jobs.service';
import { KlinesService } from './klines/klines.service';
import { StocksService } from './stocks/stocks.service';
import { TriggersService } from './triggers/triggers.service';

@Controller()
@KlineSyncServiceControllerMethods()
export class KlineSyncGrpcController implements KlineSyncServiceController {
  constructor(
    @Inject(StocksService) private readonly stocks: StocksService,
    @Inject(SyncJobsService) private readonly jobs: SyncJobsService,
    @Inject(SyncFailuresService) private readonly failures: SyncFailuresService,
    @Inject(RetryFailedService) private readonly retryFailedService: RetryFailedService,
    @Inject(KlinesService) private readonly klines: KlinesService,
    @Inject(TriggersService) private readonly triggers: TriggersService,
  ) {}

  importStocks(request: ImportStocksRequest): Promise<ImportStocksResponse> {
    return this.stocks.importStocks(request);
  }

  startSyncJob(request: StartSyncJobRequest): Promise<SyncJob> {
    return this.jobs.start(request);
  }

  getSyncJob(request: SyncJobRequest): Promise<SyncJob> {
    return this.jobs.get(request.id, request);
  }

  async listSyncJobs(request: ListSyncJobsRequest): Promise<ListSyncJobsResponse> {
    const window = pageWindow(request.page);
    const result = await this.jobs.list(request, request.status || undefined, window);
    return { jobs: result.jobs, page: pageInfo(window, result.total) };
  }

  cancelSyncJob(request: SyncJobRequest): Promise<SyncJob> {
    return this.jobs.cancel(request.id, request);
  }

  retrySyncJob(request: SyncJobRequest): Promise<SyncJob> {
    return this.jobs.retry(request.id, request);
  }

  retryFailed(request: RetryFailedRequest): Promise<RetryFailedResponse> {
    return this.retryFailedService.retry(callerTenant(request.tenant), request.stockCode || undefined, request.maxRetryCount || 3, currentRequestSignal());
  }

  async listFailures(request: ListFailuresRequest): Promise<ListFailuresResponse> {
    const window = pageWindow(request.page);
    const result = await this.failures.page(
      { tenant: callerTenant(request.tenant), stockCode: request.stockCode || undefined, status: request.status >= 0 ? request.status : undefined },
      window,
    );
    return { failures: result.records.map(toFailureMessage), page: pageInfo(window, result.total) };
  }

  async getKline(request: GetKlineRequest): Promise<GetKlineResponse> {
    return this.klines.find(request);
  }

  executeTriggers(request: ExecuteTriggersRequest): Promise<ExecuteTriggersResponse> {
    return this.triggers.execute(request.tenant, request.triggers);
  }
}

function toFailureMessage(row: SyncFailureEntity) {
  return {
    id: Number(row.id),
    stockCode: row.stockCode,
    startDate: row.startDate,
    endDate: row.endDate,
    failureReason: row.failureReason ?? '',
    retryCount: row.retryCount,
    status: row.status,
    lastRetryTime: row.lastRetryTime ? row.lastRetryTime.toISOString() : '',
    createTime: row.createTime.toISOString(),
    updateTime: row.updateTime.toISOString(),
  };
}
