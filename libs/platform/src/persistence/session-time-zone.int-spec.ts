import type { DataSource } from 'typeorm';
import { openDataSource } from './data-source';
import { dropTestDatabase, mysqlTestConfig } from './mysql-test-config';
import { preparedRows } from './prepared-reads';

/**
 * Every connection a service's pool hands out is in UTC, whatever the server's own zone is, so
 * that `NOW()` and `CURRENT_TIMESTAMP` defaults agree with the dates mysql2 writes as UTC. On this
 * machine the server runs in UTC too, so the session variable itself is what is checked: unset,
 * it reads SYSTEM.
 */
describe('MySQL session time zone', () => {
  const POOL_SIZE = 6;
  const config = mysqlTestConfig({ DB_POOL_SIZE: POOL_SIZE });
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await openDataSource(config, { entities: [], migrations: [] });
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await dropTestDatabase(config);
  });

  type Session = { id: number | string; zone: string };
  const SESSION = 'SELECT CONNECTION_ID() AS id, @@session.time_zone AS zone, SLEEP(0.1) AS slept';

  it('sets UTC on every connection of the pool, the one TypeORM opened at start-up included', async () => {
    // As many queries at once as the pool holds, so that each runs on a connection of its own.
    const sessions = await Promise.all(Array.from({ length: POOL_SIZE }, () => dataSource.query<Session[]>(SESSION).then((rows) => rows[0] as Session)));
    expect(new Set(sessions.map((s) => Number(s.id))).size).toBe(POOL_SIZE);
    expect(sessions.map((s) => s.zone)).toEqual(Array(POOL_SIZE).fill('+00:00'));
  });

  it('sets UTC for prepared statements and transactions too', async () => {
    const prepared = await Promise.all(Array.from({ length: POOL_SIZE }, () => preparedRows<Session>(dataSource, SESSION, []).then((rows) => rows[0] as Session)));
    expect(prepared.map((s) => s.zone)).toEqual(Array(POOL_SIZE).fill('+00:00'));
    const inTransaction = await dataSource.transaction((manager) => manager.query<Session[]>(SESSION));
    expect(inTransaction[0]?.zone).toBe('+00:00');
  });

  it('reads NOW() back as the current instant', async () => {
    const [row] = await dataSource.query<Array<{ now: Date }>>('SELECT NOW(3) AS now');
    expect(row?.now).toBeInstanceOf(Date);
    expect(Math.abs((row?.now.getTime() ?? 0) - Date.now())).toBeLessThan(5_000);
  });
});
