import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * offline's own tables, beside the job kit's `job` / `job_item` (a batch is a job, a product an
 * item):
 * - `offline_session`: the conversation id and de-list tool id of each tenant (seller), fetched
 *   from the marketplace once and shared by every replica until `expires_at`;
 * - `offline_product`: one row per product a tenant has de-listed (or found offline at the
 *   marketplace), written in the transaction that records the item's outcome; its primary key
 *   is what makes a later batch report the product as offline instead of de-listing it again;
 * - `offline_batch`: what a batch learnt while running (the session it used, whether from the
 *   cache, the thread count the adaptive limit settled on), keyed by job id.
 */
export class CreateOfflineSchema1765152000000 implements MigrationInterface {
  name = 'CreateOfflineSchema1765152000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE offline_session (
        tenant VARCHAR(64) NOT NULL,
        parent_msg_id VARCHAR(100) NOT NULL,
        tool_id VARCHAR(100) NOT NULL,
        fetched_at DATETIME(3) NOT NULL,
        expires_at DATETIME(3) NOT NULL,
        PRIMARY KEY (tenant)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE offline_product (
        tenant VARCHAR(64) NOT NULL,
        product_id BIGINT NOT NULL,
        job_id CHAR(36) NOT NULL COMMENT 'the batch that de-listed it (or found it offline)',
        offline_msg_id VARCHAR(100) NOT NULL DEFAULT '',
        product_name VARCHAR(255) NOT NULL DEFAULT '',
        product_img VARCHAR(1024) NOT NULL DEFAULT '',
        offline_at DATETIME(3) NOT NULL,
        PRIMARY KEY (tenant, product_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE offline_batch (
        job_id CHAR(36) NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        parent_msg_id VARCHAR(100) NOT NULL,
        tool_id VARCHAR(100) NOT NULL,
        cache_used TINYINT(1) NOT NULL,
        threads_used INT NOT NULL DEFAULT 0 COMMENT 'adaptive batches: the limit it settled on',
        PRIMARY KEY (job_id),
        INDEX idx_offline_batch_owner (tenant, user_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE offline_batch');
    await queryRunner.query('DROP TABLE offline_product');
    await queryRunner.query('DROP TABLE offline_session');
  }
}
