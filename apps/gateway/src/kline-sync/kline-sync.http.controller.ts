import { Body, Controller, Get, HttpCode, Inject, Param, ParseArrayPipe, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { lastValueFrom } from 'rxjs';
import type { KlineSyncServiceClient, SyncJob } from '@batchgate/contracts/klinesync/v1/klinesync';
import type { RequestContext } from '@batchgate/platform/context';
import type { WithRequestContext } from '@batchgate/platform/grpc';
import { RequirePermissions } from '../auth/auth.guard';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { CurrentRequestContext } from '../http/request-context';
import type { Principal } from '../auth/principal';
import { KLINE_SYNC_CLIENT, KLINE_SYNC_LONG_CLIENT } from './kline-sync.client';
import { pageOf } from '../http/paging.dto';
import {
  FailureListQueryDto,
  FailureListResultView,
  ImportStocksDto,
  ImportStocksResultView,
  KlineQueryDto,
  KlineView,
  RetryFailedQueryDto,
  RetryFailedResultView,
  StartSyncJobDto,
  SyncJobListQueryDto,
  SyncJobListView,
  SyncJobView,
  TriggerConfigDto,
  TriggerResultsView,
} from './kline-sync.dto';

/** Seed 004's response wrapper for its own routes (`Result.success(data)`). */
interface SeedResult<T> {
  code: 200;
  msg: 'success';
  data: T;
}
const success = <T>(data: T): SeedResult<T> => ({ code: 200, msg: 'success', data });

@ApiTags('kline-sync')
@Controller('api')
export class KlineSyncHttpController {
  constructor(
    @Inject(KLINE_SYNC_CLIENT) private readonly klineSync: WithRequestContext<KlineSyncServiceClient>,
    @Inject(KLINE_SYNC_LONG_CLIENT) private readonly klineSyncLong: WithRequestContext<KlineSyncServiceClient>,
  ) {}

  @Post('stock/import')
  @RequirePermissions('stock:sync:run')
  @ApiCreatedResponse({ type: ImportStocksResultView, description: 'Stocks added to the list, or renamed' })
  importStocks(@Body() body: ImportStocksDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext) {
    return lastValueFrom(
      this.klineSync.importStocks({ stocks: body.stocks.map((s) => ({ code: s.code, market: s.market, name: s.name ?? '' })), tenant: principal.tenant }, context),
    );
  }

  @Post('stock/sync/batch')
  @HttpCode(202)
  @RequirePermissions('stock:sync:run')
  @ApiAcceptedResponse({ type: SyncJobView, description: 'The job, stored and queued: poll GET /api/stock/sync/jobs/{id}' })
  @ApiConflictResponse({ description: 'No stocks to sync (SYNC.NO_STOCKS)' })
  startSync(@Body() body: StartSyncJobDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<SyncJob> {
    return lastValueFrom(
      this.klineSync.startSyncJob({
        market: body.market ?? '',
        startDate: body.startDate.slice(0, 10),
        endDate: body.endDate.slice(0, 10),
        kType: body.kType ?? 8,
        userId: principal.sub,
        tenant: principal.tenant,
      }, context),
    );
  }

  /** The caller's own jobs, newest first. */
  @Get('stock/sync/jobs')
  @RequirePermissions('stock:sync:list')
  @ApiOkResponse({ type: SyncJobListView })
  async listJobs(@Query() query: SyncJobListQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext) {
    const { page, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.klineSync.listSyncJobs({ userId: principal.sub, tenant: principal.tenant, status: query.status ?? '', page: { page, pageSize: size } }, context),
    );
    return { items: answer.jobs, page, size, total: answer.page?.total ?? 0 };
  }

  /** Only the job's owner sees it; anybody else gets 404. */
  @Get('stock/sync/jobs/:id')
  @RequirePermissions('stock:sync:list')
  @ApiOkResponse({ type: SyncJobView })
  getJob(@Param('id', new ParseUUIDPipe()) id: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<SyncJob> {
    return lastValueFrom(this.klineSync.getSyncJob({ id, userId: principal.sub, tenant: principal.tenant }, context));
  }

  /** Stops a queued or running job (409 once it has finished). */
  @Post('stock/sync/jobs/:id/cancel')
  @HttpCode(200)
  @RequirePermissions('stock:sync:run')
  @ApiOkResponse({ type: SyncJobView, description: 'The job, cancelled' })
  @ApiConflictResponse({ description: 'The job has already finished (SYNC.JOB_FINISHED)' })
  cancelJob(@Param('id', new ParseUUIDPipe()) id: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<SyncJob> {
    return lastValueFrom(this.klineSync.cancelSyncJob({ id, userId: principal.sub, tenant: principal.tenant }, context));
  }

  /** Runs the failed and cancelled stocks of a finished job again (409 when there are none). */
  @Post('stock/sync/jobs/:id/retry')
  @HttpCode(202)
  @RequirePermissions('stock:sync:retry')
  @ApiAcceptedResponse({ type: SyncJobView, description: 'The job, queued again for its failed and cancelled stocks' })
  @ApiConflictResponse({ description: 'Still running, or nothing failed or was cancelled (SYNC.NOTHING_TO_RETRY)' })
  retryJob(@Param('id', new ParseUUIDPipe()) id: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<SyncJob> {
    return lastValueFrom(this.klineSync.retrySyncJob({ id, userId: principal.sub, tenant: principal.tenant }, context));
  }

  /** Seed 004: answers `Result<Integer>`, the number of failures re-pulled successfully. */
  @Post('stock/sync/retry-failed')
  @HttpCode(200)
  @RequirePermissions('stock:sync:retry')
  @ApiOkResponse({ type: RetryFailedResultView })
  async retryFailed(@Query() query: RetryFailedQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<SeedResult<number>> {
    const answer = await lastValueFrom(
      this.klineSyncLong.retryFailed({ stockCode: query.stockCode ?? '', maxRetryCount: query.maxRetryCount ?? 3, tenant: principal.tenant }, context),
    );
    return success(answer.succeeded);
  }

  /** Seed 004: answers `Result<Page<SyncFailure>>`, newest first. */
  @Get('stock/sync/failure/list')
  @RequirePermissions('stock:sync:list')
  @ApiOkResponse({ type: FailureListResultView })
  async listFailures(@Query() query: FailureListQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext) {
    const { page: current, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.klineSync.listFailures({ stockCode: query.stockCode ?? '', status: query.status ?? -1, page: { page: current, pageSize: size }, tenant: principal.tenant }, context),
    );
    const total = answer.page?.total ?? 0;
    return success({ records: answer.failures, total, size, current, pages: Math.ceil(total / size) });
  }

  @Get('stock/kline')
  @RequirePermissions('stock:sync:list')
  @ApiOkResponse({ type: KlineView })
  async kline(@Query() query: KlineQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext) {
    const answer = await lastValueFrom(
      this.klineSync.getKline({ market: query.market, code: query.code, kType: query.kType ?? 8, from: query.from ?? 0, to: query.to ?? 0, tenant: principal.tenant }, context),
    );
    // `nextFrom`: ask again with `from=<nextFrom>` for the bars after this page; null on the last.
    return { market: query.market, code: query.code, kType: query.kType ?? 8, bars: answer.bars, nextFrom: answer.nextFrom || null };
  }

  /** Seed 002: the body is the list of trigger configs; at most 3 run at once, 30 s each. */
  @Post('intraday/parallel/execute-multiple')
  @HttpCode(200)
  @RequirePermissions('stock:sync:run')
  @ApiBody({ type: [TriggerConfigDto] })
  @ApiOkResponse({ type: TriggerResultsView, description: 'Which triggers fired' })
  async executeTriggers(
    @Body(new ParseArrayPipe({ items: TriggerConfigDto, whitelist: true, forbidNonWhitelisted: true })) triggers: TriggerConfigDto[],
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestContext() context: RequestContext,
  ) {
    const answer = await lastValueFrom(
      this.klineSyncLong.executeTriggers({
        triggers: triggers.map((t) => ({ ...t, kType: t.kType ?? 1 })),
        tenant: principal.tenant,
      }, context),
    );
    return { success: true, results: answer.results };
  }
}
