import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { Readiness } from '../health';
import { LOGGER } from '../nest/tokens';
import { EventPublisher } from './event-bus';
import { registerJetStreamMetrics } from './jetstream-metrics';
import {
  connectNats,
  ensureStreams,
  type NatsSettings,
  type StreamDefinition,
  type StreamLimits,
} from './nats-connection';
import { Outbox, type OutboxSettings } from './outbox';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

export interface MessagingSettings {
  nats: NatsSettings;
  streams: readonly StreamDefinition[];
  limits: StreamLimits;
  outbox: OutboxSettings;
}

/** The messaging part of every service's environment (libs/platform/src/nest/service-env.ts). */
export interface MessagingEnv {
  NATS_URL: string;
  NATS_DUPLICATE_WINDOW_MS: number;
  NATS_EVENTS_MAX_AGE_MS: number;
  NATS_STREAM_MAX_BYTES: number;
  OUTBOX_POLL_MS: number;
  OUTBOX_BATCH_SIZE: number;
  OUTBOX_RETENTION_MS: number;
  OUTBOX_TEST_CRASH: OutboxSettings['crashPoint'];
}

/**
 * Lifecycle of the service's messaging: readiness reports NATS; the outbox relay starts once the
 * app is up; on shutdown (after the gRPC server has finished its in-flight calls and work
 * consumers have stopped in onModuleDestroy) the relay finishes its pass and the connection
 * drains, before TypeORM closes the database in onApplicationShutdown.
 */
@Injectable()
class MessagingLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  constructor(
    @Inject(NATS_CONNECTION) private readonly connection: NatsConnection,
    @Inject(Outbox) private readonly outbox: Outbox,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  onModuleInit(): void {
    this.readiness.add({
      name: 'nats',
      check: async () => {
        if (this.connection.isClosed()) return false;
        await this.connection.flush();
      },
    });
  }

  onApplicationBootstrap(): void {
    this.outbox.start();
  }

  /** After every module's onModuleDestroy (work consumers stop there), before TypeORM closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.outbox.stop();
    if (!this.connection.isClosed()) await this.connection.drain();
  }
}

@Module({})
export class MessagingModule {
  /** The messaging of one service, configured from its validated environment. */
  static forService(
    service: string,
    config: MessagingEnv,
    streams: readonly StreamDefinition[],
  ): DynamicModule {
    return MessagingModule.forRoot({
      nats: { url: config.NATS_URL, name: service },
      streams,
      limits: {
        duplicateWindowMs: config.NATS_DUPLICATE_WINDOW_MS,
        eventMaxAgeMs: config.NATS_EVENTS_MAX_AGE_MS,
        maxBytes: config.NATS_STREAM_MAX_BYTES,
      },
      outbox: {
        pollIntervalMs: config.OUTBOX_POLL_MS,
        batchSize: config.OUTBOX_BATCH_SIZE,
        retentionMs: config.OUTBOX_RETENTION_MS,
        crashPoint: config.OUTBOX_TEST_CRASH,
      },
    });
  }

  static forRoot(settings: MessagingSettings): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        {
          provide: NATS_CONNECTION,
          inject: [LOGGER, Registry],
          useFactory: async (logger: Logger, registry: Registry) => {
            const connection = await connectNats(settings.nats, logger);
            await ensureStreams(connection, settings.streams, settings.limits);
            registerJetStreamMetrics(
              registry,
              connection,
              settings.streams.map((stream) => stream.name),
            );
            return connection;
          },
        },
        {
          provide: EventPublisher,
          inject: [NATS_CONNECTION],
          useFactory: (connection: NatsConnection) => new EventPublisher(connection),
        },
        {
          provide: Outbox,
          inject: [DataSource, EventPublisher, LOGGER, Registry],
          useFactory: (
            dataSource: DataSource,
            publisher: EventPublisher,
            logger: Logger,
            registry: Registry,
          ) => new Outbox(dataSource, publisher, settings.outbox, logger, registry),
        },
        MessagingLifecycle,
      ],
      exports: [NATS_CONNECTION, EventPublisher, Outbox],
    };
  }
}
