import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { startRestartableProcess, type RestartableProcess } from './restartable-process';

/** A MariaDB of our own: where it listens (root, no password, loopback only) and its lifecycle. */
export interface MariaDbServer extends RestartableProcess {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Debian's path when it is there, else the name on PATH. */
const binary = (name: string, debianPath: string) => (existsSync(debianPath) ? debianPath : name);

/** True when Debian's MariaDB server package is installed (what `npm start` can run by itself). */
export const mariaDbInstalled = (): boolean => existsSync('/usr/sbin/mariadbd');

/**
 * Debian's `mariadbd` on 127.0.0.1:`port` with its data in `dataDir` (initialised when empty,
 * reused otherwise: a restart or the next `npm start` finds the same databases). Grant tables are
 * skipped: root with no password, loopback only. It runs as the current user (root included).
 */
export async function startMariaDb(options: {
  port: number;
  dataDir: string;
  ownProcessGroup?: boolean;
}): Promise<MariaDbServer> {
  const { port, dataDir } = options;
  const runAs = `--user=${userInfo().username}`;
  if (!existsSync(join(dataDir, 'mysql'))) {
    mkdirSync(dataDir, { recursive: true });
    await promisify(execFile)(binary('mariadb-install-db', '/usr/bin/mariadb-install-db'), [
      '--no-defaults',
      `--datadir=${dataDir}`,
      runAs,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
  }
  const address = { host: '127.0.0.1', port, user: 'root', password: '' };
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
      const probe = await createConnection(address);
      await probe.end();
      return true;
    },
    what: `mariadbd on port ${port}`,
    ownProcessGroup: options.ownProcessGroup,
  });
  return { ...address, ...server };
}
