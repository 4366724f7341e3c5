import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { waitFor } from './wait-for';

export interface PrivateNatsServer {
  /** `nats://127.0.0.1:<port>`: the same address after every restart. */
  url: string;
  /** SIGKILL, as a crash: JetStream keeps what reached its store directory. */
  kill: () => Promise<void>;
  /** Starts the server again on the same port and store directory. */
  restart: () => Promise<void>;
  /** Stops the server and deletes its store directory. */
  stop: () => Promise<void>;
}

/** The Debian package's path; `NATS_SERVER_BIN` overrides it, else `nats-server` from PATH. */
function natsServerBinary(): string {
  const configured = process.env['NATS_SERVER_BIN'];
  if (configured) return configured;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/**
 * A NATS server with JetStream of the test's own, on a free loopback port with a store directory
 * under the OS temp dir, so a test can crash and restart it without touching the shared one.
 */
export async function startNatsServer(): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'batchgate-nats-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async () => {
    const server = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolveExit) => server.once('exit', () => resolveExit()));
    child = server;
    try {
      await waitFor(async () => ((await accepts(port)) ? true : undefined), { timeoutMs: 10_000, intervalMs: 50, what: `nats-server on port ${port}` });
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
    url: `nats://127.0.0.1:${port}`,
    kill: () => signal('SIGKILL'),
    restart: start,
    stop: async () => {
      await signal('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveAccepts(true);
    });
    socket.once('error', () => resolveAccepts(false));
  });
}
