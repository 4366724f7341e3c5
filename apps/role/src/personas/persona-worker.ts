import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { JobWorker } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { RoleConfig } from '../config/role.config';
import { PersonaCreator } from './persona-creator';
import { PERSONA_JOB_STORE, type PersonaJobStore, type PersonaParams, type PersonaResult } from './persona-jobs';

/**
 * This replica's share of the persona tasks: pulls from the work queue once the app is up, and
 * stops pulling (running tasks finish, the rest go back to the queue) before NATS drains.
 */
@Injectable()
export class PersonaWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly worker: JobWorker<PersonaParams, PersonaParams, PersonaResult>;

  constructor(
    @Inject(PERSONA_JOB_STORE) store: PersonaJobStore,
    @Inject(PersonaCreator) creator: PersonaCreator,
    @Inject(SERVICE_CONFIG) config: RoleConfig,
    @Inject(LOGGER) logger: Logger,
    @Inject(Registry) registry: Registry,
  ) {
    this.worker = new JobWorker(
      store,
      (run) => creator.run(run),
      {
        concurrency: config.ROLE_WORKER_CONCURRENCY,
        maxDeliveries: config.ROLE_MAX_DELIVERIES,
        ackWaitMs: config.ROLE_ACK_WAIT_MS,
        retryDelayMs: config.ROLE_RETRY_DELAY_MS,
      },
      logger,
      registry,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.worker.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker.stop();
  }
}
