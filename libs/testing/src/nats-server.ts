import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { startRestartableProcess, type RestartableProcess } from './restartable-process';

export interface PrivateNatsServer extends RestartableProcess {
  /** `nats://127.0.0.1:<port>`: the same address after every restart. */
  url: string;
}

/** The Debian package's path; `NATS_SERVER_BIN` overrides it, else `nats-server` from PATH. */
function natsServerBinary(): string {
  const configured = process.env['NATS_SERVER_BIN'];
  if (configured) return configured;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/**
 * A NATS server with JetStream of the test's own, on a free loopback port with a store directory
 * under the OS temp dir. A SIGKILL keeps what reached the store; `stop` deletes it.
 */
export async function startNatsServer(): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'batchgate-nats-'));
  const server = await startRestartableProcess({
    command: natsServerBinary(),
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
    ready: () => accepts(port),
    what: `nats-server on port ${port}`,
    readyTimeoutMs: 10_000,
  });
  return {
    ...server,
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      await server.stop();
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
