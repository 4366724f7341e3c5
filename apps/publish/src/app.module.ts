import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { EVENT_STREAMS } from '@batchgate/contracts';
import { CreateJobTables1764547200000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, HashedDedupeKeys1796400000000, jobStreams, JobStore } from '@batchgate/platform/jobs';
import { CreateOutboxEvent1763856000000, MessagingModule, NATS_CONNECTION, Outbox, OutboxEventEntity } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import { BinaryOwnerColumns1796300000000, PersistenceModule } from '@batchgate/platform/persistence';
import { UpstreamClient, upstreamOptions } from '@batchgate/platform/upstream';
import type { PublishConfig } from './config/publish.config';
import { RunAdmission } from './limits/run-admission';
import { UserLimits } from './limits/user-limits';
import { InteractionsService } from './interactions/interactions.service';
import { PublishUserLimits1765000000000 } from './migrations/1765000000000-publish-user-limits';
import { PublishInteractions1765000001000 } from './migrations/1765000001000-publish-interactions';
import { PublishingPlatformClient } from './platform/publishing-platform.client';
import { PublishStatsService } from './stats/publish-stats.service';
import { PublishGrpcController } from './publish.grpc.controller';
import { PublishMetrics } from './publish.metrics';
import { PUBLISH_JOB_STORE, PUBLISH_JOBS } from './tasks/publish-jobs';
import { PublishTasksService } from './tasks/publish-tasks.service';
import { PublishWorker } from './worker/publish.worker';

export const PUBLISH_SCHEMA = {
  entities: [OutboxEventEntity],
  migrations: [CreateOutboxEvent1763856000000, CreateJobTables1764547200000, PublishUserLimits1765000000000, PublishInteractions1765000001000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, BinaryOwnerColumns1796300000000, HashedDedupeKeys1796400000000],
};

@Module({})
export class AppModule {
  static register(config: PublishConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot(config, PUBLISH_SCHEMA),
        MessagingModule.forService('publish', config, [...EVENT_STREAMS, ...jobStreams(PUBLISH_JOBS.service)]),
      ],
      controllers: [PublishGrpcController],
      providers: [
        PublishMetrics,
        {
          provide: PUBLISH_JOB_STORE,
          inject: [SERVICE_CONFIG, DataSource, Outbox, NATS_CONNECTION],
          useFactory: (settings: PublishConfig, dataSource: DataSource, outbox: Outbox, nats: NatsConnection) =>
            // One task per work message: a batch spreads over every replica's free slots.
            new JobStore(PUBLISH_JOBS, { dataSource, outbox, nats }, { queue: settings.PUBLISH_WORK_QUEUE, itemsPerMessage: 1 }),
        },
        {
          provide: PublishingPlatformClient,
          inject: [SERVICE_CONFIG, Registry],
          useFactory: (settings: PublishConfig, registry: Registry) =>
            new PublishingPlatformClient(new UpstreamClient({ name: 'publishing', ...upstreamOptions(settings, 'PLATFORM'), registry })),
        },
        UserLimits,
        RunAdmission,
        PublishTasksService,
        PublishWorker,
        InteractionsService,
        PublishStatsService,
      ],
    };
  }
}
