import type { FactoryProvider } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { DataSource } from 'typeorm';
import { JobStore } from '@batchgate/platform/jobs';
import { NATS_CONNECTION, Outbox } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { OfflineConfig } from '../config/offline.config';
import { MAX_BATCH_PRODUCTS, OFFLINE_JOBS, type OfflineOutcome, type OfflineParams, type OfflineProduct } from './offline-jobs';
import { recordOfflineProducts } from './offline-products';

export type OfflineJobStore = JobStore<OfflineParams, OfflineProduct, OfflineOutcome>;

/** Injection token of the batches' job store. */
export const OFFLINE_JOB_STORE = Symbol('OFFLINE_JOB_STORE');

export const offlineJobStoreProvider: FactoryProvider<OfflineJobStore> = {
  provide: OFFLINE_JOB_STORE,
  inject: [DataSource, Outbox, NATS_CONNECTION, SERVICE_CONFIG],
  useFactory: (dataSource: DataSource, outbox: Outbox, nats: NatsConnection, config: OfflineConfig) =>
    new JobStore(
      OFFLINE_JOBS,
      { dataSource, outbox, nats },
      {
        queue: config.OFFLINE_WORK_QUEUE,
        // A whole batch in one message: one replica runs it, so its max_threads bounds it exactly
        // (the seed's one thread pool per batch); other batches go to other replicas.
        itemsPerMessage: MAX_BATCH_PRODUCTS,
        onOutcomes: recordOfflineProducts,
      },
    ),
};
