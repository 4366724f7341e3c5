import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The next free call slot of a token under its rate limit, shared by every caller. */
export class AddApiTokenNextCallAt1763856000300 implements MigrationInterface {
  name = 'AddApiTokenNextCallAt1763856000300';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token ADD COLUMN next_call_at DATETIME(6) NULL AFTER rate_limit_per_second');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token DROP COLUMN next_call_at');
  }
}
