import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Needed because Nest's gRPC server cannot
 * report the port it bound for `:0`, so tests and `npm start` choose one first.
 */
export async function freePort(): Promise<number> {
  return listenOnce(0);
}

/** True when nothing listens on 127.0.0.1:`port` (it can be bound right now). */
export async function isPortFree(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}
