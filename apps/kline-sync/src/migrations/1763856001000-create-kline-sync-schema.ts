import type { MigrationInterface, QueryRunner } from 'typeorm';

/** stock_info, kline_bar, sync_job, sync_job_item, and stk_sync_failure exactly as seed 004 defines it. */
export class CreateKlineSyncSchema1763856001000 implements MigrationInterface {
  name = 'CreateKlineSyncSchema1763856001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE stock_info (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        stock_code VARCHAR(20) NOT NULL,
        market VARCHAR(10) NOT NULL,
        name VARCHAR(100) NOT NULL DEFAULT '',
        deleted TINYINT NOT NULL DEFAULT 0,
        create_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        update_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uq_stock_market_code (market, stock_code),
        INDEX idx_stock_code (stock_code)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE kline_bar (
        market VARCHAR(10) NOT NULL,
        stock_code VARCHAR(20) NOT NULL,
        k_type TINYINT NOT NULL,
        t BIGINT NOT NULL COMMENT 'bar start, epoch ms',
        o DECIMAL(20,6) NOT NULL,
        h DECIMAL(20,6) NOT NULL,
        l DECIMAL(20,6) NOT NULL,
        c DECIMAL(20,6) NOT NULL,
        v DECIMAL(24,4) NOT NULL,
        tu DECIMAL(28,4) NOT NULL,
        update_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (market, stock_code, k_type, t)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE sync_job (
        id CHAR(36) NOT NULL,
        user_id VARCHAR(128) NOT NULL,
        market VARCHAR(10) NULL,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        k_type TINYINT NOT NULL,
        status VARCHAR(16) NOT NULL,
        plan JSON NULL,
        total INT NOT NULL DEFAULT 0,
        succeeded INT NOT NULL DEFAULT 0,
        failed INT NOT NULL DEFAULT 0,
        error_message VARCHAR(500) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        started_at DATETIME(3) NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (id),
        INDEX idx_sync_job_status (status, created_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE sync_job_item (
        job_id CHAR(36) NOT NULL,
        market VARCHAR(10) NOT NULL,
        stock_code VARCHAR(20) NOT NULL,
        status TINYINT NOT NULL DEFAULT 0 COMMENT '0 pending, 1 succeeded, 2 failed',
        attempts INT NOT NULL DEFAULT 0,
        error_message VARCHAR(500) NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (job_id, market, stock_code)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE stk_sync_failure (
        id BIGINT NOT NULL AUTO_INCREMENT COMMENT '主键ID',
        stock_code VARCHAR(20) NOT NULL COMMENT '股票代码',
        start_date DATE NOT NULL COMMENT '开始日期',
        end_date DATE NOT NULL COMMENT '结束日期',
        failure_reason VARCHAR(500) COMMENT '失败原因',
        retry_count INT DEFAULT 0 COMMENT '重试次数',
        status TINYINT DEFAULT 0 COMMENT '状态：0-待重试，1-重试成功，2-放弃重试',
        last_retry_time DATETIME COMMENT '最后重试时间',
        create_time DATETIME DEFAULT CURRENT_TIMESTAMP,
        update_time DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        PRIMARY KEY (id),
        INDEX idx_stock_code (stock_code),
        INDEX idx_status (status),
        INDEX idx_create_time (create_time)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='股票同步失败记录表'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['stk_sync_failure', 'sync_job_item', 'sync_job', 'kline_bar', 'stock_info']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
