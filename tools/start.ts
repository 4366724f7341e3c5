/**
 * `npm start`: checks MySQL and NATS, creates the databases, then runs every process of the local
 * stack with one prefixed log stream each; Ctrl-C stops them all (each shuts down gracefully).
 */
import { concurrently } from 'concurrently';
import { createConnection } from 'mysql2/promise';
import { connect } from 'nats';
import { addressEnv, portOf, PROCESSES, readinessUrl } from '@batchgate/registry';

const MYSQL = {
  host: process.env['DB_HOST'] ?? '127.0.0.1',
  port: Number(process.env['DB_PORT'] ?? 3306),
  user: process.env['DB_USER'] ?? 'root',
  password: process.env['DB_PASSWORD'] ?? '',
};
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

const HOW_TO_START_MYSQL = `MySQL/MariaDB is not reachable at ${MYSQL.host}:${MYSQL.port}. Start it, for example:
    sudo start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  or with Docker:  docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:10.11
  (set DB_HOST, DB_PORT, DB_USER, DB_PASSWORD to use another server)`;
const HOW_TO_START_NATS = `NATS with JetStream is not reachable at ${NATS_URL}. Start it, for example:
    sudo start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  or with Docker:  docker run -d -p 4222:4222 nats:2.10 -js
  (set NATS_URL to use another server)`;

async function checkMysql(): Promise<void> {
  try {
    const connection = await createConnection({ ...MYSQL, connectTimeout: 3_000 });
    try {
      for (const { database } of PROCESSES) {
        if (database) {
          await connection.query(`CREATE DATABASE IF NOT EXISTS \`${database.name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
        }
      }
    } finally {
      await connection.end();
    }
  } catch (error) {
    throw new Error(`${HOW_TO_START_MYSQL}\n  (${(error as Error).message})`);
  }
}

async function checkNats(): Promise<void> {
  let connection;
  try {
    connection = await connect({ servers: NATS_URL, timeout: 3_000, maxReconnectAttempts: 0 });
  } catch (error) {
    throw new Error(`${HOW_TO_START_NATS}\n  (${(error as Error).message})`);
  }
  try {
    await (await connection.jetstreamManager()).getAccountInfo();
  } catch {
    throw new Error(`NATS at ${NATS_URL} runs without JetStream; restart it with -js.\n${HOW_TO_START_NATS}`);
  } finally {
    await connection.close();
  }
}

async function announceWhenReady(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const process of PROCESSES) {
    while (Date.now() < deadline) {
      const ok = await fetch(readinessUrl(process)).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  console.log(`
  batchgate is up.
    Gateway      http://127.0.0.1:3000   (OpenAPI UI: http://127.0.0.1:3000/api/docs)
    Simulator    http://127.0.0.1:4100   (outside APIs; /__sim/stats, /__sim/config)
    Metrics      ${PROCESSES.map((p) => `${p.name} :${portOf(p, p.metrics.port).port}${p.metrics.path}`).join(', ')}
    A token      npm run token -- --perms tokens:admin
    Try          curl -H "authorization: Bearer $(npm run -s token -- --perms tokens:admin)" http://127.0.0.1:3000/api/tokens
  Ctrl-C stops everything.
`);
}

async function main(): Promise<void> {
  const problems = (await Promise.allSettled([checkMysql(), checkNats()])).filter((r) => r.status === 'rejected');
  if (problems.length > 0) throw new Error(problems.map((p) => (p.reason as Error).message).join('\n\n'));
  const { result } = concurrently(
    PROCESSES.map((p) => ({
      name: p.name,
      command: `node -r @swc-node/register ${p.entry}`,
      prefixColor: p.color,
      env: { ...addressEnv(p, () => '127.0.0.1'), ...p.localEnv },
    })),
    { prefix: 'name', killOthersOn: ['failure'], restartTries: 0 },
  );
  void announceWhenReady();
  await result.then(
    () => process.exit(0),
    () => process.exit(1),
  );
}

main().catch((error: unknown) => {
  console.error(`\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
