import { Registry } from 'prom-client';
import { OFFLINE_SERVICE_NAME, type OfflineServiceClient } from '@batchgate/contracts/offline/v1/offline';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { startTestStack, testServiceCredentials, type TestDatabase, type TestStack, simClient } from '@batchgate/testing';

export interface OfflineStack {
  services: TestStack;
  simUrl: string;
  /** A client of the first offline replica. */
  offline: OfflineServiceClient;
  /** A client of one replica only. */
  replicaClient: (replica: number) => OfflineServiceClient;
  /** A client of the first replica whose calls have this deadline. */
  clientWithDeadline: (deadlineMs: number) => OfflineServiceClient;
  database: TestDatabase;
  /** `/metrics` of a replica. */
  metricsUrl: (replica?: number) => string;
  sim: <T = unknown>(path: string, body?: unknown) => Promise<T>;
  /** Effects and repeats of de-lists at the simulated marketplace, by product id. */
  effects: () => Promise<Record<string, { effects: number; repeats: number }>>;
  /** Requests the simulated marketplace got on one route (`marketplace.conversation`, ...). */
  requests: (route: string) => Promise<number>;
  stop: () => Promise<void>;
}

type Stats = { routes: Record<string, { requests: number }>; effects: Record<string, Record<string, { effects: number; repeats: number }>> };

/** upstream-sim and offline replicas as real processes of the test stack (fresh database and work queue). */
export async function startOfflineStack(env: Record<string, string> = {}, replicas = 1): Promise<OfflineStack> {
  const services = await startTestStack({ processes: ['offline'], env: { offline: env }, replicas: { offline: replicas } });
  const simUrl = services.url('upstream-sim', 'http');
  const registry = new Registry();
  const closers: Array<() => void> = [];
  const clientOf = (url: string, deadlineMs = 60_000) => {
    const { client, close } = createGrpcClient<OfflineServiceClient>({
      proto: 'offline',
      service: OFFLINE_SERVICE_NAME,
      url,
      deadlineMs,
      registry,
      credentials: testServiceCredentials,
    });
    closers.push(close);
    return client;
  };
  const sim = simClient(simUrl);
  return {
    services,
    simUrl,
    offline: clientOf(services.url('offline', 'grpc')),
    replicaClient: (replica) => clientOf(services.url('offline', 'grpc', replica)),
    clientWithDeadline: (deadlineMs) => clientOf(services.url('offline', 'grpc'), deadlineMs),
    database: services.database('offline'),
    metricsUrl: (replica = 0) => `${services.url('offline', 'ops', replica)}/metrics`,
    sim,
    effects: async () => (await sim<Stats>('/__sim/stats')).effects['marketplace.offline'] ?? {},
    requests: async (route) => (await sim<Stats>('/__sim/stats')).routes[route]?.requests ?? 0,
    stop: async () => {
      for (const close of closers) close();
      await services.stop();
    },
  };
}

export const TENANT = 'shop-1';
export const owner = (tenant = TENANT, userId = 'alice') => ({ tenant, userId });
