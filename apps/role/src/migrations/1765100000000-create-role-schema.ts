import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The tenant and task of the demo profile, so `npm start` and a fresh `local` token can try the API. */
const DEMO_PROFILE = { tenant: 'local', taskId: 'demo-task' } as const;

/**
 * Seed 001's four sources of a persona (`base_info`, `talk_style`, `knowledge`, `product`, each
 * keyed by tenant and task), the personas created from them (`role`, one per task run), and the
 * notification record (`role_notification`) that keeps a recovered run from announcing twice.
 * Plus one demo profile.
 */
export class CreateRoleSchema1765100000000 implements MigrationInterface {
  name = 'CreateRoleSchema1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const table = (sql: string) =>
      queryRunner.query(`${sql} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await table(`
      CREATE TABLE base_info (
        tenant VARCHAR(64) NOT NULL,
        task_id VARCHAR(64) NOT NULL,
        name VARCHAR(100) NOT NULL,
        description TEXT NOT NULL,
        PRIMARY KEY (tenant, task_id)
      )`);
    await table(`
      CREATE TABLE talk_style (
        tenant VARCHAR(64) NOT NULL,
        task_id VARCHAR(64) NOT NULL,
        style TEXT NOT NULL,
        PRIMARY KEY (tenant, task_id)
      )`);
    await table(`
      CREATE TABLE knowledge (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        tenant VARCHAR(64) NOT NULL,
        task_id VARCHAR(64) NOT NULL,
        content TEXT NOT NULL,
        PRIMARY KEY (id),
        INDEX idx_knowledge_task (tenant, task_id)
      )`);
    await table(`
      CREATE TABLE product (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        tenant VARCHAR(64) NOT NULL,
        task_id VARCHAR(64) NOT NULL,
        name VARCHAR(200) NOT NULL,
        description TEXT NOT NULL,
        PRIMARY KEY (id),
        INDEX idx_product_task (tenant, task_id)
      )`);
    await table(`
      CREATE TABLE role (
        id CHAR(36) NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        request_id CHAR(36) NOT NULL COMMENT 'the persona task (job id) that created it',
        task_id VARCHAR(64) NOT NULL,
        strategy_id VARCHAR(64) NOT NULL,
        name VARCHAR(100) NOT NULL,
        persona MEDIUMTEXT NOT NULL,
        model VARCHAR(200) NOT NULL,
        prompt_tokens INT NOT NULL DEFAULT 0,
        completion_tokens INT NOT NULL DEFAULT 0,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uq_role_request (request_id),
        INDEX idx_role_tenant (tenant, created_at)
      )`);
    await table(`
      CREATE TABLE role_notification (
        request_id CHAR(36) NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        role_id CHAR(36) NOT NULL,
        attempts INT NOT NULL,
        delivered_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (request_id)
      )`);
    const { tenant, taskId } = DEMO_PROFILE;
    await queryRunner.query(
      'INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)',
      [tenant, taskId, '小安', 'A-share market commentator for retail investors; ten years at a brokerage research desk'],
    );
    await queryRunner.query('INSERT INTO talk_style (tenant, task_id, style) VALUES (?, ?, ?)', [
      tenant,
      taskId,
      'Plain words, short sentences, one concrete number per claim, never promises returns',
    ]);
    for (const content of [
      'Reads daily K-lines with volume; explains support and resistance levels',
      'Follows the banking and new-energy sectors',
    ]) {
      await queryRunner.query('INSERT INTO knowledge (tenant, task_id, content) VALUES (?, ?, ?)', [tenant, taskId, content]);
    }
    await queryRunner.query('INSERT INTO product (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', [
      tenant,
      taskId,
      'Daily market brief',
      'A five-minute read before the open: overnight moves, sectors to watch, one stock idea',
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['role_notification', 'role', 'product', 'knowledge', 'talk_style', 'base_info']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
