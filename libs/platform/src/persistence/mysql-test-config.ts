import { randomBytes } from 'node:crypto';
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
