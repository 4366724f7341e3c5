import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { ROLE_SERVICE_NAME, type RoleServiceClient } from '@batchgate/contracts/role/v1/role';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { startTestStack, testServiceCredentials, type TestDatabase, type TestStack, simClient } from '@batchgate/testing';

export interface RoleStack {
  services: TestStack;
  database: TestDatabase;
  /** gRPC client of replica 0. */
  role: RoleServiceClient;
  /** A gRPC client of another replica (closed with the stack). */
  clientOf: (replica: number) => RoleServiceClient;
  metricsUrl: (replica?: number) => string;
  sim: <T = unknown>(path: string, body?: unknown) => Promise<T>;
  stop: () => Promise<void>;
}

/** role (and the simulator it calls) from the one test stack: fresh database and work queue, shared NATS and MySQL. */
export async function startRoleStack(options: { env?: Record<string, string>; replicas?: number } = {}): Promise<RoleStack> {
  const services = await startTestStack({ processes: ['role'], env: { role: options.env ?? {} }, replicas: { role: options.replicas ?? 1 } });
  const simUrl = services.url('upstream-sim', 'http');
  const closers: Array<() => void> = [];
  const clientOf = (replica: number) => {
    const { client, close } = createGrpcClient<RoleServiceClient>({
      proto: 'role',
      service: ROLE_SERVICE_NAME,
      url: services.url('role', 'grpc', replica),
      deadlineMs: 30_000,
      registry: new Registry(),
      credentials: testServiceCredentials,
    });
    closers.push(close);
    return client;
  };
  return {
    services,
    database: services.database('role'),
    role: clientOf(0),
    clientOf,
    metricsUrl: (replica = 0) => `${services.url('role', 'ops', replica)}/metrics`,
    sim: simClient(simUrl),
    stop: async () => {
      for (const close of closers) close();
      await services.stop();
    },
  };
}

/** A tenant of one test, with a persona profile in the four source tables. */
export async function seedProfile(database: TestDatabase, taskId = 'task-1'): Promise<{ tenant: string; taskId: string }> {
  const tenant = `t-${randomBytes(4).toString('hex')}`;
  await database.query('INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', [tenant, taskId, 'Ann', 'analyst']);
  await database.query('INSERT INTO talk_style (tenant, task_id, style) VALUES (?, ?, ?)', [tenant, taskId, 'plain']);
  await database.query('INSERT INTO knowledge (tenant, task_id, content) VALUES (?, ?, ?), (?, ?, ?)', [tenant, taskId, 'K-lines', tenant, taskId, 'banks']);
  await database.query('INSERT INTO product (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', [tenant, taskId, 'Brief', 'daily']);
  return { tenant, taskId };
}

/** Simulator counters of one route. */
export interface RouteStats {
  requests: number;
  inFlight: number;
  inFlightPeak: number;
  aborted: number;
  responses: Record<'2xx' | '3xx' | '4xx' | '5xx', number>;
}

export interface SimStats {
  routes: Record<string, RouteStats | undefined>;
  effects: Record<string, Record<string, { effects: number; repeats: number }> | undefined>;
}
