import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { sleep } from '@batchgate/concurrency';
import {
  CreateJobTables1764547200000,
  defineJobKind,
  DropJobItemStatusIndex1765238400000,
  JobWriteCosts1765324800000,
  HashedDedupeKeys1796400000000,
  ItemFailure,
  jobStreams,
  JobStore,
  JobWorker,
  type JobItemRun,
  type JobKind,
  type JobStoreSettings,
  type JobWorkerSettings,
} from '@batchgate/platform/jobs';
import {
  CreateOutboxEvent1763856000000,
  ensureStreams,
  EventPublisher,
  Outbox,
  OutboxEventEntity,
  STREAM_LIMIT_DEFAULTS,
} from '@batchgate/platform/messaging';
import { openDataSource } from '@batchgate/platform/persistence';
import type { TestDatabase } from '@batchgate/testing';

/** What a test item asks its handler to do. */
export interface TestPayload {
  value: number;
  /** Sleep this long (aborted with the run). */
  sleepMs?: number;
  /** Throw on every run before this attempt number (a huge one: a poison item). */
  throwUntilAttempt?: number;
  /** Refused for good (ItemFailure). */
  refuse?: boolean;
  /** Kill the worker's own process (a handler that crashes it). */
  crash?: boolean;
  /** Wait for an outside system until the worker stops, then give up (throw). */
  untilStopped?: boolean;
}

export interface TestParams {
  label: string;
}

export interface TestResult {
  doubled: number;
  pid: number;
}

export const testKind = (service: string): JobKind<TestParams, TestPayload, TestResult> =>
  defineJobKind<TestParams, TestPayload, TestResult>({
    service,
    name: 'echo',
    errorPrefix: 'TEST',
    label: 'Test job',
  });

/**
 * The handler of the kit's tests, in the test process and in worker child processes alike. Each
 * run writes a line (`run <jobId>:<seq> <attempt>`, `aborted <jobId>:<seq>`) so a parent process
 * can tell a child's runs apart.
 */
export function testHandler(log: (line: string) => void = () => undefined) {
  return async (run: JobItemRun<TestParams, TestPayload>): Promise<TestResult> => {
    const key = `${run.jobId}:${run.seq}`;
    log(`run ${key} ${run.attempt}`);
    run.signal.addEventListener('abort', () => log(`aborted ${key}`), { once: true });
    const { payload } = run;
    if (payload.crash) process.kill(process.pid, 'SIGKILL');
    // A refusal keeps what the run found out: the failed item's result.
    if (payload.refuse)
      throw new ItemFailure(`item ${payload.value} refused`, {
        result: { doubled: -payload.value, pid: process.pid },
      });
    if (payload.untilStopped) {
      await new Promise((resolve) =>
        run.stopping.addEventListener('abort', resolve, { once: true }),
      );
      throw new Error(`item ${payload.value} gave up waiting: the worker stops`);
    }
    if (payload.throwUntilAttempt !== undefined && run.attempt < payload.throwUntilAttempt) {
      throw new Error(`item ${payload.value} broke on attempt ${run.attempt}`);
    }
    if (payload.sleepMs) {
      await run.reportProgress(50);
      await sleep(payload.sleepMs, { signal: run.signal });
    }
    return { doubled: payload.value * 2, pid: process.pid };
  };
}

export interface KitEnvironment {
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  NATS_URL: string;
  JOBS_SERVICE: string;
  JOBS_QUEUE: string;
}

/** One process's view of the kit: its database pool, NATS connection, outbox relay and store. */
export interface KitProcess {
  dataSource: DataSource;
  nats: NatsConnection;
  outbox: Outbox;
  store: JobStore<TestParams, TestPayload, TestResult>;
  logger: Logger;
  registry: Registry;
  worker: (
    settings: JobWorkerSettings,
    log?: (line: string) => void,
  ) => Promise<JobWorker<TestParams, TestPayload, TestResult>>;
  close: () => Promise<void>;
}

/** Opens the kit on an existing database (migrated here) and NATS; the relay runs. */
export async function openKit(
  environment: KitEnvironment,
  options: {
    poolSize?: number;
    outboxBatch?: number;
    onOutcomes?: JobStoreSettings['onOutcomes'];
  } = {},
): Promise<KitProcess> {
  const dataSource = await openDataSource(
    { ...environment, DB_POOL_SIZE: options.poolSize ?? 10, DB_CONNECT_TIMEOUT_MS: 5_000 },
    {
      entities: [OutboxEventEntity],
      migrations: [CreateOutboxEvent1763856000000, CreateJobTables1764547200000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000, HashedDedupeKeys1796400000000],
    },
  );
  const nats = await connect({ servers: environment.NATS_URL });
  await ensureStreams(nats, jobStreams(environment.JOBS_SERVICE), STREAM_LIMIT_DEFAULTS);
  const logger = pino({ level: process.env['KIT_LOG_LEVEL'] ?? 'silent' });
  const registry = new Registry();
  const outbox = new Outbox(
    dataSource,
    new EventPublisher(nats),
    {
      pollIntervalMs: 50,
      batchSize: options.outboxBatch ?? 500,
      retentionMs: 600_000,
      crashPoint: 'none',
    },
    logger,
    registry,
  );
  outbox.start();
  const store = new JobStore(
    testKind(environment.JOBS_SERVICE),
    { dataSource, outbox, nats },
    { queue: environment.JOBS_QUEUE, onOutcomes: options.onOutcomes },
  );
  const workers: Array<JobWorker<TestParams, TestPayload, TestResult>> = [];
  return {
    dataSource,
    nats,
    outbox,
    store,
    logger,
    registry,
    worker: async (settings, log) => {
      const worker = new JobWorker(store, testHandler(log), settings, logger, registry);
      await worker.start();
      workers.push(worker);
      return worker;
    },
    close: async () => {
      for (const worker of workers) await worker.stop();
      await outbox.stop();
      await nats.drain();
      await dataSource.destroy();
    },
  };
}

/** The kit's environment on a test database and the machine's NATS; a fresh service unless one is given. */
export function kitEnvironment(database: TestDatabase, service = uniqueService()): KitEnvironment {
  return {
    ...database.connection,
    NATS_URL: 'nats://127.0.0.1:4222',
    ...service,
  };
}

/** A fresh service name and queue, so parallel runs never share streams or consumers. */
export function uniqueService(): { JOBS_SERVICE: string; JOBS_QUEUE: string } {
  return { JOBS_SERVICE: `kit${randomBytes(3).toString('hex')}`, JOBS_QUEUE: 'test' };
}

/** Deletes the service's streams (and with them its consumers). */
export async function deleteStreams(nats: NatsConnection, service: string): Promise<void> {
  const manager = await nats.jetstreamManager();
  for (const stream of jobStreams(service))
    await manager.streams.delete(stream.name).catch(() => undefined);
}

/** Whether the work queue has no message waiting or in hand (every delivered item was acked). */
export async function queueDrained<P, I, R>(
  nats: NatsConnection,
  store: JobStore<P, I, R>,
): Promise<boolean> {
  const manager = await nats.jetstreamManager();
  const info = await manager.consumers.info(
    jobStreams(store.kind.service)[0]?.name ?? '',
    store.subjects.durable,
  );
  return info.num_pending === 0 && info.num_ack_pending === 0;
}
