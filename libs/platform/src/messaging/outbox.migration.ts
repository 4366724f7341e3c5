import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The outbox table; every service that publishes events lists this migration with its own. */
export class CreateOutboxEvent1763856000000 implements MigrationInterface {
  name = 'CreateOutboxEvent1763856000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE outbox_event (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        event_id CHAR(36) NOT NULL,
        subject VARCHAR(200) NOT NULL,
        payload MEDIUMTEXT NOT NULL,
        request_id VARCHAR(128) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        published_at DATETIME(3) NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_outbox_event_id (event_id),
        INDEX idx_outbox_unpublished (published_at, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE outbox_event');
  }
}
