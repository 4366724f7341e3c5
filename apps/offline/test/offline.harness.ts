import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { OFFLINE_SERVICE_NAME, type OfflineServiceClient } from '@batchgate/contracts/offline/v1/offline';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { createTestDatabase, freePort, spawnService, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@batchgate/testing';

export interface OfflineStack {
  simUrl: string;
  /** A client of the first replica. */
  offline: OfflineServiceClient;
  database: TestDatabase;
  replicas: ServiceProcess[];
  /** `/metrics` of each replica. */
  opsUrls: string[];
  /** One more replica on the same database and work queue. */
  addReplica: () => Promise<{ process: ServiceProcess; client: OfflineServiceClient }>;
  sim: <T = unknown>(path: string, body?: unknown) => Promise<T>;
  /** Effects and repeats of de-lists at the simulated marketplace, by product id. */
  effects: () => Promise<Record<string, { effects: number; repeats: number }>>;
  /** Requests the simulated marketplace got on one route (`marketplace.conversation`, ...). */
  requests: (route: string) => Promise<number>;
  stop: () => Promise<void>;
}

/** upstream-sim and offline replicas as real processes on free loopback ports, with a fresh database and work queue. */
export async function startOfflineStack(env: Record<string, string> = {}): Promise<OfflineStack> {
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const database = await createTestDatabase('offline');
  const queue = `t${randomBytes(4).toString('hex')}`;
  const sim = await spawnService({ entry: 'apps/upstream-sim/src/main.ts', env: { SIM_PORT: String(simPort) }, readyUrl: `${simUrl}/readyz` });
  const replicas: ServiceProcess[] = [];
  const opsUrls: string[] = [];
  const closers: Array<() => void> = [];
  const registry = new Registry();
  const addReplica = async () => {
    const [grpc, ops] = [await freePort(), await freePort()];
    const process = await spawnService({
      entry: 'apps/offline/src/main.ts',
      env: {
        ...database.env,
        GRPC_PORT: String(grpc),
        OPS_PORT: String(ops),
        OUTBOX_POLL_MS: '50',
        MARKETPLACE_BASE_URL: simUrl,
        OFFLINE_WORK_QUEUE: queue,
        OFFLINE_POLL_INTERVAL_MS: '10',
        ...env,
      },
      readyUrl: `http://127.0.0.1:${ops}/readyz`,
    });
    replicas.push(process);
    opsUrls.push(`http://127.0.0.1:${ops}/metrics`);
    const { client, close } = createGrpcClient<OfflineServiceClient>({
      proto: 'offline',
      service: OFFLINE_SERVICE_NAME,
      url: `127.0.0.1:${grpc}`,
      deadlineMs: 60_000,
      registry,
      credentials: testServiceCredentials,
    });
    closers.push(close);
    return { process, client };
  };
  const first = await addReplica();
  const simCall = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${simUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sim ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  type Stats = { routes: Record<string, { requests: number }>; effects: Record<string, Record<string, { effects: number; repeats: number }>> };
  return {
    simUrl,
    offline: first.client,
    database,
    replicas,
    opsUrls,
    addReplica,
    sim: simCall,
    effects: async () => (await simCall<Stats>('/__sim/stats')).effects['marketplace.offline'] ?? {},
    requests: async (route) => (await simCall<Stats>('/__sim/stats')).routes[route]?.requests ?? 0,
    stop: async () => {
      for (const close of closers) close();
      await Promise.all(replicas.map((replica) => replica.stop()));
      await sim.stop();
      await database.drop();
    },
  };
}

export const TENANT = 'shop-1';
export const owner = (tenant = TENANT, userId = 'alice') => ({ tenant, userId });
