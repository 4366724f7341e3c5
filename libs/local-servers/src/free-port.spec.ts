import { createServer, type Server } from 'node:net';
import { freePort, isPortFree } from './free-port';

const listenOn = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range, in the block of this jest worker', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    expect(new Set(ports).size).toBe(3);
    const block = 20_000 + (Number(process.env['JEST_WORKER_ID'] ?? 0) % 25) * 500;
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(block);
      expect(port).toBeLessThan(Math.min(block + 500, 32_768));
    }
  });

  it('skips a port something already listens on', async () => {
    const taken = await freePort();
    const server = await listenOn(taken + 1);
    try {
      expect(await isPortFree(taken + 1)).toBe(false);
      const next = await freePort();
      expect(next).not.toBe(taken + 1);
      expect(await isPortFree(next)).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
