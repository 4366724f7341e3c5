import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { startRestartableProcess, type RestartableProcess } from './restartable-process';

export interface NatsServer extends RestartableProcess {
  /** `nats://127.0.0.1:<port>`: the same address after every restart. */
  url: string;
}

/** The Debian package's path; `NATS_SERVER_BIN` overrides it, else `nats-server` from PATH. */
function natsServerBinary(): string {
  const configured = process.env['NATS_SERVER_BIN'];
  if (configured) return configured;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** True when a nats-server binary is there to run. */
export const natsServerInstalled = (): boolean => {
  const binary = natsServerBinary();
  return binary.includes('/') && existsSync(binary);
};

/**
 * A NATS server with JetStream on 127.0.0.1:`port`, its store in `storeDir` (reused: a SIGKILL
 * keeps what reached the store, and so does the next `npm start`).
 */
export async function startNats(options: {
  port: number;
  storeDir: string;
  ownProcessGroup?: boolean;
}): Promise<NatsServer> {
  const { port, storeDir } = options;
  mkdirSync(storeDir, { recursive: true });
  const server = await startRestartableProcess({
    command: natsServerBinary(),
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
    ready: () => accepts(port),
    what: `nats-server on port ${port}`,
    readyTimeoutMs: 10_000,
    ownProcessGroup: options.ownProcessGroup,
  });
  return { ...server, url: `nats://127.0.0.1:${port}` };
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
