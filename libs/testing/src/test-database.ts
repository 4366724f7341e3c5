import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';

export interface TestDatabase {
  name: string;
  /** Environment variables pointing a service at this database. */
  env: Record<string, string>;
  drop: () => Promise<void>;
}

const MYSQL = { host: process.env['DB_HOST'] ?? '127.0.0.1', port: Number(process.env['DB_PORT'] ?? 3306), user: process.env['DB_USER'] ?? 'root', password: process.env['DB_PASSWORD'] ?? '' };

/**
 * A fresh, uniquely named database for one test file (the service creates its tables through its
 * own migrations). Only names starting with `bgtest_` are ever dropped.
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `bgtest_${label.replace(/[^a-z0-9]/gi, '_')}_${randomBytes(4).toString('hex')}`.slice(0, 64);
  const connection = await createConnection(MYSQL);
  try {
    await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await connection.end();
  }
  return {
    name,
    env: {
      DB_HOST: MYSQL.host,
      DB_PORT: String(MYSQL.port),
      DB_USER: MYSQL.user,
      DB_PASSWORD: MYSQL.password,
      DB_NAME: name,
    },
    drop: async () => {
      if (!name.startsWith('bgtest_')) throw new Error(`Refusing to drop ${name}`);
      const admin = await createConnection(MYSQL);
      try {
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Runs one query against a test database (assertions on stored rows). */
export async function queryTestDatabase<T>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const connection = await createConnection({ ...MYSQL, database });
  try {
    const [rows] = await connection.query(sql, params);
    return rows as T[];
  } finally {
    await connection.end();
  }
}
