import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A tenant's token list (`WHERE tenant = ? AND deleted = 0 ORDER BY id DESC LIMIT ?`, and its
 * count) reads this index in order and stops at the page, instead of sorting all of the tenant's
 * rows found through idx_api_token_pool for every page.
 */
export class ApiTokenListIndex1796140000000 implements MigrationInterface {
  name = 'ApiTokenListIndex1796140000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token ADD INDEX idx_api_token_list (tenant, deleted, id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token DROP INDEX idx_api_token_list');
  }
}
