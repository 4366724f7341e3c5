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
import { Readiness } from '../health';
import { LOGGER } from '../nest/tokens';
import { EventPublisher } from './event-bus';
import { connectNats, ensureStreams, type NatsSettings, type StreamDefinition } from './nats-connection';
import { Outbox, type OutboxSettings } from './outbox';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

export interface MessagingSettings {
  nats: NatsSettings;
  streams: readonly StreamDefinition[];
  duplicateWindowMs: number;
  outbox: OutboxSettings;
}

/**
 * Lifecycle of the service's messaging: readiness reports NATS; the outbox relay starts once the
 * app is up; on shutdown (after the gRPC server has finished its in-flight calls and work
 * consumers have stopped in onModuleDestroy) the relay finishes its pass and the connection
 * drains, before TypeORM closes the database in onApplicationShutdown.
 */
@Injectable()
class MessagingLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
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
  static forRoot(settings: MessagingSettings): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        {
          provide: NATS_CONNECTION,
          inject: [LOGGER],
          useFactory: async (logger: Logger) => {
            const connection = await connectNats(settings.nats, logger);
            await ensureStreams(connection, settings.streams, settings.duplicateWindowMs);
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
          inject: [DataSource, EventPublisher, LOGGER],
          useFactory: (dataSource: DataSource, publisher: EventPublisher, logger: Logger) =>
            new Outbox(dataSource, publisher, settings.outbox, logger),
        },
        MessagingLifecycle,
      ],
      exports: [NATS_CONNECTION, EventPublisher, Outbox],
    };
  }
}
