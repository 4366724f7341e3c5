import { createConnection } from 'mysql2/promise';
import { DataSource, type DataSourceOptions, type MixedList, type EntitySchema } from 'typeorm';
import type { MysqlConfig } from './mysql-config';

export interface SchemaDefinition {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
}

/**
 * TypeORM options for a service's MySQL schema. The schema comes from migrations only
 * (`synchronize` is off here, everywhere); dates travel as UTC.
 */
export function mysqlDataSourceOptions(config: MysqlConfig, schema: SchemaDefinition): DataSourceOptions {
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
    extra: { connectionLimit: config.DB_POOL_SIZE, waitForConnections: true, queueLimit: 1_000 },
  };
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

/** Creates the database if needed, connects, and brings the schema up to date. */
export async function openDataSource(config: MysqlConfig, schema: SchemaDefinition): Promise<DataSource> {
  await ensureDatabase(config);
  const dataSource = new DataSource(mysqlDataSourceOptions(config, schema));
  await dataSource.initialize();
  try {
    await runMigrationsExclusively(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}
