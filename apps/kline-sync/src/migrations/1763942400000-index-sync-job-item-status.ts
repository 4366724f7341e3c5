import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A running job's progress is counted from its items, and every finished item asks whether any is
 * still pending: both read (job_id, status) instead of scanning the job's items.
 */
export class IndexSyncJobItemStatus1763942400000 implements MigrationInterface {
  name = 'IndexSyncJobItemStatus1763942400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX idx_sync_job_item_status ON sync_job_item (job_id, status)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX idx_sync_job_item_status ON sync_job_item');
  }
}
