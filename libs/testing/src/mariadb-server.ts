import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startMariaDb, type RestartableProcess } from '@batchgate/local-servers';
import type { MysqlServer } from './test-database';

/** A MySQL server (for test databases) that a test can crash: InnoDB recovers on restart. */
export type PrivateMariaDbServer = MysqlServer & RestartableProcess;

/**
 * A MariaDB server of the test's own (Debian's `mariadbd`), on a free loopback port with a fresh
 * data directory under the OS temp dir. `stop` deletes the data directory.
 */
export async function startMariaDbServer(): Promise<PrivateMariaDbServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgate-mariadb-'));
  const server = await startMariaDb({ port: await freePort(), dataDir });
  return {
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
