import { Module, type DynamicModule } from '@nestjs/common';
import { Registry } from 'prom-client';
import { EVENT_STREAMS, WORK_STREAMS } from '@batchgate/contracts';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient, ServiceCredentials } from '@batchgate/platform/grpc';
import { CreateOutboxEvent1763856000000, MessagingModule, OutboxEventEntity } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import { PersistenceModule } from '@batchgate/platform/persistence';
import { UpstreamClient, upstreamOptions } from '@batchgate/platform/upstream';
import type { KlineSyncConfig } from './config/kline-sync.config';
import { RetryFailedService } from './failures/retry-failed.service';
import { SyncFailureEntity } from './failures/sync-failure.entity';
import { SyncFailuresService } from './failures/sync-failures.service';
import { SyncJobEntity } from './jobs/sync-job.entity';
import { SyncJobsRepository } from './jobs/sync-jobs.repository';
import { SyncJobsService } from './jobs/sync-jobs.service';
import { KlineSyncGrpcController } from './kline-sync.grpc.controller';
import { KlineSyncMetrics } from './kline-sync.metrics';
import { TOKEN_MANAGER_CLIENT } from './kline-sync.tokens';
import { KlineBarEntity } from './klines/kline-bar.entity';
import { KlinesService } from './klines/klines.service';
import { CreateKlineSyncSchema1763856001000 } from './migrations/1763856001000-create-kline-sync-schema';
import { SyncJobLifecycle1763942400000 } from './migrations/1763942400000-sync-job-lifecycle';
import { TenantOwnedRows1764979200100 } from './migrations/1764979200100-tenant-owned-rows';
import { StockInfoEntity } from './stocks/stock-info.entity';
import { StocksService } from './stocks/stocks.service';
import { StockPuller } from './sync/stock-puller';
import { SyncWorker } from './sync/sync-worker';
import { TokenSupply } from './sync/token-supply';
import { TriggersService } from './triggers/triggers.service';
import { ItickClient } from './upstream/itick.client';

export const KLINE_SYNC_SCHEMA = {
  entities: [OutboxEventEntity, StockInfoEntity, KlineBarEntity, SyncJobEntity, SyncFailureEntity],
  migrations: [CreateOutboxEvent1763856000000, CreateKlineSyncSchema1763856001000, SyncJobLifecycle1763942400000, TenantOwnedRows1764979200100],
};

@Module({})
export class AppModule {
  static register(config: KlineSyncConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot(config, KLINE_SYNC_SCHEMA),
        MessagingModule.forService('kline-sync', config, [...EVENT_STREAMS, ...WORK_STREAMS]),
      ],
      controllers: [KlineSyncGrpcController],
      providers: [
        KlineSyncMetrics,
        {
          provide: TOKEN_MANAGER_CLIENT,
          inject: [SERVICE_CONFIG, Registry, ServiceCredentials],
          useFactory: (settings: KlineSyncConfig, registry: Registry, credentials: ServiceCredentials): TokenManagerServiceClient =>
            createGrpcClient<TokenManagerServiceClient>({
              proto: 'tokens',
              service: TOKEN_MANAGER_SERVICE_NAME,
              url: settings.TOKEN_MANAGER_URL,
              deadlineMs: 5_000,
              registry,
              credentials,
            }).client,
        },
        {
          provide: ItickClient,
          inject: [SERVICE_CONFIG, Registry],
          useFactory: (settings: KlineSyncConfig, registry: Registry) =>
            new ItickClient(new UpstreamClient({ name: 'itick', ...upstreamOptions(settings, 'ITICK'), registry })),
        },
        StocksService,
        KlinesService,
        SyncFailuresService,
        SyncJobsRepository,
        SyncJobsService,
        RetryFailedService,
        TokenSupply,
        StockPuller,
        SyncWorker,
        TriggersService,
      ],
    };
  }
}
