import type { MigrationInterface, QueryRunner } from 'typeorm';

const DAY = (column: string) => `DATE_FORMAT(${column}, '%Y-%m-%d')`;
/** sync_job_item.status → the kit's item status. */
const ITEM_STATUS = "CASE i.status WHEN 0 THEN 'pending' WHEN 1 THEN 'success' WHEN 2 THEN 'failed' ELSE 'cancelled' END";
const COUNT_ITEMS = (status: number) => `(SELECT COUNT(*) FROM sync_job_item c WHERE c.job_id = j.id AND c.status = ${status})`;

/**
 * Sync jobs move onto the platform's job kit (its `job` and `job_item`, created by
 * CreateJobTables1764547200000): every sync_job becomes a job of kind `sync` with the same id, so
 * old job ids keep answering, and its stocks its items (`seq` in (market, stock_code) order,
 * payload `{ market, code }`, the job's range and bar type in `params`). Counters come from the
 * items. A finished job keeps its status; an open one is held (`pending`, shown as queued) with
 * its open stocks, and the planner's sweep queues it on the kit's work queue — the old queue's
 * messages are not read any more. An open job with no open stock is closed as its last stock
 * would have closed it. The plans move to sync_job_plan, the one thing of a sync job the kit
 * does not hold.
 */
export class SyncJobsOnJobKit1765065600000 implements MigrationInterface {
  name = 'SyncJobsOnJobKit1765065600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sync_job_plan (
        job_id CHAR(36) NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        plan JSON NOT NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (job_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(
      'INSERT INTO sync_job_plan (job_id, tenant, user_id, plan, created_at) SELECT id, tenant, user_id, plan, created_at FROM sync_job WHERE plan IS NOT NULL',
    );
    await queryRunner.query(`
      INSERT INTO job (id, kind, tenant, user_id, status, params, total, succeeded, failed, cancelled, done_before_run, error_message,
                       created_at, started_at, finished_at, updated_at)
      SELECT id, 'sync', tenant, user_id,
             CASE WHEN finished_at IS NOT NULL THEN status WHEN open_items > 0 THEN 'pending'
                  WHEN stocks_failed = 0 THEN 'success' WHEN stocks_succeeded = 0 THEN 'failed' ELSE 'partial' END,
             params, total, stocks_succeeded, stocks_failed, stocks_cancelled,
             IF(finished_at IS NULL, stocks_succeeded + stocks_failed + stocks_cancelled, 0), error_message, created_at,
             IF(finished_at IS NULL AND open_items > 0, NULL, started_at),
             IF(finished_at IS NULL AND open_items = 0, CURRENT_TIMESTAMP(3), finished_at),
             COALESCE(finished_at, started_at, created_at)
        FROM (SELECT j.id, j.tenant, j.user_id, j.status, j.total, j.error_message, j.created_at, j.started_at, j.finished_at,
                     JSON_OBJECT('market', j.market, 'startDate', ${DAY('j.start_date')}, 'endDate', ${DAY('j.end_date')}, 'kType', j.k_type) AS params,
                     ${COUNT_ITEMS(1)} AS stocks_succeeded, ${COUNT_ITEMS(2)} AS stocks_failed, ${COUNT_ITEMS(3)} AS stocks_cancelled,
                     ${COUNT_ITEMS(0)} AS open_items
                FROM sync_job j) counted`);
    await queryRunner.query(`
      INSERT INTO job_item (job_id, seq, tenant, user_id, status, idempotency_key, payload, attempts, attempts_before_retry, error_message, finished_at)
      SELECT job_id, seq, tenant, user_id, status, CONCAT(job_id, ':', seq), payload, attempts, attempts, error_message, finished_at
        FROM (SELECT i.job_id, ROW_NUMBER() OVER (PARTITION BY i.job_id ORDER BY i.market, i.stock_code) - 1 AS seq, j.tenant, j.user_id,
                     ${ITEM_STATUS} AS status, JSON_OBJECT('market', i.market, 'code', i.stock_code) AS payload, i.attempts, i.error_message, i.finished_at
                FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id) numbered`);
    await queryRunner.query('DROP TABLE sync_job_item');
    await queryRunner.query('DROP TABLE sync_job');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sync_job (
        id CHAR(36) NOT NULL,
        tenant VARCHAR(64) NOT NULL DEFAULT '',
        user_id VARCHAR(128) NOT NULL,
        market VARCHAR(10) NULL,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        k_type TINYINT NOT NULL,
        status VARCHAR(16) NOT NULL,
        plan JSON NULL,
        total INT NOT NULL DEFAULT 0,
        succeeded INT NOT NULL DEFAULT 0,
        failed INT NOT NULL DEFAULT 0,
        cancelled INT NOT NULL DEFAULT 0,
        error_message VARCHAR(500) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        started_at DATETIME(3) NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (id),
        INDEX idx_sync_job_status (status, created_at),
        INDEX idx_sync_job_owner (tenant, user_id, created_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE sync_job_item (
        job_id CHAR(36) NOT NULL,
        market VARCHAR(10) NOT NULL,
        stock_code VARCHAR(20) NOT NULL,
        status TINYINT NOT NULL DEFAULT 0 COMMENT '0 pending, 1 succeeded, 2 failed, 3 cancelled',
        attempts INT NOT NULL DEFAULT 0,
        error_message VARCHAR(500) NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (job_id, market, stock_code),
        INDEX idx_sync_job_item_status (job_id, status)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    // Open jobs go back as queued (their stocks pending); the old worker finds no message for them.
    await queryRunner.query(`
      INSERT INTO sync_job (id, tenant, user_id, market, start_date, end_date, k_type, status, plan, total, succeeded, failed, cancelled,
                            error_message, created_at, started_at, finished_at)
      SELECT j.id, j.tenant, j.user_id, JSON_VALUE(j.params, '$.market'), JSON_VALUE(j.params, '$.startDate'), JSON_VALUE(j.params, '$.endDate'),
             JSON_VALUE(j.params, '$.kType'), IF(j.status = 'pending', 'queued', j.status), p.plan, j.total, j.succeeded, j.failed, j.cancelled,
             j.error_message, j.created_at, j.started_at, j.finished_at
        FROM job j LEFT JOIN sync_job_plan p ON p.job_id = j.id WHERE j.kind = 'sync'`);
    await queryRunner.query(`
      INSERT INTO sync_job_item (job_id, market, stock_code, status, attempts, error_message, finished_at)
      SELECT i.job_id, JSON_VALUE(i.payload, '$.market'), JSON_VALUE(i.payload, '$.code'),
             CASE i.status WHEN 'success' THEN 1 WHEN 'failed' THEN 2 WHEN 'cancelled' THEN 3 ELSE 0 END, i.attempts, i.error_message, i.finished_at
        FROM job_item i JOIN job j ON j.id = i.job_id WHERE j.kind = 'sync'`);
    await queryRunner.query("DELETE i FROM job_item i JOIN job j ON j.id = i.job_id WHERE j.kind = 'sync'");
    await queryRunner.query("DELETE FROM job WHERE kind = 'sync'");
    await queryRunner.query('DROP TABLE sync_job_plan');
  }
}
