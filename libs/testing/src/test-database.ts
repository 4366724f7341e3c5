import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';

export interface TestDatabase {
  name: string;
  /** Environment variables pointing a service at this database. */
  env: Record<string, string>;
  /** The same as typed connection settings, for a DataSource opened in the test itself (add the pool's). */
  connection: TestDatabaseConnection;
  /** Runs one query against this database (assertions on stored rows). */
  query: <T>(sql: string, params?: unknown[]) => Promise<T[]>;
  drop: () => Promise<void>;
}

/** A test database's connection settings, as the services' MySQL configuration names them. */
export interface TestDatabaseConnection {
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
}

/** Where a test database lives. */
export interface MysqlServer {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The MySQL every test shares (the local stack's). */
const SHARED_MYSQL: MysqlServer = {
  host: process.env['DB_HOST'] ?? '127.0.0.1',
  port: Number(process.env['DB_PORT'] ?? 3306),
  user: process.env['DB_USER'] ?? 'root',
  password: process.env['DB_PASSWORD'] ?? '',
};

/**
 * A fresh, uniquely named database for one test file (the service creates its tables through its
 * own migrations). Only names starting with `bgtest_` are ever dropped.
 */
export async function createTestDatabase(label: string, server: MysqlServer = SHARED_MYSQL): Promise<TestDatabase> {
  const name = `bgtest_${label.replace(/[^a-z0-9]/gi, '_')}_${randomBytes(4).toString('hex')}`.slice(0, 64);
  const connection = await connectTo(server);
  try {
    await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await connection.end();
  }
  const settings: TestDatabaseConnection = { DB_HOST: server.host, DB_PORT: server.port, DB_USER: server.user, DB_PASSWORD: server.password, DB_NAME: name };
  return {
    name,
    env: { ...settings, DB_PORT: String(server.port) },
    connection: settings,
    query: (sql, params) => queryOn(server, name, sql, params),
    drop: async () => {
      if (!name.startsWith('bgtest_')) throw new Error(`Refusing to drop ${name}`);
      const admin = await connectTo(server);
      try {
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Runs one query against a test database on the shared MySQL (assertions on stored rows). */
export function queryTestDatabase<T>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return queryOn(SHARED_MYSQL, database, sql, params);
}

async function queryOn<T>(server: MysqlServer, database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const connection = await connectTo(server, database);
  try {
    const [rows] = await connection.query(sql, params);
    return rows as T[];
  } finally {
    await connection.end();
  }
}

/** Only the connection fields: `server` may be a richer object (a private server's handle). */
function connectTo({ host, port, user, password }: MysqlServer, database?: string) {
  return createConnection({ host, port, user, password, database });
}
