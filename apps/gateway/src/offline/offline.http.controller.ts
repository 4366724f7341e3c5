import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiExtraModels, ApiOkResponse, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lastValueFrom } from 'rxjs';
import type { OfflineBatch, OfflineServiceClient } from '@batchgate/contracts/offline/v1/offline';
import type { RequestContext } from '@batchgate/platform/context';
import type { WithRequestContext } from '@batchgate/platform/grpc';
import { RequirePermissions } from '../auth/auth.guard';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { CurrentRequestContext } from '../http/request-context';
import type { Principal } from '../auth/principal';
import { ApiEventStream, EventStreams } from '../http/event-stream';
import { OFFLINE_CLIENT, OFFLINE_LONG_CLIENT, OFFLINE_STREAM_CLIENT } from './offline.client';
import { pageOf } from '../http/paging.dto';
import {
  InvalidateSessionView,
  OfflineBatchListQueryDto,
  OfflineBatchListView,
  OfflineBatchView,
  OfflineProductsDto,
  OfflineQueryDto,
  OfflineResultView,
} from './offline.dto';
import { toBatchView, toResultView } from './offline.mapper';

const BATCH_PATH = 'temu/seller/offline';

@ApiTags('offline')
@Controller('api')
export class OfflineHttpController {
  constructor(
    @Inject(OFFLINE_CLIENT) private readonly offline: WithRequestContext<OfflineServiceClient>,
    @Inject(OFFLINE_LONG_CLIENT) private readonly offlineLong: WithRequestContext<OfflineServiceClient>,
    @Inject(OFFLINE_STREAM_CLIENT) private readonly offlineStream: WithRequestContext<OfflineServiceClient>,
    @Inject(EventStreams) private readonly streams: EventStreams,
  ) {}

  /**
   * Seed 000: de-lists the products and answers when they are done (200, the seed's shape). With
   * `?async=true`, above the service's threshold, or when the batch outlasts the request, 202
   * with the stored batch: follow it at its Location.
   */
  @Post(BATCH_PATH)
  @HttpCode(200)
  @RequirePermissions('offline:run')
  @ApiExtraModels(OfflineResultView, OfflineBatchView)
  @ApiOkResponse({ type: OfflineResultView, description: 'Every product de-listed, found offline, or failed (seed 000)' })
  @ApiAcceptedResponse({ type: OfflineBatchView, description: 'The batch, stored and queued or still running: GET its Location' })
  async offlineProducts(
    @Body() body: OfflineProductsDto,
    @Query() query: OfflineQueryDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentRequestContext() context: RequestContext,
  ): Promise<OfflineResultView | OfflineBatchView> {
    const auto = body.max_threads === 'auto';
    const batch = await lastValueFrom(
      this.offlineLong.offlineProducts({
        productIds: body.productIds,
        maxThreads: typeof body.max_threads === 'number' ? body.max_threads : 0,
        autoThreads: auto,
        runAsync: query.async === 'true',
        userId: principal.sub,
        tenant: principal.tenant,
      }, context),
    );
    void reply.header('location', `/api/${BATCH_PATH}/${batch.batchId}`);
    if (batch.finishedAt !== '') return toResultView(batch);
    void reply.status(202);
    return toBatchView(batch);
  }

  /** The caller's own batches, newest first. */
  @Get(BATCH_PATH)
  @RequirePermissions('offline:run')
  @ApiOkResponse({ type: OfflineBatchListView })
  async listBatches(@Query() query: OfflineBatchListQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<OfflineBatchListView> {
    const { page, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.offline.listOfflineBatches({ tenant: principal.tenant, userId: principal.sub, status: query.status ?? '', page: { page, pageSize: size } }, context),
    );
    return { items: answer.batches.map(toBatchView), page, size, total: answer.page?.total ?? 0 };
  }

  /** Drops the tenant's cached conversation and tool ids on every replica; the next batch fetches new ones. */
  @Delete(`${BATCH_PATH}/session-cache`)
  @HttpCode(200)
  @RequirePermissions('offline:admin')
  @ApiOkResponse({ type: InvalidateSessionView })
  invalidateSessionCache(@CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext) {
    return lastValueFrom(this.offline.invalidateSessionCache({ tenant: principal.tenant }, context));
  }

  /** Only the batch's owner (tenant + user) sees it; anybody else gets 404. */
  @Get(`${BATCH_PATH}/:batchId`)
  @RequirePermissions('offline:run')
  @ApiOkResponse({ type: OfflineBatchView })
  async getBatch(@Param('batchId', new ParseUUIDPipe()) batchId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<OfflineBatchView> {
    return toBatchView(await lastValueFrom(this.offline.getOfflineBatch({ batchId, tenant: principal.tenant, userId: principal.sub }, context)));
  }

  @Get(`${BATCH_PATH}/:batchId/events`)
  @RequirePermissions('offline:run')
  @ApiEventStream(OfflineBatchView, 'The batch now, then after every change (event `batch`), until it has ended')
  events(
    @Param('batchId', new ParseUUIDPipe()) batchId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentRequestContext() context: RequestContext,
  ): Promise<void> {
    return this.streams.send(request, reply, this.offlineStream.watchOfflineBatch({ batchId, tenant: principal.tenant, userId: principal.sub }, context), {
      event: () => 'batch',
      data: (batch: OfflineBatch) => toBatchView(batch),
    });
  }

  /** Stops a queued or running batch: products not de-listed yet are cancelled (409 once it has ended). */
  @Post(`${BATCH_PATH}/:batchId/cancel`)
  @HttpCode(200)
  @RequirePermissions('offline:run')
  @ApiOkResponse({ type: OfflineBatchView, description: 'The batch, cancelled' })
  @ApiConflictResponse({ description: 'The batch has already ended (OFFLINE.JOB_FINISHED)' })
  async cancel(@Param('batchId', new ParseUUIDPipe()) batchId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<OfflineBatchView> {
    return toBatchView(await lastValueFrom(this.offline.cancelOfflineBatch({ batchId, tenant: principal.tenant, userId: principal.sub }, context)));
  }

  /** Runs an ended batch's failed and cancelled products again (409 when there are none). */
  @Post(`${BATCH_PATH}/:batchId/retry`)
  @HttpCode(202)
  @RequirePermissions('offline:run')
  @ApiResponse({ status: 202, schema: { $ref: getSchemaPath(OfflineBatchView) }, description: 'The batch, queued again for its failed and cancelled products' })
  @ApiConflictResponse({ description: 'Still running, or nothing failed or was cancelled (OFFLINE.NOTHING_TO_RETRY)' })
  async retry(@Param('batchId', new ParseUUIDPipe()) batchId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<OfflineBatchView> {
    return toBatchView(await lastValueFrom(this.offline.retryOfflineBatch({ batchId, tenant: principal.tenant, userId: principal.sub }, context)));
  }
}
