import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { CreateJobTables1764547200000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, HashedDedupeKeys1796400000000, jobStreams, JobStore } from '@batchgate/platform/jobs';
import { CreateOutboxEvent1763856000000, MessagingModule, NATS_CONNECTION, Outbox, OutboxEventEntity } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import { BinaryOwnerColumns1796300000000, PersistenceModule } from '@batchgate/platform/persistence';
import { UpstreamClient, upstreamOptions } from '@batchgate/platform/upstream';
import type { RoleConfig } from './config/role.config';
import { CreateRoleSchema1765100000000 } from './migrations/1765100000000-create-role-schema';
import { PersonaCreator } from './personas/persona-creator';
import { PERSONA_JOB_STORE, PERSONA_JOBS } from './personas/persona-jobs';
import { PersonaSourcesRepository } from './personas/persona-sources.repository';
import { PersonaWorker } from './personas/persona-worker';
import { RoleTasksService } from './personas/role-tasks.service';
import { RolesRepository } from './personas/roles.repository';
import { PostGenerationService } from './posts/post-generation.service';
import { RoleGrpcController } from './role.grpc.controller';
import { RoleMetrics } from './role.metrics';
import { ChatCompletionsClient } from './upstream/chat-completions.client';
import { NotificationWebhookClient } from './upstream/notification-webhook.client';

export const ROLE_SCHEMA = {
  entities: [OutboxEventEntity],
  migrations: [CreateOutboxEvent1763856000000, CreateJobTables1764547200000, CreateRoleSchema1765100000000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, BinaryOwnerColumns1796300000000, HashedDedupeKeys1796400000000],
};

@Module({})
export class AppModule {
  static register(config: RoleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [PersistenceModule.forRoot(config, ROLE_SCHEMA), MessagingModule.forService('role', config, jobStreams('role'))],
      controllers: [RoleGrpcController],
      providers: [
        RoleMetrics,
        {
          provide: PERSONA_JOB_STORE,
          inject: [DataSource, Outbox, NATS_CONNECTION, SERVICE_CONFIG],
          useFactory: (dataSource: DataSource, outbox: Outbox, nats: NatsConnection, settings: RoleConfig) =>
            // One item per message: a replica takes a task only when it has a free slot.
            new JobStore(PERSONA_JOBS, { dataSource, outbox, nats }, { queue: settings.ROLE_JOBS_QUEUE, itemsPerMessage: 1 }),
        },
        {
          provide: ChatCompletionsClient,
          inject: [SERVICE_CONFIG, Registry, RoleMetrics],
          useFactory: (settings: RoleConfig, registry: Registry, metrics: RoleMetrics) =>
            new ChatCompletionsClient(
              new UpstreamClient({ name: 'chat', ...upstreamOptions(settings, 'CHAT'), registry }),
              { model: settings.CHAT_MODEL, apiKey: settings.CHAT_API_KEY, maxAttempts: settings.CHAT_MAX_ATTEMPTS, retryBaseMs: settings.CHAT_RETRY_BASE_MS },
              metrics,
            ),
        },
        {
          provide: NotificationWebhookClient,
          inject: [SERVICE_CONFIG, Registry],
          useFactory: (settings: RoleConfig, registry: Registry) =>
            new NotificationWebhookClient(
              new UpstreamClient({ name: 'webhook', ...upstreamOptions(settings, 'WEBHOOK'), registry }),
              settings.WEBHOOK_PATH,
              settings.WEBHOOK_MAX_ATTEMPTS,
            ),
        },
        PersonaSourcesRepository,
        RolesRepository,
        PersonaCreator,
        PersonaWorker,
        RoleTasksService,
        PostGenerationService,
      ],
    };
  }
}
