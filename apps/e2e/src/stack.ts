import { SignJWT } from 'jose';
import { connect, type NatsConnection } from 'nats';
import { createTestDatabase, freePort, spawnService, type ServiceProcess, type TestDatabase } from '@batchgate/testing';
import { checkedFetchFor, type OpenApiResponses } from './openapi-responses';

/** Must match the gateway's local default (apps/gateway/src/config/gateway.config.ts). */
const JWT_SECRET = 'e2e-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface Stack {
  gatewayUrl: string;
  /**
   * A request to the gateway (`path` such as `/api/tokens?size=1`) whose answer is checked against
   * the gateway's own OpenAPI document: an undocumented status or a body that does not match its
   * schema rejects, failing the test that made the call. Every e2e request to the gateway goes
   * through it.
   */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  /** The checker behind `fetch`, and how many answers it has checked. */
  openApi: { responses: OpenApiResponses; checked: () => number };
  /** Set when started with kline-sync: the simulator's base URL. */
  simUrl?: string;
  tokenManagerOpsUrl: string;
  /** Set when started with kline-sync: its ops server (`/metrics`, `/healthz`, `/readyz`). */
  klineSyncOpsUrl?: string;
  tokenDatabase: TestDatabase;
  /** Set when started with kline-sync. */
  klineDatabase?: TestDatabase;
  nats: NatsConnection;
  processes: { gateway: ServiceProcess; tokenManager: ServiceProcess; others: ServiceProcess[] };
  mintToken: (claims: { perms: string[]; sub?: string; tenant?: string; expiresIn?: string | null }) => Promise<string>;
  stop: () => Promise<{ gateway: number | string; tokenManager: number | string }>;
}

/**
 * The stack as separate processes on free loopback ports, each service with a fresh database;
 * with `klineSync`, also upstream-sim and kline-sync (on its own work queue); `gatewayEnv` adds to
 * the gateway's environment, `serviceEnv` to token-manager's and kline-sync's.
 */
export async function startStack(
  options: { klineSync?: boolean; gatewayEnv?: Record<string, string>; serviceEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const tokenDatabase = await createTestDatabase('e2e_tokens');
  const [grpcPort, tmOpsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const others: ServiceProcess[] = [];
  const databases: TestDatabase[] = [];
  let simUrl: string | undefined;
  let klineSyncUrl = '127.0.0.1:1';
  let klineSyncOpsUrl: string | undefined;
  let klineDatabase: TestDatabase | undefined;
  const tokenManager = await spawnService({
    entry: 'apps/token-manager/src/main.ts',
    env: { ...tokenDatabase.env, GRPC_PORT: String(grpcPort), OPS_PORT: String(tmOpsPort), OUTBOX_POLL_MS: '50', ...options.serviceEnv },
    readyUrl: `http://127.0.0.1:${tmOpsPort}/readyz`,
  });
  if (options.klineSync) {
    const [simPort, ksGrpc, ksOps] = [await freePort(), await freePort(), await freePort()];
    simUrl = `http://127.0.0.1:${simPort}`;
    others.push(await spawnService({ entry: 'apps/upstream-sim/src/main.ts', env: { SIM_PORT: String(simPort) }, readyUrl: `${simUrl}/readyz` }));
    klineDatabase = await createTestDatabase('e2e_kline');
    databases.push(klineDatabase);
    others.push(
      await spawnService({
        entry: 'apps/kline-sync/src/main.ts',
        env: {
          ...klineDatabase.env,
          GRPC_PORT: String(ksGrpc),
          OPS_PORT: String(ksOps),
          TOKEN_MANAGER_URL: `127.0.0.1:${grpcPort}`,
          ITICK_BASE_URL: simUrl,
          SYNC_WORK_QUEUE: `e2e${Date.now().toString(36)}`,
          OUTBOX_POLL_MS: '50',
          ...options.serviceEnv,
        },
        readyUrl: `http://127.0.0.1:${ksOps}/readyz`,
      }),
    );
    klineSyncUrl = `127.0.0.1:${ksGrpc}`;
    klineSyncOpsUrl = `http://127.0.0.1:${ksOps}`;
  }
  const gateway = await spawnService({
    entry: 'apps/gateway/src/main.ts',
    env: {
      HTTP_PORT: String(httpPort),
      TOKEN_MANAGER_URL: `127.0.0.1:${grpcPort}`,
      KLINE_SYNC_URL: klineSyncUrl,
      JWT_SECRET,
      BODY_LIMIT_BYTES: '16384',
      ...options.gatewayEnv,
    },
    readyUrl: `http://127.0.0.1:${httpPort}/readyz`,
  });
  const nats = await connect({ servers: 'nats://127.0.0.1:4222' });
  const gatewayUrl = `http://127.0.0.1:${httpPort}`;
  const checked = await checkedFetchFor(gatewayUrl);
  return {
    gatewayUrl,
    fetch: checked.fetch,
    openApi: { responses: checked.responses, checked: checked.checked },
    simUrl,
    tokenManagerOpsUrl: `http://127.0.0.1:${tmOpsPort}`,
    klineSyncOpsUrl,
    tokenDatabase,
    klineDatabase,
    nats,
    processes: { gateway, tokenManager, others },
    mintToken: async ({ perms, sub = 'alice', tenant = 'acme', expiresIn = '5m' }) => {
      // `sub` in the payload, not through setSubject (which refuses a non-string): tests sign bad claims too.
      let jwt = new SignJWT({ sub, tenant, perms }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
      if (expiresIn !== null) jwt = jwt.setExpirationTime(expiresIn);
      return jwt.sign(new TextEncoder().encode(JWT_SECRET));
    },
    stop: async () => {
      await nats.close();
      const gatewayExit = await gateway.stop();
      await Promise.all(others.map((p) => p.stop()));
      const tokenManagerExit = await tokenManager.stop();
      await Promise.all([tokenDatabase, ...databases].map((d) => d.drop()));
      return { gateway: gatewayExit, tokenManager: tokenManagerExit };
    },
  };
}
