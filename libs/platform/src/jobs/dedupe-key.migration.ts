import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `job.active_key` holds the SHA-256 (hex) of an open job's dedupe key instead of the key.
 *
 * Why: the column compared keys in utf8mb4_unicode_ci, so `Task-7` and `task-7` (or `task-7 `)
 * were one key to the unique index `uq_job_active` and two to everything else; a second job for
 * such a key was refused although no open job had it. Its 191 characters also limited the key.
 * The digest is 64 ASCII characters whatever the key's length, compared byte for byte, with the
 * same SQL on MySQL and MariaDB (`SHA2` hashes the key's UTF-8 bytes, as the store does).
 *
 * Every service that lists JobWriteCosts1765324800000 lists this too.
 */
export class HashedDedupeKeys1796400000000 implements MigrationInterface {
  name = 'HashedDedupeKeys1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('UPDATE job SET active_key = SHA2(active_key, 256) WHERE active_key IS NOT NULL');
    await queryRunner.query(
      "ALTER TABLE job MODIFY active_key CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'SHA-256 (hex) of the dedupe key while the job is open; NULL once it ends'",
    );
  }

  /** Open jobs keep their digests: a key submitted again after the rollback no longer finds them. */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      "ALTER TABLE job MODIFY active_key VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL COMMENT 'dedupe key while the job is open; NULL once it ends'",
    );
  }
}
