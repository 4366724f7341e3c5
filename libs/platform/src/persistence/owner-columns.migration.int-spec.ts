import { DataSource } from 'typeorm';
import { ensureDatabase, mysqlDataSourceOptions } from './data-source';
import { mysqlTestConfig } from './mysql-test-config';
import { BinaryOwnerColumns1796300000000 } from './owner-columns.migration';

/**
 * The owner columns of whatever tables a service has become byte-for-byte, keeping each column's
 * type, nullability, default and comment (and the keys they are part of), against the real MySQL.
 */
describe('BinaryOwnerColumns migration', () => {
  const config = mysqlTestConfig();
  let dataSource: DataSource;

  /** Runs a migration step as TypeORM does, on a query runner of its own (released after it). */
  const run = async (step: 'up' | 'down') => {
    const queryRunner = dataSource.createQueryRunner();
    try {
      await new BinaryOwnerColumns1796300000000()[step](queryRunner);
    } finally {
      await queryRunner.release();
    }
  };
  const columns = () =>
    dataSource.query(
      `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS columnName, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS defaultValue, COLUMN_COMMENT AS comment, COLLATION_NAME AS collation
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME IN ('tenant', 'user_id', 'name') ORDER BY 1, 2`,
    ) as Promise<Array<Record<string, string | null>>>;

  beforeAll(async () => {
    await ensureDatabase(config);
    dataSource = new DataSource(mysqlDataSourceOptions(config, { entities: [], migrations: [] }));
    await dataSource.initialize();
    await dataSource.query(
      `CREATE TABLE owned (id INT PRIMARY KEY, tenant VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'the owner''s tenant',
         user_id VARCHAR(128) NULL, name VARCHAR(32) NOT NULL, UNIQUE KEY uq_owned (tenant, name))`,
    );
    await dataSource.query(`CREATE TABLE keyed (tenant VARCHAR(64) NOT NULL, code VARCHAR(16) NOT NULL, PRIMARY KEY (tenant, code))`);
    await dataSource.query(`INSERT INTO owned (id, tenant, user_id, name) VALUES (1, 'acme', 'bob', 'x')`);
  });
  afterAll(async () => {
    await dataSource?.query(`DROP DATABASE \`${config.DB_NAME}\``);
    await dataSource?.destroy();
  });

  it('makes tenant and user_id of every table compare byte for byte and keeps the rest of their definition; down undoes it', async () => {
    const before = await columns();
    expect(await dataSource.query(`SELECT id FROM owned WHERE tenant = 'ACME' AND user_id = 'Bob'`)).toHaveLength(1);

    await run('up');

    const after = await columns();
    const binary = (column: Record<string, string | null>) => ({ ...column, collation: column['columnName'] === 'name' ? column['collation'] : 'utf8mb4_bin' });
    expect(after).toEqual(before.map(binary));
    expect(after.filter((c) => c['columnName'] !== 'name').map((c) => c['collation'])).toEqual(['utf8mb4_bin', 'utf8mb4_bin', 'utf8mb4_bin']);
    expect(await dataSource.query(`SELECT id FROM owned WHERE tenant = 'ACME' AND user_id = 'Bob'`)).toHaveLength(0);
    expect(await dataSource.query(`SELECT id FROM owned WHERE tenant = 'acme' AND user_id = 'bob'`)).toHaveLength(1);
    // Two tenants that differ only in case are two owners of the same name and the same key.
    await dataSource.query(`INSERT INTO owned (id, tenant, user_id, name) VALUES (2, 'ACME', 'bob', 'x')`);
    await dataSource.query(`INSERT INTO keyed (tenant, code) VALUES ('acme', 'A'), ('ACME', 'A')`);

    await dataSource.query(`DELETE FROM owned WHERE id = 2`);
    await dataSource.query(`DELETE FROM keyed WHERE tenant = 'ACME'`);
    await run('down');
    expect(await columns()).toEqual(before);
  });
});
