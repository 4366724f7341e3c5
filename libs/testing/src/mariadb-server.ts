import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { freePort } from './free-port';
import type { MysqlServer } from './test-database';
import { waitFor } from './wait-for';

export interface PrivateMariaDbServer extends MysqlServer {
  /** SIGKILL, as a crash: InnoDB recovers what was committed when it starts again. */
  kill: () => Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart: () => Promise<void>;
  /** Stops the server and deletes its data directory. */
  stop: () => Promise<void>;
}

const binary = (name: string, debianPath: string) => (existsSync(debianPath) ? debianPath : name);

/**
 * A MariaDB server of the test's own (Debian's `mariadbd`), on a free loopback port with a fresh
 * data directory under the OS temp dir, so a test can crash and restart it without touching the
 * shared one. Grant tables are skipped: root with no password, loopback only.
 */
export async function startMariaDbServer(): Promise<PrivateMariaDbServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgate-mariadb-'));
  await promisify(execFile)(binary('mariadb-install-db', '/usr/bin/mariadb-install-db'), [
    '--no-defaults',
    `--datadir=${dataDir}`,
    '--user=root',
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
  ]);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const server: MysqlServer = { host: '127.0.0.1', port, user: 'root', password: '' };

  const start = async () => {
    const mariadbd = spawn(
      binary('mariadbd', '/usr/sbin/mariadbd'),
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dataDir, 'mariadbd.sock')}`,
        '--user=root',
        '--skip-grant-tables',
        '--innodb-buffer-pool-size=64M',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    mariadbd.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    mariadbd.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolveExit) => mariadbd.once('exit', () => resolveExit()));
    child = mariadbd;
    try {
      await waitFor(
        async () => {
          const connection = await createConnection(server);
          await connection.end();
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `mariadbd on port ${port}` },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${output.slice(-2_000)}`);
    }
  };
  const signal = async (name: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };

  await start();
  return {
    ...server,
    kill: () => signal('SIGKILL'),
    restart: start,
    stop: async () => {
      await signal('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
