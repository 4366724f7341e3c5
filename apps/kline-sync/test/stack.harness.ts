import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { KLINE_SYNC_SERVICE_NAME, type KlineSyncServiceClient } from '@batchgate/contracts/klinesync/v1/klinesync';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { jobSubjects, jobWorkStream } from '@batchgate/platform/jobs';
import { startTestStack, type MysqlServer, type ServiceProcess, type TestDatabase, testServiceCredentials, simClient } from '@batchgate/testing';
import { SYNC_JOBS } from '../src/jobs/sync-job-kind';

export interface KlineStack {
  simUrl: string;
  tokenManager: TokenManagerServiceClient;
  klineSync: KlineSyncServiceClient;
  /** gRPC address of the first kline-sync replica (for a client with other settings). */
  klineSyncUrl: string;
  klineDatabase: TestDatabase;
  tokenDatabase: TestDatabase;
  nats: NatsConnection;
  processes: { sim: ServiceProcess; tokenManagers: readonly ServiceProcess[]; klineSync: readonly ServiceProcess[] };
  /** `/metrics` of each kline-sync replica. */
  klineSyncOpsUrls: readonly string[];
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
 * upstream-sim, token-manager and kline-sync as real processes of the test stack (free loopback
 * ports, each service with a fresh database), on the shared NATS and MySQL unless
 * `infrastructure` names others; every kline-sync replica balances its calls over the
 * token-manager replicas.
 */
export async function startKlineStack(
  klineEnv: Record<string, string> = {},
  tokenManagerReplicas = 1,
  { natsUrl = 'nats://127.0.0.1:4222', mysql }: StackInfrastructure = {},
): Promise<KlineStack> {
  const stack = await startTestStack({
    processes: ['kline-sync'],
    env: { 'kline-sync': klineEnv },
    replicas: { 'token-manager': tokenManagerReplicas },
    natsUrl,
    mysql,
  });
  const simUrl = stack.url('upstream-sim', 'http');
  const registry = new Registry();
  const tm = createGrpcClient<TokenManagerServiceClient>({ proto: 'tokens', service: TOKEN_MANAGER_SERVICE_NAME, url: stack.url('token-manager', 'grpc'), deadlineMs: 10_000, registry, credentials: testServiceCredentials });
  const ks = createGrpcClient<KlineSyncServiceClient>({ proto: 'klinesync', service: KLINE_SYNC_SERVICE_NAME, url: stack.url('kline-sync', 'grpc'), deadlineMs: 60_000, registry, credentials: testServiceCredentials });
  const nats = await connect({ servers: natsUrl, maxReconnectAttempts: -1 });
  return {
    simUrl,
    tokenManager: tm.client,
    klineSync: ks.client,
    klineSyncUrl: stack.url('kline-sync', 'grpc'),
    klineDatabase: stack.database('kline-sync'),
    tokenDatabase: stack.database('token-manager'),
    nats,
    processes: {
      sim: stack.process('upstream-sim'),
      get tokenManagers() {
        return stack.replicas('token-manager');
      },
      get klineSync() {
        return stack.replicas('kline-sync');
      },
    },
    get klineSyncOpsUrls() {
      return stack.replicas('kline-sync').map((_, i) => `${stack.url('kline-sync', 'ops', i)}/metrics`);
    },
    addKlineSyncReplica: () => stack.addReplica('kline-sync'),
    sim: simClient(simUrl),
    stop: async () => {
      tm.close();
      ks.close();
      await nats.close();
      await stack.stop();
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

/** Deletes the shared NATS's durable consumer of a test's work queue (its stream outlives the test). */
export async function deleteSyncWorkConsumer(nats: NatsConnection, queue: string): Promise<void> {
  const manager = await nats.jetstreamManager();
  await manager.consumers.delete(jobWorkStream(SYNC_JOBS.service), jobSubjects(SYNC_JOBS, queue).durable).catch(() => undefined);
}
