import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { ensureDatabase, mysqlDataSourceOptions } from './data-source';
import { mysqlTestConfig } from './mysql-test-config';
import { PreparedEntityReader, preparedRows } from './prepared-reads';

@Entity({ name: 'sample' })
class SampleEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true }) id!: string;
  @Column({ name: 'owner_name', type: 'varchar', length: 64 }) ownerName!: string;
  @Column({ type: 'date' }) day!: string;
  @Column({ name: 'seen_at', type: 'datetime', precision: 3, nullable: true }) seenAt!: Date | null;
  @Column({ type: 'json', nullable: true }) plan!: { threads: number; names: string[] } | null;
  @Column({ type: 'tinyint' }) level!: number;
}

/**
 * Prepared reads hydrate exactly what TypeORM's own reads do, against the real MySQL (a fresh
 * database).
 */
describe('prepared reads', () => {
  const config = mysqlTestConfig();
  let dataSource: DataSource;

  beforeAll(async () => {
    await ensureDatabase(config);
    dataSource = new DataSource(mysqlDataSourceOptions(config, { entities: [SampleEntity], migrations: [] }));
    await dataSource.initialize();
    await dataSource.query(
      `CREATE TABLE sample (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, owner_name VARCHAR(64) NOT NULL, day DATE NOT NULL,
         seen_at DATETIME(3) NULL, plan JSON NULL, level TINYINT NOT NULL)`,
    );
    await dataSource.query(
      `INSERT INTO sample (owner_name, day, seen_at, plan, level) VALUES
         ('alice', '2026-03-02', '2026-03-02 10:11:12.345', '{"threads": 2, "names": ["a", "b"]}', 1),
         ('alice', '2026-03-03', NULL, NULL, 0),
         ('bob', '2026-03-04', '2026-03-04 00:00:00.000', '{"threads": 1, "names": []}', 2)`,
    );
  });
  afterAll(async () => {
    await dataSource?.query(`DROP DATABASE \`${config.DB_NAME}\``);
    await dataSource?.destroy();
  });

  it('reads entities equal to TypeORM find, as instances, in the order asked', async () => {
    const reader = new PreparedEntityReader(dataSource, SampleEntity);
    const viaTypeorm = await dataSource.getRepository(SampleEntity).find({ where: { ownerName: 'alice' }, order: { id: 'DESC' } });
    const prepared = await reader.find('WHERE owner_name = ? ORDER BY id DESC LIMIT ? OFFSET ?', ['alice', '10', '0']);
    expect(viaTypeorm).toHaveLength(2);
    expect(prepared).toEqual(viaTypeorm);
    expect(prepared[0]).toBeInstanceOf(SampleEntity);
    expect(prepared[1]).toMatchObject({ day: '2026-03-02', plan: { threads: 2, names: ['a', 'b'] }, level: 1 });
    expect(prepared[1]?.seenAt?.toISOString()).toBe('2026-03-02T10:11:12.345Z');
    // Again on the same connections: the statement is prepared already.
    expect(await reader.find('WHERE owner_name = ? ORDER BY id DESC LIMIT ? OFFSET ?', ['alice', '1', '1'])).toEqual([viaTypeorm[1]]);
    expect(await reader.find('WHERE owner_name = ?', ['nobody'])).toEqual([]);
  });

  it('answers plain rows for other statements (BIGINT as a string, as the pool is configured)', async () => {
    expect(await preparedRows<{ n: string }>(dataSource, 'SELECT COUNT(*) AS n FROM sample WHERE level >= ?', [1])).toEqual([{ n: '2' }]);
  });

  it('runs the same statement with the same parameters asked for in one turn once; any other read, and a failing one, apart', async () => {
    const pool = (dataSource.driver as unknown as { pool: { execute: (...args: unknown[]) => unknown } }).pool;
    const execute = jest.spyOn(pool, 'execute');
    try {
      const count = 'SELECT COUNT(*) AS n FROM sample WHERE owner_name = ?';
      const [alice1, bob, alice2, alice3, broken, alsoBroken, day] = await Promise.allSettled([
        preparedRows(dataSource, count, ['alice']),
        preparedRows(dataSource, count, ['bob']),
        preparedRows(dataSource, count, ['alice']),
        preparedRows(dataSource, count, ['alice']),
        preparedRows(dataSource, 'SELECT nothing FROM sample WHERE owner_name = ?', ['alice']),
        preparedRows(dataSource, 'SELECT nothing FROM sample WHERE owner_name = ?', ['alice']),
        // A Date parameter is never shared (its JSON would be a string's).
        preparedRows(dataSource, 'SELECT COUNT(*) AS n FROM sample WHERE day <= ?', [new Date('2026-03-03T12:00:00Z')]),
      ]);
      expect([alice1, alice2, alice3]).toEqual(Array(3).fill({ status: 'fulfilled', value: [{ n: '2' }] }));
      expect(bob).toEqual({ status: 'fulfilled', value: [{ n: '1' }] });
      expect(broken).toMatchObject({ status: 'rejected', reason: { code: 'ER_BAD_FIELD_ERROR' } });
      expect(alsoBroken).toMatchObject({ status: 'rejected', reason: { code: 'ER_BAD_FIELD_ERROR' } });
      expect(day).toMatchObject({ status: 'fulfilled' });
      // alice's count once, bob's, the broken statement once, the dated one.
      expect(execute).toHaveBeenCalledTimes(4);

      // A row written before a read is asked for is in its answer, though the same read ran before.
      await dataSource.query("INSERT INTO sample (owner_name, day, level) VALUES ('bob', '2026-03-05', 1)");
      const [again, once] = await Promise.all([preparedRows(dataSource, count, ['bob']), preparedRows(dataSource, count, ['bob'])]);
      expect(again).toEqual([{ n: '2' }]);
      expect(once).toBe(again);
      expect(execute).toHaveBeenCalledTimes(5);
    } finally {
      execute.mockRestore();
    }
  });
});
