import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateApiToken1763856000100 implements MigrationInterface {
  name = 'CreateApiToken1763856000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE api_token (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        provider VARCHAR(64) NOT NULL,
        name VARCHAR(100) NOT NULL DEFAULT '',
        secret_encrypted VARCHAR(1024) NOT NULL,
        secret_mask VARCHAR(16) NOT NULL,
        status TINYINT NOT NULL DEFAULT 1 COMMENT '0 disabled, 1 active, 2 retired',
        deleted TINYINT NOT NULL DEFAULT 0,
        expire_time DATETIME NULL,
        daily_limit INT NOT NULL DEFAULT 0 COMMENT '0 = unlimited',
        daily_used INT NOT NULL DEFAULT 0,
        rate_limit_per_second INT NOT NULL DEFAULT 0 COMMENT '0 = unlimited',
        last_error VARCHAR(500) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        INDEX idx_api_token_provider_status (provider, status, deleted)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE api_token');
  }
}
