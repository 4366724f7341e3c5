import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import pino from 'pino';
import { Registry } from 'prom-client';
import { CreateJobTables1764547200000, JobStore } from '@batchgate/platform/jobs';
import {
  CreateOutboxEvent1763856000000,
  EventPublisher,
  Outbox,
  OutboxEventEntity,
} from '@batchgate/platform/messaging';
import { openDataSource, type MysqlConfig } from '@batchgate/platform/persistence';
import { createTestDatabase, type TestDatabase } from '@batchgate/testing';
import { KLINE_SYNC_SCHEMA } from '../src/app.module';
import { SYNC_JOBS } from '../src/jobs/sync-job-kind';
import { CreateKlineSyncSchema1763856001000 } from '../src/migrations/1763856001000-create-kline-sync-schema';
import { SyncJobLifecycle1763942400000 } from '../src/migrations/1763942400000-sync-job-lifecycle';
import { TenantOwnedRows1764979200100 } from '../src/migrations/1764979200100-tenant-owned-rows';

/**
 * Sync jobs stored before the move onto the job kit keep answering under their ids: the
 * migration copies sync_job / sync_job_item into the kit's tables (a finished job as it ended,
 * an open one held for the planner's sweep to queue again) and their plans into sync_job_plan.
 */
describe('kline-sync: sync jobs copied onto the job kit', () => {
  let database: TestDatabase;
  let nats: NatsConnection;
  const alice = { tenant: 'acme', userId: 'alice' };
  const finishedId = randomUUID();
  const openId = randomUUID();

  beforeAll(async () => {
    database = await createTestDatabase('ks_migrate');
    nats = await connect({ servers: 'nats://127.0.0.1:4222' });
  });
  afterAll(async () => {
    await nats.close();
    await database.drop();
  });

  it('keeps old job ids answering with their counts, stocks, plans and owners', async () => {
    const config: MysqlConfig = {
      ...database.connection,
      DB_POOL_SIZE: 2,
      DB_CONNECT_TIMEOUT_MS: 5_000,
    };
    // The schema as it was before the move, with a finished job and one half done.
    const before = await openDataSource(config, {
      entities: [OutboxEventEntity],
      migrations: [
        CreateOutboxEvent1763856000000,
        CreateKlineSyncSchema1763856001000,
        SyncJobLifecycle1763942400000,
        CreateJobTables1764547200000,
        TenantOwnedRows1764979200100,
      ],
    });
    const plan = JSON.stringify({ threads: 1, tokensPerThread: [3], tokenCount: 3 });
    await before.query(
      `INSERT INTO sync_job (id, tenant, user_id, market, start_date, end_date, k_type, status, plan, total, succeeded, failed, cancelled, created_at, started_at, finished_at)
       VALUES (?, 'acme', 'alice', 'SH', '2026-01-05', '2026-01-09', 8, 'partial', ?, 3, 2, 1, 0, '2026-11-01 10:00:00', '2026-11-01 10:00:01', '2026-11-01 10:00:09'),
              (?, 'acme', 'alice', NULL, '2026-02-02', '2026-02-03', 1, 'running', ?, 2, 0, 0, 0, '2026-11-02 10:00:00', '2026-11-02 10:00:01', NULL)`,
      [finishedId, plan, openId, plan],
    );
    await before.query(
      `INSERT INTO sync_job_item (job_id, market, stock_code, status, attempts, error_message, finished_at) VALUES
         (?, 'SZ', '000001', 1, 1, NULL, '2026-11-01 10:00:05'), (?, 'SH', '600036', 2, 1, 'revoked', '2026-11-01 10:00:06'),
         (?, 'SH', '600000', 1, 1, NULL, '2026-11-01 10:00:09'),
         (?, 'SH', '600000', 1, 1, NULL, '2026-11-02 10:00:03'), (?, 'SH', '600036', 0, 0, NULL, NULL)`,
      [finishedId, finishedId, finishedId, openId, openId],
    );
    await before.destroy();

    const after = await openDataSource(config, KLINE_SYNC_SCHEMA);
    try {
      const outbox = new Outbox(
        after,
        new EventPublisher(nats),
        { pollIntervalMs: 1_000, batchSize: 10, retentionMs: 60_000, crashPoint: 'none' },
        pino({ level: 'silent' }),
        new Registry(),
      );
      const jobs = new JobStore(
        SYNC_JOBS,
        { dataSource: after, outbox, nats },
        { queue: 'migration' },
      );

      const finished = await jobs.get(alice, finishedId);
      expect(finished).toMatchObject({
        status: 'partial',
        params: { market: 'SH', startDate: '2026-01-05', endDate: '2026-01-09', kType: 8 },
        total: 3,
        succeeded: 2,
        failed: 1,
        cancelled: 0,
      });
      expect(finished.startedAt).not.toBeNull();
      expect(finished.finishedAt).not.toBeNull();
      const stocks = await jobs.items(alice, finishedId, { page: 1, size: 10 });
      expect(
        stocks.items.map((item) => [item.seq, item.status, item.payload, item.errorMessage]),
      ).toEqual([
        [0, 'success', { market: 'SH', code: '600000' }, null],
        [1, 'failed', { market: 'SH', code: '600036' }, 'revoked'],
        [2, 'success', { market: 'SZ', code: '000001' }, null],
      ]);

      // The open job is held with its open stock, for the planner's sweep to queue it again.
      expect(await jobs.get(alice, openId)).toMatchObject({
        status: 'pending',
        total: 2,
        succeeded: 1,
        startedAt: null,
        finishedAt: null,
        doneThisRun: 0,
      });
      expect(
        (await jobs.items(alice, openId, { page: 1, size: 10 })).items.map((item) => item.status),
      ).toEqual(['success', 'pending']);
      expect(await jobs.held(0, 10)).toEqual([{ id: openId, owner: alice }]);

      // Plans and owners come along; another owner still does not see the job.
      const plans = (await after.query(
        'SELECT job_id, tenant, user_id FROM sync_job_plan ORDER BY created_at',
      )) as unknown[];
      expect(plans).toEqual([
        { job_id: finishedId, tenant: 'acme', user_id: 'alice' },
        { job_id: openId, tenant: 'acme', user_id: 'alice' },
      ]);
      await expect(jobs.get({ tenant: 'acme', userId: 'bob' }, finishedId)).rejects.toMatchObject({
        code: 'SYNC.JOB_NOT_FOUND',
      });
      const oldTables = (await after.query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 'sync_job%'",
        [database.name],
      )) as Array<{ name: string }>;
      expect(oldTables.map((table) => table.name)).toEqual(['sync_job_plan']);
    } finally {
      await after.destroy();
    }
  });
});
