import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNats, type NatsServer } from '@batchgate/local-servers';

export type PrivateNatsServer = NatsServer;

/**
 * A NATS server with JetStream of the test's own, on a free loopback port with a store directory
 * under the OS temp dir. A SIGKILL keeps what reached the store; `stop` deletes it.
 */
export async function startNatsServer(): Promise<PrivateNatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), 'batchgate-nats-'));
  const server = await startNats({ port: await freePort(), storeDir });
  return {
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
