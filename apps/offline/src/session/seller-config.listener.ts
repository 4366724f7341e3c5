import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { NATS_CONNECTION, subscribeEvents, watchEvents } from '@batchgate/platform/messaging';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { OfflineConfig } from '../config/offline.config';
import { DelistWorker } from '../delist/delist-worker';
import { OFFLINE_EVENTS_STREAM } from '../offline.streams';
import { SessionCache } from './session-cache';

/**
 * A seller's configuration changed (`offline.seller.config_changed`, from whatever owns the
 * seller's settings, or offline's own admin invalidation): its cached conversation and tool ids
 * are dropped, so its next products fetch new ones. The cache is one MySQL row per tenant shared
 * by every replica, so one replica handling the event (a durable consumer the replicas share,
 * which also catches up on events published while none ran) drops it for all; and every replica
 * watches the event as well, so its running batches of the tenant let go of the ids they hold.
 */
@Injectable()
export class SellerConfigListener implements OnApplicationBootstrap, OnModuleDestroy {
  private subscription: { stop: () => Promise<void> } | undefined;
  private watch: { stop: () => Promise<void> } | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(SessionCache) private readonly sessions: SessionCache,
    @Inject(DelistWorker) private readonly worker: DelistWorker,
    @Inject(SERVICE_CONFIG) private readonly config: OfflineConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await subscribeEvents(
      this.nats,
      {
        stream: OFFLINE_EVENTS_STREAM.name,
        // Per work queue: deployments (and test stacks) sharing a NATS each hear every change.
        durable: `offline-seller-config-${this.config.OFFLINE_WORK_QUEUE}`,
        subject: 'offline.seller.config_changed',
        // A new durable must not replay the stream's history: a change from before it existed
        // would drop ids fetched after that change (the TTL and the stale-id refetch bound what
        // it might miss).
        startAt: 'next',
        handler: async ({ tenant }) => {
          if (tenant === '') return;
          const dropped = await this.sessions.invalidate(tenant);
          this.logger.info({ tenant, dropped }, 'seller configuration changed: cached session ids dropped');
        },
      },
      this.logger,
    );
    this.watch = await watchEvents<'offline.seller.config_changed'>(
      this.nats,
      {
        stream: OFFLINE_EVENTS_STREAM.name,
        filter: 'offline.seller.config_changed',
        handler: ({ payload }) => this.worker.forgetSessions(payload.tenant),
      },
      this.logger,
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.watch?.stop();
    await this.subscription?.stop();
  }
}
