import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable-job tables; every service that runs jobs lists this migration with its own (as it
 * lists the outbox's), so each service's database has its own `job` and `job_item`.
 *
 * Why the kit owns generic tables instead of each service declaring its own: every transition is
 * guarded SQL (JOB_TRANSITIONS / ITEM_TRANSITIONS), written and tested once against one schema;
 * per-service tables would make each statement a template over names and columns that could drift
 * (kline-sync's sync_job already differs from what offline, role and publish need). What differs
 * per service is typed JSON: the job's `params`, each item's `payload` and `result`; a service's
 * own rows (kline bars, personas, articles) live in its tables, keyed by job id and item seq.
 * `kind` lets one service run several kinds of job (role: personas and posts).
 *
 * Counters on the job row (not counts over the items) because the kit commits item outcomes in
 * groups: one UPDATE per job per group, instead of one per item (kline-sync's reason for counting
 * items was one row lock per item).
 */
export class CreateJobTables1764547200000 implements MigrationInterface {
  name = 'CreateJobTables1764547200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE job (
        id CHAR(36) NOT NULL,
        kind VARCHAR(64) NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        status VARCHAR(16) NOT NULL,
        params JSON NULL,
        total INT NOT NULL DEFAULT 0,
        succeeded INT NOT NULL DEFAULT 0,
        failed INT NOT NULL DEFAULT 0,
        cancelled INT NOT NULL DEFAULT 0,
        done_before_run INT NOT NULL DEFAULT 0 COMMENT 'items ended before the current run (a retry), for its ETA',
        version INT NOT NULL DEFAULT 1 COMMENT 'commits that changed the job; JobChanged.version',
        active_key VARCHAR(191) NULL COMMENT 'dedupe key while the job is open; NULL once it ends',
        error_message VARCHAR(500) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        started_at DATETIME(3) NULL,
        finished_at DATETIME(3) NULL,
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uq_job_active (kind, tenant, active_key),
        INDEX idx_job_owner (tenant, user_id, kind, created_at),
        INDEX idx_job_owner_status (tenant, user_id, kind, status, created_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE job_item (
        job_id CHAR(36) NOT NULL,
        seq INT NOT NULL COMMENT 'position in the job, from 0',
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        status VARCHAR(16) NOT NULL,
        idempotency_key VARCHAR(191) NOT NULL COMMENT 'sent to the outside system with every effect of this item',
        payload JSON NULL,
        result JSON NULL,
        attempts INT NOT NULL DEFAULT 0 COMMENT 'runs started; the current one fences out older ones',
        attempts_before_retry INT NOT NULL DEFAULT 0 COMMENT 'attempts when a retry queued it again: its runs since count toward the maximum',
        progress TINYINT NOT NULL DEFAULT 0,
        error_message VARCHAR(500) NULL,
        started_at DATETIME(3) NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (job_id, seq),
        INDEX idx_job_item_status (job_id, status)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE job_item');
    await queryRunner.query('DROP TABLE job');
  }
}
