import type { DataSource } from 'typeorm';
import { openDataSource } from './data-source';
import { isoTimestampSql } from './iso-timestamp';
import { dropTestDatabase, mysqlTestConfig } from './mysql-test-config';
import { preparedRows } from './prepared-reads';

/** A DATETIME(3) read through isoTimestampSql is what toISOString gives for the Date that was written. */
describe('isoTimestampSql', () => {
  const config = mysqlTestConfig();
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await openDataSource(config, { entities: [], migrations: [] });
    await dataSource.query('CREATE TABLE stamped (id INT PRIMARY KEY, at DATETIME(3) NULL)');
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await dropTestDatabase(config);
  });

  it('formats each written instant as toISOString does, to the millisecond, and NULL as NULL', async () => {
    const instants = [
      new Date('2026-12-02T10:00:00.123Z'),
      new Date('2030-01-01T10:00:00.900Z'),
      new Date('2026-01-09T03:04:05.007Z'),
      new Date('2026-06-30T23:59:59.999Z'),
      new Date('2027-02-28T00:00:00.000Z'),
    ];
    await dataSource.query(`INSERT INTO stamped (id, at) VALUES ${instants.map(() => '(?, ?)').join(', ')}, (?, NULL)`, [
      ...instants.flatMap((at, id) => [id, at]),
      instants.length,
    ]);
    const rows = await preparedRows<{ id: number; at: string | null }>(dataSource, `SELECT id, ${isoTimestampSql('at')} AS at FROM stamped ORDER BY id`, []);
    expect(rows.map((row) => row.at)).toEqual([...instants.map((at) => at.toISOString()), null]);
  });
});
