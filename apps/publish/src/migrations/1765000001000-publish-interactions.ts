import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Seed 002's interaction counts of published articles: the latest fetched counts per task (one
 * row each, replaced by every fetch), owned by the task's tenant and user.
 */
export class PublishInteractions1765000001000 implements MigrationInterface {
  name = 'PublishInteractions1765000001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE publish_interactions (
        task_id CHAR(36) NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        platform_article_id VARCHAR(191) NOT NULL,
        likes INT NOT NULL,
        comments INT NOT NULL,
        shares INT NOT NULL,
        fetched_at DATETIME(3) NOT NULL,
        PRIMARY KEY (task_id),
        INDEX idx_publish_interactions_owner (tenant, user_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE publish_interactions');
  }
}
