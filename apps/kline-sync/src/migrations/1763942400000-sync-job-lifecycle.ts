import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Jobs get an owner (tenant + user, listed newest first) and can be cancelled: sync_job_item
 * status 3 is a stock cancelled before it was pulled. A running job's progress is counted from its
 * items, and every finished item asks whether any is still pending: both read (job_id, status).
 */
export class SyncJobLifecycle1763942400000 implements MigrationInterface {
  name = 'SyncJobLifecycle1763942400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE sync_job
        ADD COLUMN tenant VARCHAR(64) NOT NULL DEFAULT '' AFTER id,
        ADD COLUMN cancelled INT NOT NULL DEFAULT 0 AFTER failed,
        ADD INDEX idx_sync_job_owner (tenant, user_id, created_at)`);
    await queryRunner.query(`
      ALTER TABLE sync_job_item
        MODIFY status TINYINT NOT NULL DEFAULT 0 COMMENT '0 pending, 1 succeeded, 2 failed, 3 cancelled',
        ADD INDEX idx_sync_job_item_status (job_id, status)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE sync_job_item
        DROP INDEX idx_sync_job_item_status,
        MODIFY status TINYINT NOT NULL DEFAULT 0 COMMENT '0 pending, 1 succeeded, 2 failed'`);
    await queryRunner.query('ALTER TABLE sync_job DROP INDEX idx_sync_job_owner, DROP COLUMN cancelled, DROP COLUMN tenant');
  }
}
