import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import type { MysqlConfig } from './mysql-config';

/**
 * For this folder's integration tests: a uniquely named database on the shared MySQL (libs/testing
 * cannot be used from libs/platform), with the defaults of the environment schema.
 */
export function mysqlTestConfig(overrides: Partial<MysqlConfig> = {}): MysqlConfig {
  return {
    DB_HOST: process.env['DB_HOST'] ?? '127.0.0.1',
    DB_PORT: Number(process.env['DB_PORT'] ?? 3306),
    DB_USER: process.env['DB_USER'] ?? 'root',
    DB_PASSWORD: process.env['DB_PASSWORD'] ?? '',
    DB_NAME: `bgtest_platform_${randomBytes(4).toString('hex')}`,
    DB_POOL_SIZE: 2,
    DB_CONNECT_TIMEOUT_MS: 5_000,
    DB_QUERY_TIMEOUT_MS: 5_000,
    DB_ACQUIRE_TIMEOUT_MS: 2_000,
    DB_QUEUE_LIMIT: 1_000,
    ...overrides,
  };
}

/**
 * Drops a test's database over a connection of its own: not through a pool under test, whose
 * query timeout or broken connections would bound or fail the DROP too.
 */
export async function dropTestDatabase(config: MysqlConfig): Promise<void> {
  const admin = await createConnection({ host: config.DB_HOST, port: config.DB_PORT, user: config.DB_USER, password: config.DB_PASSWORD });
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${config.DB_NAME}\``);
  } finally {
    await admin.end();
  }
}
