import { Module, type DynamicModule } from '@nestjs/common';
import { Registry } from 'prom-client';
import { CreateJobTables1764547200000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, HashedDedupeKeys1796400000000 } from '@batchgate/platform/jobs';
import { CreateOutboxEvent1763856000000, MessagingModule, OutboxEventEntity } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import { BinaryOwnerColumns1796300000000, PersistenceModule } from '@batchgate/platform/persistence';
import { UpstreamClient, upstreamOptions } from '@batchgate/platform/upstream';
import { OfflineBatchesService } from './batches/offline-batches.service';
import { offlineJobStoreProvider } from './batches/offline-store';
import type { OfflineConfig } from './config/offline.config';
import { DelistWorker } from './delist/delist-worker';
import { MarketplaceClient } from './marketplace/marketplace.client';
import { CreateOfflineSchema1765152000000 } from './migrations/1765152000000-create-offline-schema';
import { OfflineGrpcController } from './offline.grpc.controller';
import { OfflineMetrics } from './offline.metrics';
import { OFFLINE_STREAMS } from './offline.streams';
import { SellerConfigListener } from './session/seller-config.listener';
import { SessionCache } from './session/session-cache';

export const OFFLINE_SCHEMA = {
  entities: [OutboxEventEntity],
  migrations: [CreateOutboxEvent1763856000000, CreateJobTables1764547200000, CreateOfflineSchema1765152000000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, BinaryOwnerColumns1796300000000, HashedDedupeKeys1796400000000],
};

@Module({})
export class AppModule {
  static register(config: OfflineConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [PersistenceModule.forRoot(config, OFFLINE_SCHEMA), MessagingModule.forService('offline', config, OFFLINE_STREAMS)],
      controllers: [OfflineGrpcController],
      providers: [
        OfflineMetrics,
        {
          provide: MarketplaceClient,
          inject: [SERVICE_CONFIG, Registry],
          useFactory: (settings: OfflineConfig, registry: Registry) =>
            new MarketplaceClient(
              new UpstreamClient({ name: 'marketplace', ...upstreamOptions(settings, 'MARKETPLACE'), registry }),
              settings.MARKETPLACE_CALL_MAX_ATTEMPTS,
            ),
        },
        offlineJobStoreProvider,
        SessionCache,
        OfflineBatchesService,
        DelistWorker,
        SellerConfigListener,
      ],
    };
  }
}
