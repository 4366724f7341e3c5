import { createServer } from 'node:net';

/**
 * Ports are handed out below the kernel's ephemeral range (32768–60999 on Linux), from a block
 * of its own for each jest worker. A port taken from that range with `listen(0)` and released
 * could become any outgoing connection's local port (a MySQL, NATS or HTTP client in a parallel
 * test) before the process it was meant for bound it: a service then failed to start with
 * EADDRINUSE now and then. A block per worker keeps parallel test files from choosing the same
 * port between the check and the bind.
 */
const FIRST_PORT = 20_000;
const PORTS_PER_WORKER = 500;
/** Blocks that fit below the ephemeral range: 20,000 + 25 × 500 = 32,500. */
const WORKER_BLOCKS = 25;
let nextInBlock = 0;

/**
 * A TCP port free on 127.0.0.1 now, which no other caller of this function (in this process or
 * another jest worker) is given while it is in use. Needed because Nest's gRPC server cannot
 * report the port it bound for `:0`, so tests and `npm start` choose one first.
 */
export async function freePort(): Promise<number> {
  const worker = Number(process.env['JEST_WORKER_ID'] ?? 0) % WORKER_BLOCKS;
  const blockStart = FIRST_PORT + worker * PORTS_PER_WORKER;
  for (let tried = 0; tried < PORTS_PER_WORKER; tried++) {
    const port = blockStart + (nextInBlock++ % PORTS_PER_WORKER);
    if (await isPortFree(port)) return port;
  }
  throw new Error(`no free port in ${blockStart}-${blockStart + PORTS_PER_WORKER - 1}`);
}

/** True when nothing listens on 127.0.0.1:`port` (it can be bound right now). */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
