import { createConnection } from 'mysql2/promise';
import { AdvancedConsoleLogger, DataSource, type MixedList, type EntitySchema } from 'typeorm';
import type { MysqlConnectionOptions } from 'typeorm/driver/mysql/MysqlConnectionOptions';
import { POOL_BOUND_DEFAULTS, type MysqlConfig } from './mysql-config';

export interface SchemaDefinition {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
}

/**
 * TypeORM's logger, without its console line for a query slower than `maxQueryExecutionTime`:
 * that option is the query timeout here, and a query that runs into it fails with an error the
 * service reports (and logs) itself.
 */
class TimeoutAwareLogger extends AdvancedConsoleLogger {
  override logQuerySlow(): void {}
}

/**
 * TypeORM options for a service's MySQL schema. The schema comes from migrations only
 * (`synchronize` is off here, everywhere); dates travel as UTC. Every query has a timeout
 * (`DB_QUERY_TIMEOUT_MS`: TypeORM's `enableQueryTimeout` hands `maxQueryExecutionTime` to mysql2
 * as the query's `timeout`) and the pool's queue is bounded (`DB_QUEUE_LIMIT`).
 */
export function mysqlDataSourceOptions(config: MysqlConfig, schema: SchemaDefinition): MysqlConnectionOptions {
  return {
    type: 'mysql',
    host: config.DB_HOST,
    port: config.DB_PORT,
    username: config.DB_USER,
    password: config.DB_PASSWORD,
    database: config.DB_NAME,
    entities: schema.entities,
    migrations: schema.migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    poolSize: config.DB_POOL_SIZE,
    connectTimeout: config.DB_CONNECT_TIMEOUT_MS,
    enableQueryTimeout: true,
    maxQueryExecutionTime: config.DB_QUERY_TIMEOUT_MS ?? POOL_BOUND_DEFAULTS.DB_QUERY_TIMEOUT_MS,
    logger: new TimeoutAwareLogger(),
    extra: { connectionLimit: config.DB_POOL_SIZE, waitForConnections: true, queueLimit: config.DB_QUEUE_LIMIT ?? POOL_BOUND_DEFAULTS.DB_QUEUE_LIMIT },
  };
}

interface Mysql2PoolConnection {
  release(): void;
  destroy(): void;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  /** The command the connection is running (mysql2 internal). */
  _command?: unknown;
}
type AcquireCallback = (error: Error | null, connection?: Mysql2PoolConnection) => void;
interface Mysql2Pool {
  getConnection(callback: AcquireCallback): void;
  /** Idle connections (mysql2 internal): `getConnection` takes one of them at once when there is one. */
  _freeConnections?: { length: number };
}

/**
 * The session time zone of every connection. mysql2's `timezone: 'Z'` only converts the dates it
 * sends and reads; `NOW()`, `CURRENT_TIMESTAMP` defaults and `DATETIME` comparisons in SQL use the
 * session's zone, which is the server's system zone unless set (a server in Asia/Shanghai would
 * store a job's `created_at` 8 hours off the dates the service writes itself).
 */
const UTC_SESSION = "SET time_zone = '+00:00'";

/**
 * Puts every connection of the pool in UTC before its first command (hand-written: neither mysql2
 * nor TypeORM has an init statement). A connection's commands run in order, so the SET queued here
 * runs before anything the caller sends; a connection TypeORM opened before this (its start-up
 * check) gets it on its first acquisition like any other. A failed SET fails nothing by itself:
 * the connection is broken and the caller's own query on it fails too.
 */
export function sessionsInUtc(dataSource: DataSource): void {
  const pool = (dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
  const acquire = pool.getConnection.bind(pool);
  const inUtc = new WeakSet<Mysql2PoolConnection>();
  pool.getConnection = (callback) =>
    acquire((error, connection) => {
      if (connection && !inUtc.has(connection)) {
        inUtc.add(connection);
        connection.query(UTC_SESSION, () => undefined);
      }
      callback(error, connection);
    });
}

/** mysql2's code for a query that ran into its `timeout`. */
const QUERY_TIMED_OUT = 'PROTOCOL_SEQUENCE_TIMEOUT';

/**
 * Makes the pool safe to use against a MySQL that stops answering (hand-written: mysql2 has
 * neither behaviour, and TypeORM only passes the query timeout on):
 * - the wait for a free connection is bounded by `acquireTimeoutMs` (mysql2's pool would wait
 *   for ever while every connection is held); a connection that arrives for a caller that gave up
 *   goes straight back to the pool. The error's code is ETIMEDOUT: the caller gets UNAVAILABLE
 *   (503 + Retry-After).
 * - a connection whose query timed out is destroyed, not returned to the pool: mysql2 cannot
 *   cancel the query, so the connection's next command would wait behind it (for ever, if the
 *   server is gone); a prepared statement's PREPARE gets the same timeout (mysql2 gives it none).
 */
export function boundPool(dataSource: DataSource, acquireTimeoutMs: number, queryTimeoutMs: number): void {
  const pool = (dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
  const acquire = pool.getConnection.bind(pool);
  pool.getConnection = (callback) => {
    // An idle connection is taken at once and handed over on the next tick: there is no wait to
    // bound, and a timer per query (with the one below, ~2 % of a service's CPU) for nothing.
    if ((pool._freeConnections?.length ?? 0) > 0) {
      return acquire((error, connection) => {
        if (connection && !guarded.has(connection)) guardConnection(connection, queryTimeoutMs);
        callback(error, connection);
      });
    }
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      callback(Object.assign(new Error(`No database connection was free within ${acquireTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, acquireTimeoutMs);
    acquire((error, connection) => {
      if (settled) return void connection?.release();
      settled = true;
      clearTimeout(timer);
      if (connection && !guarded.has(connection)) guardConnection(connection, queryTimeoutMs);
      callback(error, connection);
    });
  };
}

/** Connections whose query timeouts destroy them (the pool also holds connections made before boundPool). */
const guarded = new WeakSet<Mysql2PoolConnection>();

function guardConnection(connection: Mysql2PoolConnection, queryTimeoutMs: number): void {
  guarded.add(connection);
  for (const method of ['query', 'execute'] as const) {
    const run = connection[method].bind(connection);
    connection[method] = (...args: unknown[]) => {
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback !== 'function') return run(...args);
      let answered = false;
      let prepareGuard: NodeJS.Timeout | undefined;
      const answer = (error: { code?: string } | null, ...results: unknown[]) => {
        if (answered) return undefined;
        answered = true;
        clearTimeout(prepareGuard);
        if (error?.code === QUERY_TIMED_OUT) connection.destroy();
        return (callback as (...a: unknown[]) => unknown)(error, ...results);
      };
      args[last] = answer;
      const command = run(...args);
      // mysql2 times `execute` only once its statement is prepared; preparing it on a connection
      // that has not yet (a PREPARE to a silent server) would wait for ever without this guard.
      // A statement already prepared on the connection is executed at once (mysql2 skips the
      // PREPARE within the call): the command running then is the execute, timed by mysql2.
      if (method === 'execute' && !answered && connection._command !== command) {
        prepareGuard = setTimeout(
          () => answer(Object.assign(new Error('Query inactivity timeout (statement not prepared)'), { code: QUERY_TIMED_OUT })),
          queryTimeoutMs + 50,
        );
      }
      return command;
    };
  }
}

/**
 * Connections the pool opens at start-up (at most DB_POOL_SIZE): about what one replica holds at
 * once under light load (a request's transaction, a group commit, the outbox relay, a worker's
 * claim). mysql2 opens a connection only when a query finds none free, so without this the first
 * requests after a deploy each waited for a connection's handshake (publish's pool went from 1 to
 * 4 connections during its first 10 submissions).
 */
const WARM_CONNECTIONS = 4;

/**
 * Opens `count` of the pool's connections at once and puts them back (mysql2 keeps idle ones up
 * to its connection limit). Best effort: a connection that cannot be opened now is opened by the
 * query that needs it, as before.
 */
async function warmPool(dataSource: DataSource, count: number): Promise<void> {
  const pool = (dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
  // Held together, so each is a connection of its own rather than the same one again.
  const opened = await Promise.allSettled(
    Array.from(
      { length: count },
      () => new Promise<Mysql2PoolConnection>((resolve, reject) => pool.getConnection((error, connection) => (connection ? resolve(connection) : reject(error)))),
    ),
  );
  for (const outcome of opened) if (outcome.status === 'fulfilled') outcome.value.release();
}

/** Creates the service's database when it does not exist yet (local runs, tests, first deploy). */
export async function ensureDatabase(config: MysqlConfig): Promise<void> {
  const connection = await createConnection({
    host: config.DB_HOST,
    port: config.DB_PORT,
    user: config.DB_USER,
    password: config.DB_PASSWORD,
    connectTimeout: config.DB_CONNECT_TIMEOUT_MS,
  });
  try {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${config.DB_NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await connection.end();
  }
}

/**
 * Runs pending migrations under a MySQL named lock, so replicas starting together do not race
 * through the same DDL (MySQL commits DDL implicitly, so a transaction alone cannot serialise them).
 */
export async function runMigrationsExclusively(dataSource: DataSource, lockTimeoutSeconds = 60): Promise<void> {
  const runner = dataSource.createQueryRunner();
  const lockName = `migrations:${dataSource.options.database as string}`;
  try {
    await runner.connect();
    const [row] = (await runner.query('SELECT GET_LOCK(?, ?) AS acquired', [lockName, lockTimeoutSeconds])) as Array<{
      acquired: number | string | null;
    }>;
    if (Number(row?.acquired) !== 1) throw new Error(`Could not take the migration lock ${lockName}`);
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT RELEASE_LOCK(?)', [lockName]);
    }
  } finally {
    await runner.release();
  }
}


/**
 * Creates the database if needed, brings the schema up to date and connects the pool the service
 * serves from, its first connections open, every session in UTC. Migrations run on a connection
 * of their own without the query timeout: DDL on a big table may take longer than any request
 * should.
 */
export async function openDataSource(config: MysqlConfig, schema: SchemaDefinition): Promise<DataSource> {
  await ensureDatabase(config);
  // Two connections: one holds the migration lock while the other runs the migrations.
  const migrator = new DataSource({ ...mysqlDataSourceOptions({ ...config, DB_POOL_SIZE: 2 }, schema), enableQueryTimeout: false });
  await migrator.initialize();
  sessionsInUtc(migrator);
  try {
    await runMigrationsExclusively(migrator);
  } finally {
    await migrator.destroy();
  }
  const dataSource = new DataSource(mysqlDataSourceOptions(config, schema));
  await dataSource.initialize();
  sessionsInUtc(dataSource);
  boundPool(
    dataSource,
    config.DB_ACQUIRE_TIMEOUT_MS ?? POOL_BOUND_DEFAULTS.DB_ACQUIRE_TIMEOUT_MS,
    config.DB_QUERY_TIMEOUT_MS ?? POOL_BOUND_DEFAULTS.DB_QUERY_TIMEOUT_MS,
  );
  await warmPool(dataSource, Math.min(WARM_CONNECTIONS, config.DB_POOL_SIZE));
  return dataSource;
}
