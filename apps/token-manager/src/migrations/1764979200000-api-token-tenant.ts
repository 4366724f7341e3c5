import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every token belongs to a tenant (SPEC §2.7): a token pool is one tenant's tokens of one
 * provider. Tokens stored before this have tenant '' — a tenant no caller can name (the service
 * refuses an empty one), so they serve nobody until an operator gives them to their tenant
 * (`UPDATE api_token SET tenant = '<tenant>' WHERE tenant = ''`). New rows must name their tenant:
 * the column has no default once the existing rows are filled.
 */
export class ApiTokenTenant1764979200000 implements MigrationInterface {
  name = 'ApiTokenTenant1764979200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_token
        ADD COLUMN tenant VARCHAR(64) NOT NULL DEFAULT '' AFTER id,
        DROP INDEX idx_api_token_provider_status,
        ADD INDEX idx_api_token_pool (tenant, provider, status, deleted)`);
    await queryRunner.query('ALTER TABLE api_token ALTER COLUMN tenant DROP DEFAULT');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_token
        DROP INDEX idx_api_token_pool,
        ADD INDEX idx_api_token_provider_status (provider, status, deleted),
        DROP COLUMN tenant`);
  }
}
