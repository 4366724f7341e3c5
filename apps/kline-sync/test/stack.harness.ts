import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { KLINE_SYNC_SERVICE_NAME, type KlineSyncServiceClient } from '@batchgate/contracts/klinesync/v1/klinesync';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient } from '@batchgate/platform/grpc';
import {
  createTestDatabase,
  freePort,
  spawnService,
  type MysqlServer,
  type ServiceProcess,
  type TestDatabase,
  testServiceCredentials,
} from '@batchgate/testing';

export interface KlineStack {
  simUrl: string;
  tokenManager: TokenManagerServiceClient;
  klineSync: KlineSyncServiceClient;
  /** gRPC address of the first kline-sync replica (for a client with other settings). */
  klineSyncUrl: string;
  klineDatabase: TestDatabase;
  tokenDatabase: TestDatabase;
  nats: NatsConnection;
  processes: { sim: ServiceProcess; tokenManagers: ServiceProcess[]; klineSync: ServiceProcess[] };
  /** `/metrics` of each kline-sync replica. */
  klineSyncOpsUrls: string[];
  /** Starts one more kline-sync replica against the same databases and queue. */
  addKlineSyncReplica: () => Promise<ServiceProcess>;
  sim: (path: string, body?: unknown) => Promise<unknown>;
  stop: () => Promise<void>;
}

/** The NATS and MySQL the stack runs on, when not the shared ones (a test that crashes them). */
export interface StackInfrastructure {
  natsUrl?: string;
  mysql?: MysqlServer;
}

/**
 * upstream-sim, token-manager and kline-sync as real processes on free loopback ports, each
 * service with a fresh database, on the shared NATS and MySQL unless `infrastructure` names others.
 */
export async function startKlineStack(
  klineEnv: Record<string, string> = {},
  tokenManagerReplicas = 1,
  { natsUrl = 'nats://127.0.0.1:4222', mysql }: StackInfrastructure = {},
): Promise<KlineStack> {
  const [simPort, ksGrpc] = [await freePort(), await freePort()];
  const tokenDatabase = await createTestDatabase('ks_tokens', mysql);
  const klineDatabase = await createTestDatabase('ks_kline', mysql);
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = await spawnService({ entry: 'apps/upstream-sim/src/main.ts', env: { SIM_PORT: String(simPort) }, readyUrl: `${simUrl}/readyz` });
  // token-manager replicas share one database; kline-sync replica i talks to token-manager i mod n.
  const tokenManagers: Array<{ process: ServiceProcess; grpcPort: number }> = [];
  for (let i = 0; i < tokenManagerReplicas; i++) {
    const [grpcPort, opsPort] = [await freePort(), await freePort()];
    const process = await spawnService({
      entry: 'apps/token-manager/src/main.ts',
      env: { ...tokenDatabase.env, NATS_URL: natsUrl, GRPC_PORT: String(grpcPort), OPS_PORT: String(opsPort), OUTBOX_POLL_MS: '50' },
      readyUrl: `http://127.0.0.1:${opsPort}/readyz`,
    });
    tokenManagers.push({ process, grpcPort });
  }
  const tmGrpc = tokenManagers[0]?.grpcPort ?? 0;
  const replicas: ServiceProcess[] = [];
  const klineSyncOpsUrls: string[] = [];
  const addKlineSyncReplica = async () => {
    const ops = await freePort();
    const grpc = replicas.length === 0 ? ksGrpc : await freePort();
    const replica = await spawnService({
      entry: 'apps/kline-sync/src/main.ts',
      env: {
        ...klineDatabase.env,
        NATS_URL: natsUrl,
        GRPC_PORT: String(grpc),
        OPS_PORT: String(ops),
        OUTBOX_POLL_MS: '50',
        TOKEN_MANAGER_URL: `127.0.0.1:${tokenManagers[replicas.length % tokenManagers.length]?.grpcPort}`,
        ITICK_BASE_URL: simUrl,
        ...klineEnv,
      },
      readyUrl: `http://127.0.0.1:${ops}/readyz`,
    });
    replicas.push(replica);
    klineSyncOpsUrls.push(`http://127.0.0.1:${ops}/metrics`);
    return replica;
  };
  await addKlineSyncReplica();
  const registry = new Registry();
  const tm = createGrpcClient<TokenManagerServiceClient>({ proto: 'tokens', service: TOKEN_MANAGER_SERVICE_NAME, url: `127.0.0.1:${tmGrpc}`, deadlineMs: 10_000, registry, credentials: testServiceCredentials });
  const ks = createGrpcClient<KlineSyncServiceClient>({ proto: 'klinesync', service: KLINE_SYNC_SERVICE_NAME, url: `127.0.0.1:${ksGrpc}`, deadlineMs: 60_000, registry, credentials: testServiceCredentials });
  const nats = await connect({ servers: natsUrl, maxReconnectAttempts: -1 });
  return {
    simUrl,
    tokenManager: tm.client,
    klineSync: ks.client,
    klineSyncUrl: `127.0.0.1:${ksGrpc}`,
    klineDatabase,
    tokenDatabase,
    nats,
    processes: { sim, tokenManagers: tokenManagers.map((t) => t.process), klineSync: replicas },
    klineSyncOpsUrls,
    addKlineSyncReplica,
    sim: async (path, body) => {
      const response = await fetch(`${simUrl}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`sim ${path}: HTTP ${response.status} ${await response.text()}`);
      return response.json();
    },
    stop: async () => {
      tm.close();
      ks.close();
      await nats.close();
      await Promise.all(replicas.map((r) => r.stop()));
      await Promise.all(tokenManagers.map((t) => t.process.stop()));
      await sim.stop();
      await Promise.all([tokenDatabase.drop(), klineDatabase.drop()]);
    },
  };
}

/** The tenant the kline-sync tests work as, unless a test names another. */
export const TEST_TENANT = 'acme';

/**
 * `count` new market-data tokens, known to the simulated provider (its per-token rate and the
 * latency of every kline call) and registered at token-manager with the same rate, for `tenant`.
 */
export async function provideTokens(
  stack: KlineStack,
  options: { count: number; ratePerSecond: number; latencyMs: number; tenant?: string },
): Promise<string[]> {
  const secrets = Array.from({ length: options.count }, (_, i) => `tok-${randomBytes(3).toString('hex')}-${i}`);
  await stack.sim('/__sim/config', {
    routes: { 'market.kline': { latency: { kind: 'fixed', ms: options.latencyMs } } },
    market: { tokens: secrets.map((token) => ({ token, ratePerSecond: options.ratePerSecond })) },
  });
  for (const [i, secret] of secrets.entries()) {
    await lastValueFrom(
      stack.tokenManager.createToken({
        tenant: options.tenant ?? TEST_TENANT,
        provider: 'itick',
        name: `t${i}`,
        secret,
        dailyLimit: 0,
        rateLimitPerSecond: options.ratePerSecond,
        expireTime: '',
      }),
    );
  }
  return secrets;
}
