import { z } from 'zod';
import { env } from '../config';

/** Defaults of the pool's bounds (see mysqlDataSourceOptions and boundPool). */
export const POOL_BOUND_DEFAULTS = { DB_QUERY_TIMEOUT_MS: 5_000, DB_ACQUIRE_TIMEOUT_MS: 2_000, DB_QUEUE_LIMIT: 1_000 } as const;

/** The MySQL part of a service's environment schema; `database` is the service's own schema. */
export function mysqlEnv(database: string) {
  return {
    DB_HOST: env.string('127.0.0.1'),
    DB_PORT: env.port(3306),
    DB_USER: env.string('root'),
    DB_PASSWORD: z.string().default(''),
    DB_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_]{1,64}$/, 'must be 1-64 letters, digits or underscores')
      .default(database),
    DB_POOL_SIZE: env.int(10, 1, 200),
    DB_CONNECT_TIMEOUT_MS: env.int(5_000, 100, 120_000),
    /** A query MySQL has not answered within this time fails (503 to the caller), so a hung connection cannot hold a request. */
    DB_QUERY_TIMEOUT_MS: env.int(POOL_BOUND_DEFAULTS.DB_QUERY_TIMEOUT_MS, 100, 600_000),
    /** Longest wait for a free pool connection; then the query fails (mysql2's pool would wait for ever). */
    DB_ACQUIRE_TIMEOUT_MS: env.int(POOL_BOUND_DEFAULTS.DB_ACQUIRE_TIMEOUT_MS, 10, 600_000),
    /** Callers that may wait for a pool connection at once; beyond that a query fails at once. */
    DB_QUEUE_LIMIT: env.int(POOL_BOUND_DEFAULTS.DB_QUEUE_LIMIT, 1, 100_000),
  };
}

export interface MysqlConfig {
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  DB_POOL_SIZE: number;
  DB_CONNECT_TIMEOUT_MS: number;
  /** Optional for configs built by hand (tests, benchmarks): {@link POOL_BOUND_DEFAULTS} then. */
  DB_QUERY_TIMEOUT_MS?: number;
  DB_ACQUIRE_TIMEOUT_MS?: number;
  DB_QUEUE_LIMIT?: number;
}
