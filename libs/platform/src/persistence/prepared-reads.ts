import type { DataSource, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';
import type { MysqlConnectionOptions } from 'typeorm/driver/mysql/MysqlConnectionOptions';

interface Mysql2Pool {
  execute(options: { sql: string; timeout?: number }, values: readonly unknown[], callback: (error: Error | null, rows: unknown) => void): void;
}

/**
 * Rows of one statement run as a mysql2 prepared statement on the DataSource's own pool (the
 * statement is parsed once per connection; afterwards only its parameters travel, in the binary
 * protocol). For hot reads, where TypeORM's query builder, alias rewriting and result transformer
 * cost more CPU than the query itself (a fifth of a service's CPU on a read by id or a page).
 * `?` placeholders; LIMIT and OFFSET take their numbers as strings (MySQL's prepared LIMIT wants
 * an integer, and mysql2 sends a JS number as a double).
 *
 * The same statement with the same parameters asked for again in the same event-loop turn is run
 * once, and every read of it gets the same rows: callers must not change them. At 50 calls in
 * flight asking for the same page that is one statement instead of fifty.
 *
 * Why this stays correct (read-your-writes): a shared statement is sent at the end of the turn it
 * was first asked for in, after every read that joined it was requested, so each read sees every
 * write committed before it was asked; it leaves the waiting reads as it is sent, so nothing joins
 * a statement already sent, and nothing is kept after it answers. Its error fails the reads that
 * shared it, no other.
 *
 * Hand-written, not DataLoader (which the job store's reads by id use, see coalescedReads): a
 * DataLoader batch answers all of its keys once its batch function is done, so each page would
 * wait for the slowest of the turn's distinct statements (the paged list over 76 page sizes fell
 * from 0.28 to 0.17-0.24 of the bench's anchor that way, the cores idle; bench/gateway/README.md,
 * section 27). Here each statement answers its own reads as it ends.
 */
export function preparedRows<T>(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<T[]> {
  if (!params.every(isPlainParam)) return preparedRowsNow(dataSource, sql, params);
  let waiting = waitingReads.get(dataSource);
  if (waiting === undefined) {
    waiting = new Map();
    waitingReads.set(dataSource, waiting);
  }
  const key = JSON.stringify([sql, params]);
  let read = waiting.get(key);
  if (read === undefined) {
    const reads = waiting;
    read = new Promise((resolve, reject) =>
      setImmediate(() => {
        reads.delete(key);
        preparedRowsNow<unknown>(dataSource, sql, params).then(resolve, reject);
      }),
    );
    waiting.set(key, read);
  }
  return read as Promise<T[]>;
}

/** The reads waiting for the end of this turn, by statement and parameters (their JSON). */
const waitingReads = new WeakMap<DataSource, Map<string, Promise<unknown[]>>>();

/** A parameter its JSON tells apart from every other (a Date, a Buffer or NaN would not be): reads with other parameters are sent at once, unshared. */
const isPlainParam = (param: unknown): boolean =>
  typeof param === 'string' || param === null || (typeof param === 'number' && Number.isFinite(param));

/**
 * {@link preparedRows} sent at once, shared with no other read: for a caller that gathers its
 * reads into one statement itself (the job store's reads by id).
 */
export function preparedRowsNow<T>(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
  const timeout = statementTimeoutOf(dataSource);
  return new Promise((resolve, reject) =>
    pool.execute({ sql, timeout }, params, (error, rows) => (error ? reject(error) : resolve(rows as T[]))),
  );
}

/**
 * The timeout of a statement run on the driver's connections directly: the DataSource's query
 * timeout (see mysqlDataSourceOptions) holds there too.
 */
export function statementTimeoutOf(dataSource: DataSource): number | undefined {
  const { enableQueryTimeout, maxQueryExecutionTime } = dataSource.driver.options as MysqlConnectionOptions;
  return enableQueryTimeout ? maxQueryExecutionTime : undefined;
}

/**
 * Entities read with {@link preparedRows}: `SELECT <every column> FROM <table> <clauses>`, each
 * value hydrated by the driver as TypeORM's own reads do (dates, JSON, transformers), without
 * the query builder. Relations are not loaded.
 */
export class PreparedEntityReader<E extends ObjectLiteral> {
  private resolved: { metadata: EntityMetadata; select: string } | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly target: EntityTarget<E>,
  ) {}

  /** `clauses` follow the table name: `WHERE id = ?`, `WHERE tenant = ? ORDER BY id DESC LIMIT ?`. */
  async find(clauses: string, params: readonly unknown[]): Promise<E[]> {
    const { metadata, select } = this.metadata();
    const rows = await preparedRows<Record<string, unknown>>(this.dataSource, `${select} ${clauses}`, params);
    const driver = this.dataSource.driver;
    return rows.map((row) => {
      const entity = metadata.create() as E;
      for (const column of metadata.columns) column.setEntityValue(entity, driver.prepareHydratedValue(row[column.databaseName], column));
      return entity;
    });
  }

  // Resolved on first use: entity metadata exists once the DataSource is initialised.
  private metadata(): { metadata: EntityMetadata; select: string } {
    if (!this.resolved) {
      const metadata = this.dataSource.getMetadata(this.target);
      const columns = metadata.columns.map((column) => `\`${column.databaseName}\``).join(', ');
      this.resolved = { metadata, select: `SELECT ${columns} FROM \`${metadata.tableName}\`` };
    }
    return this.resolved;
  }
}
