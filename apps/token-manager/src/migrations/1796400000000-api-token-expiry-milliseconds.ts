import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A token's expiry keeps the milliseconds it was given (RFC 3339 allows them, and the API answers
 * them): a `DATETIME` column dropped them, so a token expiring at 10:00:00.900 stopped granting at
 * 10:00:00.000. `down` drops them again.
 */
export class ApiTokenExpiryMilliseconds1796400000000 implements MigrationInterface {
  name = 'ApiTokenExpiryMilliseconds1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token MODIFY expire_time DATETIME(3) NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token MODIFY expire_time DATETIME NULL');
  }
}
