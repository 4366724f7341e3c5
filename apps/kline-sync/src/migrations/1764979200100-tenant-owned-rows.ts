import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stocks, failures and stored bars belong to a tenant (SPEC §2.7), like jobs already do: one
 * tenant's import never changes what another's jobs pull, and bars pulled with a tenant's tokens
 * (its provider licence) are that tenant's.
 *
 * Existing rows keep what their tenants had, where the jobs tell whose they were: a stock goes to
 * every tenant whose jobs pulled it, a failure to the tenant of the job that failed it, and bars
 * to every tenant whose jobs pulled that stock and bar type successfully. Whatever no job claims
 * stays with tenant '' — a tenant no caller can name (the service refuses an empty one). New rows
 * must name their tenant: the columns have no default once the existing rows are filled.
 *
 * stk_sync_failure keeps the seed's table options (the server's default collation); its tenant
 * column uses the collation of every other tenant column, so tenants compare across tables.
 */
export class TenantOwnedRows1764979200100 implements MigrationInterface {
  name = 'TenantOwnedRows1764979200100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE stock_info
        ADD COLUMN tenant VARCHAR(64) NOT NULL DEFAULT '' AFTER id,
        DROP INDEX uq_stock_market_code,
        ADD UNIQUE KEY uq_stock_tenant_market_code (tenant, market, stock_code)`);
    await queryRunner.query(`
      INSERT INTO stock_info (tenant, stock_code, market, name, deleted)
      SELECT DISTINCT j.tenant, s.stock_code, s.market, s.name, s.deleted
        FROM stock_info s
        JOIN sync_job_item i ON i.market = s.market AND i.stock_code = s.stock_code
        JOIN sync_job j ON j.id = i.job_id
       WHERE s.tenant = '' AND j.tenant <> ''`);

    await queryRunner.query(`
      ALTER TABLE stk_sync_failure
        ADD COLUMN tenant VARCHAR(64) COLLATE utf8mb4_unicode_ci NOT NULL DEFAULT '' AFTER id,
        ADD INDEX idx_tenant_status_create_time (tenant, status, create_time)`);
    await queryRunner.query(`
      UPDATE stk_sync_failure f
         SET f.tenant = COALESCE((
               SELECT j.tenant FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id
                WHERE i.stock_code = f.stock_code COLLATE utf8mb4_unicode_ci AND j.start_date = f.start_date AND j.end_date = f.end_date
                ORDER BY i.finished_at DESC LIMIT 1), '')`);

    await queryRunner.query(`
      ALTER TABLE kline_bar
        ADD COLUMN tenant VARCHAR(64) NOT NULL DEFAULT '' FIRST,
        DROP PRIMARY KEY,
        ADD PRIMARY KEY (tenant, market, stock_code, k_type, t)`);
    await queryRunner.query(`
      INSERT INTO kline_bar (tenant, market, stock_code, k_type, t, o, h, l, c, v, tu)
      SELECT owner.tenant, b.market, b.stock_code, b.k_type, b.t, b.o, b.h, b.l, b.c, b.v, b.tu
        FROM kline_bar b
        JOIN (SELECT DISTINCT j.tenant, i.market, i.stock_code, j.k_type
                FROM sync_job_item i JOIN sync_job j ON j.id = i.job_id
               WHERE i.status = 1 AND j.tenant <> '') owner
          ON owner.market = b.market AND owner.stock_code = b.stock_code AND owner.k_type = b.k_type
       WHERE b.tenant = ''`);

    for (const table of ['stock_info', 'stk_sync_failure', 'kline_bar']) {
      await queryRunner.query(`ALTER TABLE ${table} ALTER COLUMN tenant DROP DEFAULT`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Back to one shared row per key: the tenants' copies are dropped, the unclaimed rows kept.
    await queryRunner.query("DELETE FROM kline_bar WHERE tenant <> ''");
    await queryRunner.query('ALTER TABLE kline_bar DROP PRIMARY KEY, ADD PRIMARY KEY (market, stock_code, k_type, t), DROP COLUMN tenant');
    await queryRunner.query('ALTER TABLE stk_sync_failure DROP INDEX idx_tenant_status_create_time, DROP COLUMN tenant');
    await queryRunner.query("DELETE FROM stock_info WHERE tenant <> ''");
    await queryRunner.query(
      'ALTER TABLE stock_info DROP INDEX uq_stock_tenant_market_code, ADD UNIQUE KEY uq_stock_market_code (market, stock_code), DROP COLUMN tenant',
    );
  }
}
