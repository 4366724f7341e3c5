import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two changes that cut what every job state change costs MariaDB (bench/jobs/README.md):
 *
 * - `job.id` and `job_item.job_id` in ascii (case-insensitive, as before): the ids are the kit's
 *   UUIDs, and every write of the workers finds its rows by them (the locking read, the items'
 *   and the jobs' UPDATEs, their WHERE and CASE over the group's keys). In utf8mb4_unicode_ci a
 *   CHAR(36) key is 144 bytes compared through the Unicode collation; in ascii 36 bytes compared
 *   by a table. MariaDB refuses to compare an ascii column with a string it cannot convert
 *   (non-ASCII: "Illegal mix of collations"), so the store answers such an id as not found
 *   without asking MySQL; a service's own column joined with these ids may stay utf8mb4 (the
 *   ascii side is converted), though a join driven from it then cannot use the job's key.
 * - The owner's status index on `list_status`, the status with `running` folded into `queued`
 *   (a stored generated column, so it always agrees with `status`): the claim that starts a job
 *   (queued → running) no longer rewrites the job's entry (a delete-mark and an insert in
 *   another index); its end still does, once. `JobStore.list` filters by both columns: the index
 *   range by `list_status`, then `status` (a list of running jobs reads the owner's queued ones
 *   too: open jobs, not the history).
 *
 * Every service that lists CreateJobTables1764547200000 lists this after it.
 */
export class JobWriteCosts1765324800000 implements MigrationInterface {
  name = 'JobWriteCosts1765324800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE job
        MODIFY id CHAR(36) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
        ADD COLUMN list_status VARCHAR(16) AS (IF(status = 'running', 'queued', status)) STORED
          COMMENT 'status with running folded into queued: JobStore.list filters by it through idx_job_owner_list_status' AFTER status,
        DROP INDEX idx_job_owner_status,
        ADD INDEX idx_job_owner_list_status (tenant, user_id, kind, list_status, created_at)`);
    await queryRunner.query(
      'ALTER TABLE job_item MODIFY job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE job_item MODIFY job_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL',
    );
    await queryRunner.query(`
      ALTER TABLE job
        DROP INDEX idx_job_owner_list_status,
        DROP COLUMN list_status,
        ADD INDEX idx_job_owner_status (tenant, user_id, kind, status, created_at),
        MODIFY id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`);
  }
}
