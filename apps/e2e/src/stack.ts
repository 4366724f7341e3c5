import { SignJWT } from 'jose';
import { connect, type NatsConnection } from 'nats';
import { createTestDatabase, freePort, spawnService, type ServiceProcess, type TestDatabase } from '@batchgate/testing';

/** Must match the gateway's local default (apps/gateway/src/config/gateway.config.ts). */
const JWT_SECRET = 'e2e-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface Stack {
  gatewayUrl: string;
  tokenManagerOpsUrl: string;
  tokenDatabase: TestDatabase;
  nats: NatsConnection;
  processes: { gateway: ServiceProcess; tokenManager: ServiceProcess };
  mintToken: (claims: { perms: string[]; sub?: string; tenant?: string; expiresIn?: string | null }) => Promise<string>;
  stop: () => Promise<{ gateway: number | string; tokenManager: number | string }>;
}

/** The stack as separate processes on free loopback ports, each service with a fresh database. */
export async function startStack(): Promise<Stack> {
  const tokenDatabase = await createTestDatabase('e2e_tokens');
  const [grpcPort, tmOpsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const tokenManager = await spawnService({
    entry: 'apps/token-manager/src/main.ts',
    env: { ...tokenDatabase.env, GRPC_PORT: String(grpcPort), OPS_PORT: String(tmOpsPort), OUTBOX_POLL_MS: '50' },
    readyUrl: `http://127.0.0.1:${tmOpsPort}/readyz`,
  });
  const gateway = await spawnService({
    entry: 'apps/gateway/src/main.ts',
    env: { HTTP_PORT: String(httpPort), TOKEN_MANAGER_URL: `127.0.0.1:${grpcPort}`, JWT_SECRET, BODY_LIMIT_BYTES: '16384' },
    readyUrl: `http://127.0.0.1:${httpPort}/readyz`,
  });
  const nats = await connect({ servers: 'nats://127.0.0.1:4222' });
  return {
    gatewayUrl: `http://127.0.0.1:${httpPort}`,
    tokenManagerOpsUrl: `http://127.0.0.1:${tmOpsPort}`,
    tokenDatabase,
    nats,
    processes: { gateway, tokenManager },
    mintToken: async ({ perms, sub = 'alice', tenant = 'acme', expiresIn = '5m' }) => {
      let jwt = new SignJWT({ tenant, perms }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt();
      if (expiresIn !== null) jwt = jwt.setExpirationTime(expiresIn);
      return jwt.sign(new TextEncoder().encode(JWT_SECRET));
    },
    stop: async () => {
      await nats.close();
      const gatewayExit = await gateway.stop();
      const tokenManagerExit = await tokenManager.stop();
      await tokenDatabase.drop();
      return { gateway: gatewayExit, tokenManager: tokenManagerExit };
    },
  };
}
