import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops `idx_job_item_status (job_id, status)`: the primary key `(job_id, seq)` already leads with
 * the job, and every read and write by status is within one job (`items()` with a status,
 * cancel, retry, release), so the index only cost writes: each item's state change rewrote its
 * entry (a delete-mark and an insert, purged later), ~40% of MariaDB's CPU per item update in
 * bench/jobs. Every service that lists CreateJobTables1764547200000 lists this after it.
 */
export class DropJobItemStatusIndex1765238400000 implements MigrationInterface {
  name = 'DropJobItemStatusIndex1765238400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE job_item DROP INDEX idx_job_item_status');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE job_item ADD INDEX idx_job_item_status (job_id, status)');
  }
}
