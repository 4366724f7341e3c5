import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * How a {@link TcpProxy} treats the link:
 * - `pass`: bytes flow both ways;
 * - `cut`: open connections are destroyed (both sides see a reset) and new ones are closed at once;
 * - `blackhole`: connections are accepted, nothing flows either way and nothing is answered (a
 *   partition: the peers see silence, not an error); when the mode goes back to `pass` the held
 *   bytes flow again, as TCP's retransmissions would deliver them after the network heals.
 */
export type TcpProxyMode = 'pass' | 'cut' | 'blackhole';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly mode: TcpProxyMode;
  /** Changes the mode; `cut` destroys the open connections now. */
  setMode: (mode: TcpProxyMode) => void;
  /** Connections open through the proxy now. */
  readonly openConnections: number;
  /** Connections accepted since the start. */
  readonly acceptedConnections: number;
  close: () => Promise<void>;
}

interface Link {
  client: Socket;
  /** Connected to the target once the link may pass bytes. */
  server: Socket | undefined;
  flowing: boolean;
}

/**
 * A TCP proxy in front of `target` (MySQL, NATS) on a free loopback port, for fault tests that
 * break the network between a service and a dependency without touching either. Hand-written:
 * the few lines of `node:net` it takes are less than the fault modes a library would need added.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: TcpProxyMode = 'pass';
  let accepted = 0;
  const links = new Set<Link>();

  const drop = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.server?.destroy();
  };
  /** Joins the client to the target (first time) or lets held bytes flow again. */
  const flow = (link: Link) => {
    if (link.flowing) return;
    link.flowing = true;
    if (!link.server) {
      const server = connect(target);
      link.server = server;
      server.on('error', () => drop(link));
      server.on('close', () => drop(link));
    }
    link.client.pipe(link.server);
    link.server.pipe(link.client);
  };
  const hold = (link: Link) => {
    link.flowing = false;
    // Unpiped and paused, the sockets read nothing: bytes wait in the buffers, and the peers wait.
    if (link.server) {
      link.client.unpipe(link.server);
      link.server.unpipe(link.client);
      link.server.pause();
    }
    link.client.pause();
  };

  const proxy: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const link: Link = { client, server: undefined, flowing: false };
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    links.add(link);
    if (mode === 'pass') flow(link);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (!address || typeof address === 'string') throw new Error('tcp proxy has no port');

  return {
    host: '127.0.0.1',
    port: address.port,
    get mode() {
      return mode;
    },
    get openConnections() {
      return links.size;
    },
    get acceptedConnections() {
      return accepted;
    },
    setMode: (next) => {
      mode = next;
      for (const link of [...links]) {
        if (next === 'cut') {
          link.client.resetAndDestroy();
          link.server?.resetAndDestroy();
          drop(link);
        } else if (next === 'pass') flow(link);
        else hold(link);
      }
    },
    close: async () => {
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
