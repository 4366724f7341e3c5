import { Controller, Inject } from '@nestjs/common';
import type { Observable } from 'rxjs';
import {
  OfflineServiceControllerMethods,
  type InvalidateSessionCacheRequest,
  type InvalidateSessionCacheResponse,
  type ListOfflineBatchesRequest,
  type ListOfflineBatchesResponse,
  type OfflineBatch,
  type OfflineBatchRef,
  type OfflineProductsRequest,
  type OfflineServiceController,
} from '@batchgate/contracts/offline/v1/offline';
import { callerTenant } from '@batchgate/platform/errors';
import { pageInfo, pageWindow } from '@batchgate/platform/paging';
import { OfflineBatchesService } from './batches/offline-batches.service';
import { SessionCache } from './session/session-cache';

@Controller()
@OfflineServiceControllerMethods()
export class OfflineGrpcController implements OfflineServiceController {
  constructor(
    @Inject(OfflineBatchesService) private readonly batches: OfflineBatchesService,
    @Inject(SessionCache) private readonly sessions: SessionCache,
  ) {}

  offlineProducts(request: OfflineProductsRequest): Promise<OfflineBatch> {
    return this.batches.offline(request);
  }

  getOfflineBatch(request: OfflineBatchRef): Promise<OfflineBatch> {
    return this.batches.get(request);
  }

  async listOfflineBatches(request: ListOfflineBatchesRequest): Promise<ListOfflineBatchesResponse> {
    const window = pageWindow(request.page);
    const { batches, total } = await this.batches.list(request, window);
    return { batches, page: pageInfo(window, total) };
  }

  watchOfflineBatch(request: OfflineBatchRef): Observable<OfflineBatch> {
    return this.batches.watch(request);
  }

  cancelOfflineBatch(request: OfflineBatchRef): Promise<OfflineBatch> {
    return this.batches.cancel(request);
  }

  retryOfflineBatch(request: OfflineBatchRef): Promise<OfflineBatch> {
    return this.batches.retry(request);
  }

  async invalidateSessionCache(request: InvalidateSessionCacheRequest): Promise<InvalidateSessionCacheResponse> {
    return { invalidated: await this.sessions.invalidateEverywhere(callerTenant(request.tenant)) };
  }
}
