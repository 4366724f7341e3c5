import { Registry } from 'prom-client';
import { PUBLISH_SERVICE_NAME, type PublishServiceClient } from '@batchgate/contracts/publish/v1/publish';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { startTestStack, testServiceCredentials, type TestStack, simClient } from '@batchgate/testing';

export interface PublishStack {
  services: TestStack;
  simUrl: string;
  /** A client of the first replica. */
  publish: PublishServiceClient;
  /** A client of replica `index` (started with the stack or by {@link PublishStack.addReplica}). */
  clientOf: (index: number) => PublishServiceClient;
  /** Starts one more replica on the same database and work queue. */
  addReplica: () => Promise<void>;
  sim: <T = unknown>(path: string, body?: unknown) => Promise<T>;
  query: <T>(sql: string, params?: unknown[]) => Promise<T[]>;
  stop: () => Promise<void>;
}

/** What the simulator counted for one idempotency key of `publish.article`. */
export interface EffectRecord {
  effects: number;
  repeats: number;
}

/**
 * upstream-sim and `replicas` publish processes (the registry's test stack): one fresh database
 * and work queue shared by the replicas, on the shared MySQL and NATS.
 */
export async function startPublishStack(env: Record<string, string> = {}, replicas = 1): Promise<PublishStack> {
  const services = await startTestStack({
    processes: ['publish'],
    env: { publish: { PUBLISH_RETRY_DELAY_MS: '100', ...env } },
    replicas: { publish: replicas },
  });
  const registry = new Registry();
  const clients: Array<{ client: PublishServiceClient; close: () => void }> = [];
  const connect = (index: number) =>
    clients.push(
      createGrpcClient<PublishServiceClient>({
        proto: 'publish',
        service: PUBLISH_SERVICE_NAME,
        url: services.url('publish', 'grpc', index),
        deadlineMs: 30_000,
        registry,
        credentials: testServiceCredentials,
      }),
    );
  for (let i = 0; i < replicas; i++) connect(i);
  const clientOf = (index: number) => {
    const client = clients[index]?.client;
    if (!client) throw new Error(`no publish replica ${index}`);
    return client;
  };
  const simUrl = services.url('upstream-sim', 'http');
  return {
    services,
    simUrl,
    publish: clientOf(0),
    clientOf,
    addReplica: async () => {
      await services.addReplica('publish');
      connect(clients.length);
    },
    sim: simClient(simUrl),
    query: (sql, params) => services.database('publish').query(sql, params),
    stop: async () => {
      for (const { close } of clients) close();
      await services.stop();
    },
  };
}

/** The simulator's effects of `publish.article`, by idempotency key (= task id). */
export async function publishEffects(stack: PublishStack): Promise<Record<string, EffectRecord>> {
  const stats = await stack.sim<{ effects: Record<string, Record<string, EffectRecord>> }>('/__sim/stats');
  return stats.effects['publish.article'] ?? {};
}

export const TENANT = 'acme';

export function article(n: number, title = `Article ${n}`) {
  return { title, content: `Content of article ${n}`, articleId: String(n) };
}
