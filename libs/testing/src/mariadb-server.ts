import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { freePort } from './free-port';
import { startRestartableProcess, type RestartableProcess } from './restartable-process';
import type { MysqlServer } from './test-database';

/** A MySQL server (for test databases) that a test can crash: InnoDB recovers on restart. */
export type PrivateMariaDbServer = MysqlServer & RestartableProcess;

const binary = (name: string, debianPath: string) => (existsSync(debianPath) ? debianPath : name);

/**
 * A MariaDB server of the test's own (Debian's `mariadbd`), on a free loopback port with a fresh
 * data directory under the OS temp dir. Grant tables are skipped: root with no password, loopback
 * only. `stop` deletes the data directory.
 */
export async function startMariaDbServer(): Promise<PrivateMariaDbServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgate-mariadb-'));
  const runAs = `--user=${userInfo().username}`;
  await promisify(execFile)(binary('mariadb-install-db', '/usr/bin/mariadb-install-db'), [
    '--no-defaults',
    `--datadir=${dataDir}`,
    runAs,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
  ]);
  const connection: MysqlServer = { host: '127.0.0.1', port, user: 'root', password: '' };
  const server = await startRestartableProcess({
    command: binary('mariadbd', '/usr/sbin/mariadbd'),
    args: [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(dataDir, 'mariadbd.sock')}`,
      runAs,
      '--skip-grant-tables',
      '--innodb-buffer-pool-size=64M',
    ],
    ready: async () => {
      const probe = await createConnection(connection);
      await probe.end();
      return true;
    },
    what: `mariadbd on port ${port}`,
  });
  return {
    ...connection,
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
