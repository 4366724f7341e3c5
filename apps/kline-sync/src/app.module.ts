import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { EVENT_STREAMS } from '@batchgate/contracts';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient, ServiceCredentials } from '@batchgate/platform/grpc';
import { CreateJobTables1764547200000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, HashedDedupeKeys1796400000000, JobStore, jobStreams, type CountedOutcome } from '@batchgate/platform/jobs';
import { CreateOutboxEvent1763856000000, MessagingModule, NATS_CONNECTION, Outbox, OutboxEventEntity } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import { BinaryOwnerColumns1796300000000, PersistenceModule } from '@batchgate/platform/persistence';
import { UpstreamClient, upstreamOptions } from '@batchgate/platform/upstream';
import type { KlineSyncConfig } from './config/kline-sync.config';
import { RetryFailedService } from './failures/retry-failed.service';
import { SyncFailureEntity } from './failures/sync-failure.entity';
import { SyncFailuresService } from './failures/sync-failures.service';
import { SYNC_JOBS, SYNC_STOCKS_PER_MESSAGE, type SyncJobStore, type SyncParams, type SyncStock, type SyncStockResult } from './jobs/sync-job-kind';
import { AnswersFirst } from './jobs/answers-first';
import { SyncJobsService } from './jobs/sync-jobs.service';
import { SyncPlanner } from './jobs/sync-planner';
import { KlineSyncGrpcController } from './kline-sync.grpc.controller';
import { KlineSyncMetrics } from './kline-sync.metrics';
import { SYNC_JOB_STORE, TOKEN_MANAGER_CLIENT } from './kline-sync.tokens';
import { KlineBarEntity } from './klines/kline-bar.entity';
import { KlinesService } from './klines/klines.service';
import { CreateKlineSyncSchema1763856001000 } from './migrations/1763856001000-create-kline-sync-schema';
import { SyncJobLifecycle1763942400000 } from './migrations/1763942400000-sync-job-lifecycle';
import { TenantOwnedRows1764979200100 } from './migrations/1764979200100-tenant-owned-rows';
import { SyncJobsOnJobKit1765065600000 } from './migrations/1765065600000-sync-jobs-on-job-kit';
import { StockInfoEntity } from './stocks/stock-info.entity';
import { StocksService } from './stocks/stocks.service';
import { StockPuller } from './sync/stock-puller';
import { SyncWorker } from './sync/sync-worker';
import { TokenSupply } from './sync/token-supply';
import { TriggersService } from './triggers/triggers.service';
import { ItickClient } from './upstream/itick.client';

export const KLINE_SYNC_SCHEMA = {
  entities: [OutboxEventEntity, StockInfoEntity, KlineBarEntity, SyncFailureEntity],
  migrations: [
    CreateOutboxEvent1763856000000,
    CreateKlineSyncSchema1763856001000,
    SyncJobLifecycle1763942400000,
    CreateJobTables1764547200000,
    TenantOwnedRows1764979200100,
    SyncJobsOnJobKit1765065600000,
    DropJobItemStatusIndex1765238400000,
    JobWriteCosts1765324800000,
    BinaryOwnerColumns1796300000000,
    HashedDedupeKeys1796400000000,
  ],
};

@Module({})
export class AppModule {
  static register(config: KlineSyncConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot(config, KLINE_SYNC_SCHEMA),
        MessagingModule.forService('kline-sync', config, [...EVENT_STREAMS, ...jobStreams(SYNC_JOBS.service)]),
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
        {
          provide: SYNC_JOB_STORE,
          inject: [SERVICE_CONFIG, DataSource, Outbox, NATS_CONNECTION, SyncFailuresService],
          useFactory: (settings: KlineSyncConfig, dataSource: DataSource, outbox: Outbox, nats: NatsConnection, failures: SyncFailuresService): SyncJobStore =>
            new JobStore(
              SYNC_JOBS,
              { dataSource, outbox, nats },
              {
                queue: settings.SYNC_WORK_QUEUE,
                itemsPerMessage: SYNC_STOCKS_PER_MESSAGE,
                // The failure rows commit with the outcomes they record.
                onOutcomes: (manager, outcomes) =>
                  failures.recordOutcomes(manager, outcomes as Array<CountedOutcome<SyncParams, SyncStock, SyncStockResult>>),
              },
            ),
        },
        AnswersFirst,
        SyncPlanner,
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
