import { QueryFailedError, type EntityManager } from 'typeorm';
import { statementTimeoutOf } from './prepared-reads';

interface Mysql2Connection {
  execute(options: { sql: string; timeout?: number }, values: readonly unknown[], callback: (error: Error | null, result: unknown) => void): void;
}

/**
 * Runs one statement of the transaction that `manager` belongs to as a mysql2 prepared statement
 * on the transaction's own connection: prepared once per connection and SQL text, afterwards only
 * the parameters travel, in the binary protocol. For hot writes whose parameters are long
 * strings (the outbox's event JSON): as a plain query each was escaped in Node and lexed and
 * unescaped again by MariaDB. Callers keep the number of distinct SQL texts small (each is a
 * statement kept open on every connection of the pool). Errors are TypeORM's QueryFailedError,
 * as from `manager.query`. Outside a transaction it is `manager.query`.
 */
export async function executeInTransaction<T>(manager: EntityManager, sql: string, params: readonly unknown[]): Promise<T> {
  const runner = manager.queryRunner;
  if (!runner?.isTransactionActive) return (await manager.query(sql, params as unknown[])) as T;
  const connection = (await runner.connect()) as Mysql2Connection;
  const timeout = statementTimeoutOf(manager.connection);
  return new Promise<T>((resolve, reject) =>
    connection.execute({ sql, timeout }, params, (error, result) =>
      error ? reject(new QueryFailedError(sql, params as unknown[], error)) : resolve(result as T),
    ),
  );
}
