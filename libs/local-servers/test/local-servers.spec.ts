import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { connect } from 'nats';
import {
  freePort,
  isPortFree,
  startMariaDb,
  startNats,
  startRestartableProcess,
  type MariaDbServer,
} from '../src';

const addressOf = ({ host, port, user, password }: MariaDbServer) => ({
  host,
  port,
  user,
  password,
});

describe('local servers', () => {
  const dirs: string[] = [];
  const tempDir = (label: string) => {
    const dir = mkdtempSync(join(tmpdir(), `batchgate-${label}-`));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('tells a taken port from a free one', async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const taken = (listener.address() as { port: number }).port;
    try {
      expect(await isPortFree(taken)).toBe(false);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
    expect(await isPortFree(taken)).toBe(true);
  });

  it('fails at once, with its output, when the process exits before it is ready', async () => {
    const started = startRestartableProcess({
      command: process.execPath,
      args: ['-e', 'console.error("unknown option --bogus"); process.exit(3)'],
      ready: async () => false,
      what: 'a server that refuses its flags',
      readyTimeoutMs: 60_000,
    });
    await expect(started).rejects.toThrow(
      /a server that refuses its flags exited before it was ready:\s+unknown option --bogus/,
    );
  });

  it('runs nats-server with JetStream on the port asked for, and frees it on stop', async () => {
    const port = await freePort();
    const server = await startNats({ port, storeDir: tempDir('nats') });
    try {
      expect(server.url).toBe(`nats://127.0.0.1:${port}`);
      const connection = await connect({ servers: server.url });
      const account = await (await connection.jetstreamManager()).getAccountInfo();
      expect(account.streams).toBe(0);
      await connection.close();
    } finally {
      await server.stop();
    }
    expect(await isPortFree(port)).toBe(true);
  });

  it('keeps a MariaDB data directory: the next start (on another port) finds the same databases', async () => {
    const dataDir = tempDir('mariadb');
    const first = await startMariaDb({ port: await freePort(), dataDir });
    try {
      const connection = await createConnection(addressOf(first));
      await connection.query('CREATE DATABASE kept_between_runs');
      await connection.end();
    } finally {
      await first.stop();
    }
    const second = await startMariaDb({ port: await freePort(), dataDir });
    try {
      const connection = await createConnection(addressOf(second));
      const [rows] = await connection.query("SHOW DATABASES LIKE 'kept_between_runs'");
      await connection.end();
      expect(rows).toHaveLength(1);
    } finally {
      await second.stop();
    }
  }, 90_000);
});
