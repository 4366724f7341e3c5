import { createHash } from 'node:crypto';
import { DataSource, type MigrationInterface } from 'typeorm';
import { ensureDatabase, mysqlDataSourceOptions } from '../persistence/data-source';
import { mysqlTestConfig } from '../persistence/mysql-test-config';
import { HashedDedupeKeys1796400000000 } from './dedupe-key.migration';
import { DropJobItemStatusIndex1765238400000 } from './job-item-index.migration';
import { CreateJobTables1764547200000 } from './job.migration';
import { JobWriteCosts1765324800000 } from './job-write-costs.migration';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Open jobs keep their dedupe keys across the migration, as the digests the store now writes, against the real MySQL. */
describe('HashedDedupeKeys migration', () => {
  const config = mysqlTestConfig();
  let dataSource: DataSource;

  /** Runs a migration step as TypeORM does, on a query runner of its own (released after it). */
  const run = async (migration: MigrationInterface, step: 'up' | 'down') => {
    const queryRunner = dataSource.createQueryRunner();
    try {
      await migration[step](queryRunner);
    } finally {
      await queryRunner.release();
    }
  };
  const activeKeyColumn = async () =>
    ((await dataSource.query(
      `SELECT COLUMN_TYPE AS type, COLLATION_NAME AS collation FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'job' AND COLUMN_NAME = 'active_key'`,
    )) as Array<{ type: string; collation: string }>)[0];
  const insertJob = (id: string, status: string, activeKey: string | null) =>
    dataSource.query(`INSERT INTO job (id, kind, tenant, user_id, status, total, active_key) VALUES (?, 'persona', 'acme', 'bob', ?, 1, ?)`, [id, status, activeKey]);

  beforeAll(async () => {
    await ensureDatabase(config);
    dataSource = new DataSource(mysqlDataSourceOptions(config, { entities: [], migrations: [] }));
    await dataSource.initialize();
    for (const migration of [new CreateJobTables1764547200000(), new DropJobItemStatusIndex1765238400000(), new JobWriteCosts1765324800000()]) await run(migration, 'up');
  });
  afterAll(async () => {
    await dataSource?.query(`DROP DATABASE \`${config.DB_NAME}\``);
    await dataSource?.destroy();
  });

  it('replaces each open job\'s key by its SHA-256, as the store computes it, in a column compared byte for byte; down restores the column', async () => {
    const before = await activeKeyColumn();
    await insertJob('00000000-0000-4000-8000-000000000001', 'pending', 'Täsk-7/strategy');
    await insertJob('00000000-0000-4000-8000-000000000002', 'succeeded', null);

    await run(new HashedDedupeKeys1796400000000(), 'up');

    expect(await activeKeyColumn()).toEqual({ type: 'char(64)', collation: 'ascii_bin' });
    const rows = (await dataSource.query('SELECT id, active_key FROM job ORDER BY id')) as Array<{ id: string; active_key: string | null }>;
    expect(rows.map((row) => row.active_key)).toEqual([sha256('Täsk-7/strategy'), null]);
    // The key in another case is another key now: the unique key takes it beside the first.
    await insertJob('00000000-0000-4000-8000-000000000003', 'pending', sha256('täsk-7/strategy'));
    await dataSource.query(`DELETE FROM job WHERE id = '00000000-0000-4000-8000-000000000003'`);

    await run(new HashedDedupeKeys1796400000000(), 'down');
    expect(await activeKeyColumn()).toEqual(before);
  });
});
