import type { DataSource } from 'typeorm';
import { isDependencyUnreachable } from '../errors';
import { openDataSource } from './data-source';
import { dropTestDatabase, mysqlTestConfig } from './mysql-test-config';
import { preparedRows } from './prepared-reads';

/**
 * A MySQL that does not answer cannot hold a caller: every query has a timeout, the wait for a
 * pool connection too, and both failures say "dependency unavailable" (503 upstream). Against
 * the real MySQL, with `SELECT SLEEP` standing in for a server that stopped answering.
 */
describe('MySQL pool bounds', () => {
  // Bounds far apart, so a busy machine (other suites on the same MySQL) cannot blur them.
  const config = mysqlTestConfig({ DB_POOL_SIZE: 1, DB_QUERY_TIMEOUT_MS: 1_500, DB_ACQUIRE_TIMEOUT_MS: 150 });
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await openDataSource(config, { entities: [], migrations: [] });
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await dropTestDatabase(config);
  });

  const failureOf = async (work: Promise<unknown>) => {
    const startedAt = Date.now();
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, ms: Date.now() - startedAt };
  };

  it('fails a query MySQL does not answer in DB_QUERY_TIMEOUT_MS, through TypeORM and prepared', async () => {
    for (const query of [() => dataSource.query('SELECT SLEEP(6)'), () => preparedRows(dataSource, 'SELECT SLEEP(?)', [6])]) {
      const { error, ms } = await failureOf(query());
      expect(error).toBeDefined();
      expect(isDependencyUnreachable(error)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(1_400);
      expect(ms).toBeLessThan(5_000); // long before MySQL would have answered
    }
    // The pool serves again once MySQL answers.
    expect(await dataSource.query('SELECT 1 AS one')).toHaveLength(1);
  });

  it('fails a statement already prepared on the connection in DB_QUERY_TIMEOUT_MS too', async () => {
    // One connection: the second run finds the statement prepared and only executes it.
    expect(await preparedRows(dataSource, 'SELECT SLEEP(?) AS slept', [0])).toHaveLength(1);
    const { error, ms } = await failureOf(preparedRows(dataSource, 'SELECT SLEEP(?) AS slept', [6]));
    expect(isDependencyUnreachable(error)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(1_400);
    expect(ms).toBeLessThan(5_000);
    expect(await preparedRows(dataSource, 'SELECT SLEEP(?) AS slept', [0])).toHaveLength(1);
  });

  it('fails a query that waits DB_ACQUIRE_TIMEOUT_MS for a connection, and hands the late connection back', async () => {
    // The only connection is busy for 1 s (within the query timeout).
    const holder = dataSource.query('SELECT SLEEP(1) AS slept');
    const { error, ms } = await failureOf(dataSource.query('SELECT 2 AS two'));
    expect(error).toMatchObject({ code: 'ETIMEDOUT' });
    expect(isDependencyUnreachable(error)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(1_000); // it did not wait for the connection to come free
    expect(await holder).toHaveLength(1);
    // The connection the abandoned caller would have got went back to the pool.
    expect(await dataSource.query('SELECT 3 AS three')).toHaveLength(1);
  });
});
