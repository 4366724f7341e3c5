import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The quota day `daily_used` counts; an older day means zero used (lazy daily reset). */
export class AddApiTokenUsageDay1763856000200 implements MigrationInterface {
  name = 'AddApiTokenUsageDay1763856000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token ADD COLUMN usage_day DATE NULL AFTER daily_used');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token DROP COLUMN usage_day');
  }
}
