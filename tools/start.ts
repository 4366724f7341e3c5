/**
 * `npm start`: makes sure MySQL and NATS are there, creates the databases, then runs every process
 * of the service registry with one prefixed log stream each; Ctrl-C stops them all (each shuts
 * down gracefully), then the private servers it started.
 *
 * MySQL or NATS not reachable on loopback, but Debian's mariadbd / nats-server installed: it runs
 * private ones (data under tmp/dev-servers/, kept between runs) on the configured port when that
 * is free, else on a free one, and points the services at them.
 */
import { concurrently } from 'concurrently';
import { join, relative, resolve } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { connect } from 'nats';
import {
  freePort,
  isPortFree,
  mariaDbInstalled,
  natsServerInstalled,
  startMariaDb,
  startNats,
  type RestartableProcess,
} from '@batchgate/local-servers';
import { addressEnv, portOf, PROCESSES, processNamed, readinessUrl } from '@batchgate/registry';

const ROOT = resolve(__dirname, '..');
/** Git-ignored (tmp/). */
const DEV_SERVERS = join(ROOT, 'tmp/dev-servers');
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

interface MysqlAddress {
  host: string;
  port: number;
  user: string;
  password: string;
}

const CONFIGURED_MYSQL: MysqlAddress = {
  host: process.env['DB_HOST'] ?? '127.0.0.1',
  port: Number(process.env['DB_PORT'] ?? 3306),
  user: process.env['DB_USER'] ?? 'root',
  password: process.env['DB_PASSWORD'] ?? '',
};
const CONFIGURED_NATS = new URL(process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222');

const HOW_TO_START_MYSQL = `MySQL/MariaDB is not reachable at ${CONFIGURED_MYSQL.host}:${CONFIGURED_MYSQL.port}. Install Debian's mariadb-server (npm start then runs a private one), or start one, for example:
    docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:10.11
  (set DB_HOST, DB_PORT, DB_USER, DB_PASSWORD to use another server)`;
const HOW_TO_START_NATS = `NATS with JetStream is not reachable at ${CONFIGURED_NATS.href}. Install Debian's nats-server (npm start then runs a private one), or start one, for example:
    docker run -d -p 4222:4222 nats:2.10 -js
  (set NATS_URL to use another server)`;

/** Private servers this run started; stopped last. */
const privateServers: RestartableProcess[] = [];

async function stopPrivateServers(): Promise<void> {
  await Promise.all(privateServers.splice(0).map((server) => server.stop()));
}
// Exiting any other way (a crash in this script): SIGTERM them still (sent synchronously).
process.once('exit', () => privateServers.forEach((server) => void server.stop()));

/** The configured port when nothing listens there (e.g. the default), else a free one. */
async function portFor(configured: number): Promise<number> {
  return (await isPortFree(configured)) ? configured : freePort();
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function mysqlProblem(server: MysqlAddress): Promise<string | undefined> {
  try {
    const connection = await createConnection({ ...server, connectTimeout: 3_000 });
    await connection.end();
    return undefined;
  } catch (error) {
    return messageOf(error);
  }
}

/** A MySQL to use: the configured one, else a private MariaDB. */
async function ensureMysql(): Promise<MysqlAddress> {
  const problem = await mysqlProblem(CONFIGURED_MYSQL);
  if (problem === undefined) return CONFIGURED_MYSQL;
  if (!LOOPBACK.has(CONFIGURED_MYSQL.host) || !mariaDbInstalled()) throw new Error(`${HOW_TO_START_MYSQL}\n  (${problem})`);
  const port = await portFor(CONFIGURED_MYSQL.port);
  const dataDir = join(DEV_SERVERS, 'mariadb');
  console.log(`MySQL is not reachable at ${CONFIGURED_MYSQL.host}:${CONFIGURED_MYSQL.port} (${problem}).`);
  console.log(`  Starting a private MariaDB on 127.0.0.1:${port} (data in ${relative(ROOT, dataDir)}/).`);
  const server = await startMariaDb({ port, dataDir, ownProcessGroup: true });
  privateServers.push(server);
  return { host: server.host, port: server.port, user: server.user, password: server.password };
}

/** A NATS with JetStream to use: the configured one, else a private nats-server. */
async function ensureNats(): Promise<string> {
  let connection;
  try {
    connection = await connect({ servers: CONFIGURED_NATS.href, timeout: 3_000, maxReconnectAttempts: 0 });
  } catch (error) {
    if (!LOOPBACK.has(CONFIGURED_NATS.hostname) || !natsServerInstalled()) throw new Error(`${HOW_TO_START_NATS}\n  (${messageOf(error)})`);
    const port = await portFor(Number(CONFIGURED_NATS.port || 4222));
    const storeDir = join(DEV_SERVERS, 'nats');
    console.log(`NATS is not reachable at ${CONFIGURED_NATS.href} (${messageOf(error)}).`);
    console.log(`  Starting a private nats-server with JetStream on 127.0.0.1:${port} (store in ${relative(ROOT, storeDir)}/).`);
    const server = await startNats({ port, storeDir, ownProcessGroup: true });
    privateServers.push(server);
    return server.url;
  }
  try {
    await (await connection.jetstreamManager()).getAccountInfo();
    return CONFIGURED_NATS.href;
  } catch {
    throw new Error(`NATS at ${CONFIGURED_NATS.href} runs without JetStream; restart it with -js.\n${HOW_TO_START_NATS}`);
  } finally {
    await connection.close();
  }
}

async function createDatabases(server: MysqlAddress): Promise<void> {
  const connection = await createConnection(server);
  try {
    for (const { database } of PROCESSES) {
      if (database) {
        await connection.query(`CREATE DATABASE IF NOT EXISTS \`${database.name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      }
    }
  } finally {
    await connection.end();
  }
}

/** MySQL and NATS for the services, as their environment. */
async function infrastructure(): Promise<Record<string, string>> {
  const [mysql, nats] = await Promise.allSettled([ensureMysql(), ensureNats()]);
  const problems = [mysql, nats].filter((r) => r.status === 'rejected').map((r) => messageOf(r.reason));
  if (mysql.status === 'rejected' || nats.status === 'rejected') throw new Error(problems.join('\n\n'));
  await createDatabases(mysql.value);
  return {
    DB_HOST: mysql.value.host,
    DB_PORT: String(mysql.value.port),
    DB_USER: mysql.value.user,
    DB_PASSWORD: mysql.value.password,
    NATS_URL: nats.value,
  };
}

async function announceWhenReady(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const process of PROCESSES) {
    while (Date.now() < deadline) {
      const ok = await fetch(readinessUrl(process)).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const gateway = `http://127.0.0.1:${portOf(processNamed('gateway'), 'http').port}`;
  const simulator = `http://127.0.0.1:${portOf(processNamed('upstream-sim'), 'http').port}`;
  console.log(`
  batchgate is up.
    Gateway      ${gateway}   (OpenAPI UI: ${gateway}/api/docs)
    Simulator    ${simulator}   (outside APIs; /__sim/stats, /__sim/config)
    Metrics      ${PROCESSES.map((p) => `${p.name} :${portOf(p, p.metrics.port).port}${p.metrics.path}`).join(', ')}
    A token      npm run token -- --perms tokens:admin
    Try          curl -H "authorization: Bearer $(npm run -s token -- --perms tokens:admin)" ${gateway}/api/tokens
  Ctrl-C stops everything.
`);
}

async function main(): Promise<void> {
  // A Ctrl-C while the private servers start: they run in process groups of their own (so the
  // terminal's Ctrl-C reaches only the services later), hence stopped here.
  const stopDuringStartup = () => void stopPrivateServers().finally(() => process.exit(130));
  process.once('SIGINT', stopDuringStartup);
  process.once('SIGTERM', stopDuringStartup);
  let infraEnv: Record<string, string>;
  try {
    infraEnv = await infrastructure();
  } catch (error) {
    await stopPrivateServers();
    throw error;
  }
  process.off('SIGINT', stopDuringStartup);
  process.off('SIGTERM', stopDuringStartup);

  const { result } = concurrently(
    PROCESSES.map((p) => ({
      name: p.name,
      command: `node -r @swc-node/register ${p.entry}`,
      prefixColor: p.color,
      env: { ...addressEnv(p, () => '127.0.0.1'), ...p.localEnv, ...infraEnv },
    })),
    { prefix: 'name', killOthersOn: ['failure'], restartTries: 0 },
  );
  void announceWhenReady();
  const succeeded = await result.then(
    () => true,
    () => false,
  );
  // The services have drained; now the servers they used.
  if (privateServers.length > 0) {
    await stopPrivateServers();
    console.log('Private MariaDB/NATS stopped (their data stays in tmp/dev-servers/).');
  }
  process.exit(succeeded ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(`\n${messageOf(error)}\n`);
  process.exit(1);
});
