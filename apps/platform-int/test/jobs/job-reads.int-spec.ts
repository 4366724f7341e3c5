import { createTestDatabase, type TestDatabase } from '@batchgate/testing';
import type { JobAttachment, JobOwner } from '@batchgate/platform/jobs';
import { deleteStreams, kitEnvironment, openKit, type KitProcess } from './job-kit.harness';

interface Mysql2Pool {
  execute: (options: { sql: string }, values: unknown[], callback: (error: Error | null, rows: unknown) => void) => void;
}

/**
 * The job store's reads by id asked for together, against the real MySQL: one statement for the
 * reads of one event-loop turn (counted at the pool, where each statement is sent), each read
 * still answered with its own owner's job only.
 */
describe('job store: reads by id asked for together', () => {
  let database: TestDatabase;
  let kit: KitProcess;
  let statements: string[];
  const alice: JobOwner = { tenant: 'acme', userId: 'alice' };
  const bob: JobOwner = { tenant: 'acme', userId: 'bob' };
  const carol: JobOwner = { tenant: 'other', userId: 'carol' };
  const notes: JobAttachment = { table: 'job_note', columns: ['note'] };

  beforeAll(async () => {
    database = await createTestDatabase('jobreads');
    kit = await openKit(kitEnvironment(database));
    await kit.dataSource.query(
      `CREATE TABLE job_note (job_id CHAR(36) NOT NULL, tenant VARCHAR(64) NOT NULL, user_id VARCHAR(128) NOT NULL, note VARCHAR(64) NOT NULL,
         PRIMARY KEY (job_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
  });
  afterAll(async () => {
    await kit?.close();
    const nats = await import('nats').then(({ connect }) => connect({ servers: 'nats://127.0.0.1:4222' }));
    if (kit) await deleteStreams(nats, kit.store.kind.service);
    await nats.close();
    await database?.drop();
  });

  let restore: (() => void) | undefined;
  beforeEach(() => {
    // Every statement the pool sends, as it is sent (the transactions' queries go elsewhere).
    const pool = (kit.dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
    const execute = pool.execute;
    statements = [];
    pool.execute = function (this: Mysql2Pool, options, values, callback) {
      statements.push(options.sql);
      return execute.call(this, options, values, callback);
    };
    restore = () => {
      pool.execute = execute;
    };
  });
  afterEach(() => restore?.());

  const submit = (owner: JobOwner, label: string) =>
    kit.store.submit(owner, { params: { label }, items: [{ payload: { value: 1 } }], hold: true });

  it("answers each read of one turn with its own owner's job, in one statement; a foreign, unknown or differently cased id as one read alone would", async () => {
    const [a1, a2, a3, b1, b2, c1] = await Promise.all([
      submit(alice, 'a1'),
      submit(alice, 'a2'),
      submit(alice, 'a3'),
      submit(bob, 'b1'),
      submit(bob, 'b2'),
      submit(carol, 'c1'),
    ]);
    const asked: Array<[JobOwner, string]> = [
      [alice, a1.id],
      [bob, b1.id],
      [alice, a2.id],
      [carol, c1.id],
      [alice, a1.id],
      [bob, b2.id],
      [alice, a3.id],
      [alice, a1.id],
    ];
    statements = [];
    const read = await Promise.all(asked.map(([owner, id]) => kit.store.find(owner, id)));
    expect(read).toEqual(asked.map(([owner, id]) => expect.objectContaining({ id, owner })));
    expect(read.map((job) => job?.params.label)).toEqual(['a1', 'b1', 'a2', 'c1', 'a1', 'b2', 'a3', 'a1']);
    // Eight reads of six jobs: one statement.
    expect(statements).toHaveLength(1);
    expect(statements[0]?.match(/j\.id = \?/g)).toHaveLength(8);

    // Another owner's id, an unknown one and one in capitals among the reads of a turn.
    statements = [];
    const mixed = await Promise.all([
      kit.store.find(alice, a1.id),
      kit.store.find(bob, a1.id),
      kit.store.find(carol, b1.id),
      kit.store.find(alice, '00000000-0000-0000-0000-000000000000'),
      kit.store.find(bob, b2.id.toUpperCase()),
      kit.store.find({ tenant: 'other', userId: 'alice' }, a2.id),
    ]);
    expect(mixed.map((job) => job?.id)).toEqual([a1.id, undefined, undefined, undefined, b2.id, undefined]);
    // The batch, then each key whose row it did not hold as asked, alone.
    expect(statements).toHaveLength(1 + 5);
    await expect(kit.store.get(bob, a1.id)).rejects.toMatchObject({ kind: 'not_found', code: 'TEST.JOB_NOT_FOUND' });
  });

  it('reads more than a statement holds in a turn as several statements', async () => {
    const jobs = await Promise.all(Array.from({ length: 70 }, (_, i) => submit(alice, `many ${i}`)));
    statements = [];
    const read = await Promise.all(jobs.map((job) => kit.store.find(alice, job.id)));
    expect(read.map((job) => job?.id)).toEqual(jobs.map((job) => job.id));
    // 64 keys, then the 6 left padded to 8.
    expect(statements.map((sql) => sql.match(/j\.id = \?/g)?.length)).toEqual([64, 8]);
  });

  it('reads jobs with their attached rows together, each with its own row or none', async () => {
    const [a1, a2, b1] = await Promise.all([submit(alice, 'with note'), submit(alice, 'without note'), submit(bob, 'bob with note')]);
    await kit.dataSource.query('INSERT INTO job_note (job_id, tenant, user_id, note) VALUES (?, ?, ?, ?), (?, ?, ?, ?)', [
      a1.id, alice.tenant, alice.userId, 'note of a1',
      b1.id, bob.tenant, bob.userId, 'note of b1',
    ]);
    statements = [];
    const [withNote, withoutNote, bobs, foreign] = await Promise.allSettled([
      kit.store.getWith<{ note: string }>(alice, a1.id, notes),
      kit.store.getWith<{ note: string }>(alice, a2.id, notes),
      kit.store.getWith<{ note: string }>(bob, b1.id, notes),
      kit.store.getWith<{ note: string }>(alice, b1.id, notes),
    ]);
    expect(withNote).toMatchObject({ status: 'fulfilled', value: { job: { id: a1.id }, attached: { note: 'note of a1' } } });
    expect(withoutNote).toMatchObject({ status: 'fulfilled', value: { job: { id: a2.id }, attached: undefined } });
    expect(bobs).toMatchObject({ status: 'fulfilled', value: { job: { id: b1.id, owner: bob }, attached: { note: 'note of b1' } } });
    expect(foreign).toMatchObject({ status: 'rejected', reason: { kind: 'not_found' } });
    expect(statements).toHaveLength(2);
  });

  it('fails the reads of a statement that fails, and only those', async () => {
    const job = await submit(alice, 'statement error');
    statements = [];
    const [broken, alsoBroken, plain] = await Promise.allSettled([
      kit.store.getWith(alice, job.id, { table: 'no_such_table', columns: ['note'] }),
      kit.store.getWith(bob, job.id, { table: 'no_such_table', columns: ['note'] }),
      kit.store.find(alice, job.id),
    ]);
    expect(broken).toMatchObject({ status: 'rejected', reason: { code: 'ER_NO_SUCH_TABLE' } });
    expect(alsoBroken).toMatchObject({ status: 'rejected', reason: { code: 'ER_NO_SUCH_TABLE' } });
    expect(plain).toMatchObject({ status: 'fulfilled', value: { id: job.id } });
    expect(statements).toHaveLength(2);
  });

  it('sees every write committed before a read was asked: a read never joins a statement already sent', async () => {
    const job = await submit(alice, 'read your writes');
    // The first read's statement is sent and answered by MySQL, but its answer held back here
    // until the write has committed and the second read was asked.
    const pool = (kit.dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
    const counting = pool.execute;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let sent: () => void = () => undefined;
    const firstSent = new Promise<void>((resolve) => (sent = resolve));
    pool.execute = function (this: Mysql2Pool, options, values, callback) {
      pool.execute = counting;
      sent();
      return counting.call(this, options, values, (error, rows) => void held.then(() => callback(error, rows)));
    };
    statements = [];
    const before = kit.store.find(alice, job.id);
    await firstSent;
    await kit.dataSource.query('UPDATE job SET version = version + 1 WHERE id = ?', [job.id]);
    const afterRead = await kit.store.find(alice, job.id);
    release();
    expect((await before)?.version).toBe(job.version);
    expect(afterRead?.version).toBe(job.version + 1);
    expect(statements.filter((sql) => sql.includes('FROM job j'))).toHaveLength(2);
  });
});
