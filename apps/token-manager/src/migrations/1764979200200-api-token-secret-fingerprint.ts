import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A tenant stores a provider's secret once: `secret_hash` is a keyed hash of the secret (see
 * SecretCipher.fingerprint), and `live_secret_hash` — the hash while the token is not deleted —
 * is unique per tenant and provider, so a deleted token's secret can be stored again. Rows from
 * before have no hash (it needs the key, which SQL does not have); token-manager fills it in at
 * start (TokensService.fingerprintLegacyRows). VARCHAR, not CHAR: MariaDB refuses a stored
 * generated column over a CHAR (its value would depend on the PAD_CHAR_TO_FULL_LENGTH mode).
 *
 * Masks showed a secret's first two characters; they now show at most its last four. Old masks
 * keep their last two characters (all the start is dropped) until the start-up pass writes the
 * new mask from the secret.
 */
export class ApiTokenSecretFingerprint1764979200200 implements MigrationInterface {
  name = 'ApiTokenSecretFingerprint1764979200200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_token
        ADD COLUMN secret_hash VARCHAR(64) NULL AFTER secret_mask,
        ADD COLUMN live_secret_hash VARCHAR(64) AS (IF(deleted = 0, secret_hash, NULL)) STORED AFTER secret_hash,
        ADD UNIQUE KEY uq_api_token_live_secret (tenant, provider, live_secret_hash)`);
    await queryRunner.query(
      "UPDATE api_token SET secret_mask = IF(CHAR_LENGTH(secret_mask) = 10, CONCAT('…', RIGHT(secret_mask, 2)), '…')",
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE api_token DROP INDEX uq_api_token_live_secret, DROP COLUMN live_secret_hash, DROP COLUMN secret_hash');
  }
}
