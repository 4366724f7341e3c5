import { createConnection, type Connection } from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { openDataSource } from './data-source';
import { mysqlTestConfig } from './mysql-test-config';

/**
 * A service's pool is open before its first request: the first requests after a deploy do not
 * each wait for a connection's handshake. Counted on the real MySQL's process list.
 */
describe('MySQL pool warm-up', () => {
  let admin: Connection;
  const opened: Array<{ dataSource: DataSource; database: string }> = [];

  beforeAll(async () => {
    const config = mysqlTestConfig();
    admin = await createConnection({ host: config.DB_HOST, port: config.DB_PORT, user: config.DB_USER, password: config.DB_PASSWORD });
  });
  afterAll(async () => {
    for (const { dataSource, database } of opened) {
      await dataSource.destroy();
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
    }
    await admin.end();
  });

  const connectionsTo = async (database: string) => {
    const [rows] = await admin.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?', [database]);
    return Number((rows as Array<{ n: number }>)[0]?.n);
  };
  const open = async (poolSize: number) => {
    const config = mysqlTestConfig({ DB_POOL_SIZE: poolSize });
    const dataSource = await openDataSource(config, { entities: [], migrations: [] });
    opened.push({ dataSource, database: config.DB_NAME });
    return { dataSource, database: config.DB_NAME };
  };

  it('opens four connections before the first query, and keeps them for the queries that follow', async () => {
    const { dataSource, database } = await open(10);
    expect(await connectionsTo(database)).toBe(4);
    await Promise.all(Array.from({ length: 4 }, () => dataSource.query('SELECT SLEEP(0.05)')));
    expect(await connectionsTo(database)).toBe(4);
  });

  it('opens no more than the pool holds', async () => {
    const { database } = await open(2);
    expect(await connectionsTo(database)).toBe(2);
  });
});
