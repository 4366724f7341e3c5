import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The per-user limits (SPEC §6: 2 running, 30 accepted per minute), in the database so that they
 * hold over every publish replica and every gateway (never in a process's memory).
 *
 * - `publish_user_rate`: one row per user, locked while a submission counts that user's recent
 *   acceptances in `publish_accept` (a sliding window: a burst is cut at the limit however it
 *   falls across clock minutes) and records its own.
 * - `publish_run_slot`: the user's running slots; a task runs only once it holds one (it is
 *   stored `pending` until then), and a slot is free again when its task has ended. Admission
 *   locks the user's slot rows, so two replicas never hand one slot out twice.
 * - An index on the kit's `job (kind, status)`: the admission sweep finds waiting tasks without
 *   scanning every task.
 */
export class PublishUserLimits1765000000000 implements MigrationInterface {
  name = 'PublishUserLimits1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE publish_user_rate (
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        PRIMARY KEY (tenant, user_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE publish_accept (
        id BIGINT NOT NULL AUTO_INCREMENT,
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        accepted_at DATETIME(3) NOT NULL,
        reservation CHAR(36) NOT NULL COMMENT 'the submission that took it: given back if that submission is not stored',
        PRIMARY KEY (id),
        INDEX idx_publish_accept_user (tenant, user_id, accepted_at),
        INDEX idx_publish_accept_reservation (reservation)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE publish_run_slot (
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        slot SMALLINT NOT NULL,
        job_id CHAR(36) NULL COMMENT 'the task holding the slot; free once that task has ended',
        assigned_at DATETIME(3) NULL,
        PRIMARY KEY (tenant, user_id, slot)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query('CREATE INDEX idx_job_kind_status ON job (kind, status, created_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX idx_job_kind_status ON job');
    await queryRunner.query('DROP TABLE publish_run_slot');
    await queryRunner.query('DROP TABLE publish_accept');
    await queryRunner.query('DROP TABLE publish_user_rate');
  }
}
