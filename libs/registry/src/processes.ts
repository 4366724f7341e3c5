/**
 * The deployable processes of batchgate: one entry per app that runs as its own process. `npm
 * start` (tools/start.ts) runs them from here, `npm run gen:deploy` writes docker-compose.yml's
 * services, the Kubernetes base and the Prometheus scrape jobs from here, and the registry test
 * fails when one of those misses a process. Adding a service = one entry here, then `npm run
 * gen:deploy`.
 *
 * Why a lib of its own (`libs/registry`, tag `type:registry`, no dependencies): tools/ scripts
 * and libs/testing (the test stacks) both read it, libs may not import apps, and production code
 * may not import libs/testing — so it can live in neither. It is plain data plus pure renderers.
 */

/** The listening sockets a process may have. */
export type PortRole = 'http' | 'grpc' | 'ops';

export interface ProcessPort {
  /** Environment variable the process reads this port from. */
  env: string;
  /** The port everywhere the registry deploys it (also the app's own default). */
  port: number;
}

/** An address of another process of the registry that this process calls. */
export interface Downstream {
  /** Its registry name (the registry test checks it exists). */
  process: string;
  /** Environment variable the caller reads the address from. */
  env: string;
  /** `grpc`: `host:port` of its gRPC port; `http`: `http://host:port` of its HTTP port. */
  via: 'grpc' | 'http';
}

/** Horizontal: replicas share the work (through NATS/MySQL), an autoscaler may add more. */
export interface HorizontalScaling {
  kind: 'horizontal';
  minReplicas: number;
  maxReplicas: number;
  /** Average CPU utilisation (% of the request) the autoscaler keeps. */
  targetCpuPercent: number;
}

/** Exactly one replica (state in memory), replaced by stopping the old one first. */
export interface SingleReplica {
  kind: 'single';
  /** Why it cannot scale. */
  reason: string;
}

export interface DeployableProcess {
  /** Process, image, Service and scrape-job name. */
  name: string;
  /** Entry point relative to the repository root (what `npm start` and the test stacks run). */
  entry: string;
  /** What `tools/build-app.mjs` builds: `docker build --build-arg APP=<app>`. */
  app: string;
  ports: Partial<Record<PortRole, ProcessPort>>;
  /** Listen-address variables; containers set them to 0.0.0.0. */
  hostEnv: readonly string[];
  /** The port and path answering 200 once the process serves (503 while starting or draining). */
  readiness: { port: PortRole; path: string };
  /** The port and path answering 200 while the process is alive. */
  liveness: { port: PortRole; path: string };
  /** Prometheus exposition. */
  metrics: { port: PortRole; path: string };
  /** The MySQL schema the process owns (created before it starts; migrations run at start). */
  database?: { name: string; env: string };
  /** Uses NATS JetStream (`NATS_URL`). */
  nats: boolean;
  downstream: readonly Downstream[];
  /** Variables read from the deployment's Secret (compose passes them from the host's environment). */
  secrets: readonly string[];
  /** Environment for containers (compose and Kubernetes) beyond ports, addresses and secrets. */
  containerEnv?: Record<string, string>;
  /** Environment for `npm start` only. */
  localEnv?: Record<string, string>;
  /** Environment every test stack gives it (faster polling than a deployment wants). */
  testEnv?: Record<string, string>;
  /**
   * Variables naming what must not be shared between stacks that run at once on one NATS
   * (JetStream work queues): each test stack sets them to names of its own.
   */
  perStackEnv?: readonly string[];
  scaling: HorizontalScaling | SingleReplica;
  /** Published on the host by docker-compose (the ports a person opens). */
  publish?: PortRole;
  /** `npm start`'s log prefix colour. */
  color: string;
}

const OPS_ENDPOINTS: Pick<DeployableProcess, 'readiness' | 'liveness' | 'metrics'> = {
  readiness: { port: 'ops', path: '/readyz' },
  liveness: { port: 'ops', path: '/healthz' },
  metrics: { port: 'ops', path: '/metrics' },
};

const HTTP_ENDPOINTS: Pick<DeployableProcess, 'readiness' | 'liveness' | 'metrics'> = {
  readiness: { port: 'http', path: '/readyz' },
  liveness: { port: 'http', path: '/healthz' },
  metrics: { port: 'http', path: '/metrics' },
};

/** gRPC services: the gRPC port, a side HTTP port for ops, their own schema, NATS. */
const GRPC_SERVICE_HOSTS = ['GRPC_HOST', 'OPS_HOST'];
const SERVICE_SECRETS = ['DB_PASSWORD', 'SERVICE_AUTH_SECRET'];

const WORKER_SCALING: HorizontalScaling = {
  kind: 'horizontal',
  minReplicas: 2,
  maxReplicas: 10,
  targetCpuPercent: 70,
};

/** In start order: a process comes after everything it calls. */
export const PROCESSES: readonly DeployableProcess[] = [
  {
    name: 'upstream-sim',
    entry: 'apps/upstream-sim/src/main.ts',
    app: 'upstream-sim',
    ports: { http: { env: 'SIM_PORT', port: 4100 } },
    hostEnv: ['SIM_HOST'],
    ...HTTP_ENDPOINTS,
    nats: false,
    downstream: [],
    secrets: [],
    // Article URLs it hands out must resolve for the other containers.
    containerEnv: { SIM_PUBLIC_URL: 'http://upstream-sim:4100' },
    // Some latency and a few failures, and 12 demo market-data tokens (demo-itick-token-1..12).
    localEnv: { SIM_PROFILE: 'demo' },
    scaling: {
      kind: 'single',
      reason: 'the simulated outside world (tokens, quotas, faults) lives in its memory',
    },
    publish: 'http',
    color: 'gray',
  },
  // new-service: processes
  {
    name: 'token-manager',
    entry: 'apps/token-manager/src/main.ts',
    app: 'token-manager',
    ports: { grpc: { env: 'GRPC_PORT', port: 50051 }, ops: { env: 'OPS_PORT', port: 9101 } },
    hostEnv: GRPC_SERVICE_HOSTS,
    ...OPS_ENDPOINTS,
    database: { name: 'batchgate_tokens', env: 'DB_NAME' },
    nats: true,
    downstream: [],
    secrets: [...SERVICE_SECRETS, 'TOKEN_ENCRYPTION_KEY'],
    testEnv: { OUTBOX_POLL_MS: '50' },
    scaling: WORKER_SCALING,
    color: 'magenta',
  },
  {
    name: 'kline-sync',
    entry: 'apps/kline-sync/src/main.ts',
    app: 'kline-sync',
    ports: { grpc: { env: 'GRPC_PORT', port: 50055 }, ops: { env: 'OPS_PORT', port: 9105 } },
    hostEnv: GRPC_SERVICE_HOSTS,
    ...OPS_ENDPOINTS,
    database: { name: 'batchgate_kline_sync', env: 'DB_NAME' },
    nats: true,
    downstream: [
      { process: 'token-manager', env: 'TOKEN_MANAGER_URL', via: 'grpc' },
      { process: 'upstream-sim', env: 'ITICK_BASE_URL', via: 'http' },
    ],
    secrets: SERVICE_SECRETS,
    testEnv: { OUTBOX_POLL_MS: '50' },
    perStackEnv: ['SYNC_WORK_QUEUE'],
    // Replicas share one JetStream work queue; CPU tracks the stocks in hand closely enough.
    scaling: WORKER_SCALING,
    color: 'yellow',
  },
  {
    name: 'offline',
    entry: 'apps/offline/src/main.ts',
    app: 'offline',
    ports: { grpc: { env: 'GRPC_PORT', port: 50052 }, ops: { env: 'OPS_PORT', port: 9102 } },
    hostEnv: GRPC_SERVICE_HOSTS,
    ...OPS_ENDPOINTS,
    database: { name: 'batchgate_offline', env: 'DB_NAME' },
    nats: true,
    downstream: [{ process: 'upstream-sim', env: 'MARKETPLACE_BASE_URL', via: 'http' }],
    secrets: SERVICE_SECRETS,
    testEnv: { OUTBOX_POLL_MS: '50', OFFLINE_POLL_INTERVAL_MS: '10' },
    perStackEnv: ['OFFLINE_WORK_QUEUE'],
    // Replicas share one JetStream work queue (a batch to one replica at a time).
    scaling: WORKER_SCALING,
    color: 'blue',
  },
  {
    name: 'role',
    entry: 'apps/role/src/main.ts',
    app: 'role',
    ports: { grpc: { env: 'GRPC_PORT', port: 50053 }, ops: { env: 'OPS_PORT', port: 9103 } },
    hostEnv: GRPC_SERVICE_HOSTS,
    ...OPS_ENDPOINTS,
    database: { name: 'batchgate_role', env: 'DB_NAME' },
    nats: true,
    downstream: [
      { process: 'upstream-sim', env: 'CHAT_BASE_URL', via: 'http' },
      { process: 'upstream-sim', env: 'WEBHOOK_BASE_URL', via: 'http' },
    ],
    secrets: [...SERVICE_SECRETS, 'CHAT_API_KEY'],
    testEnv: { OUTBOX_POLL_MS: '20', ROLE_RETRY_DELAY_MS: '100', CHAT_RETRY_BASE_MS: '50' },
    perStackEnv: ['ROLE_JOBS_QUEUE'],
    // Replicas share one JetStream work queue of persona tasks; post batches are per request.
    scaling: WORKER_SCALING,
    color: 'green',
  },
  {
    name: 'publish',
    entry: 'apps/publish/src/main.ts',
    app: 'publish',
    ports: { grpc: { env: 'GRPC_PORT', port: 50054 }, ops: { env: 'OPS_PORT', port: 9104 } },
    hostEnv: GRPC_SERVICE_HOSTS,
    ...OPS_ENDPOINTS,
    database: { name: 'batchgate_publish', env: 'DB_NAME' },
    nats: true,
    downstream: [{ process: 'upstream-sim', env: 'PLATFORM_BASE_URL', via: 'http' }],
    secrets: SERVICE_SECRETS,
    testEnv: { OUTBOX_POLL_MS: '50', PUBLISH_VERIFY_POLL_MS: '50' },
    perStackEnv: ['PUBLISH_WORK_QUEUE'],
    // Replicas share one JetStream work queue and keep the per-user limits in MySQL.
    scaling: WORKER_SCALING,
    color: 'blue',
  },
  {
    name: 'gateway',
    entry: 'apps/gateway/src/main.ts',
    app: 'gateway',
    ports: { http: { env: 'HTTP_PORT', port: 3000 } },
    hostEnv: ['HTTP_HOST'],
    ...HTTP_ENDPOINTS,
    nats: false,
    downstream: [
      // new-service: gateway downstream
      { process: 'token-manager', env: 'TOKEN_MANAGER_URL', via: 'grpc' },
      { process: 'kline-sync', env: 'KLINE_SYNC_URL', via: 'grpc' },
      { process: 'offline', env: 'OFFLINE_URL', via: 'grpc' },
      { process: 'role', env: 'ROLE_URL', via: 'grpc' },
      { process: 'publish', env: 'PUBLISH_URL', via: 'grpc' },
    ],
    secrets: ['JWT_SECRET', 'SERVICE_AUTH_SECRET'],
    scaling: WORKER_SCALING,
    publish: 'http',
    color: 'cyan',
  },
];

/** The process named `name`. */
export function processNamed(name: string): DeployableProcess {
  const found = PROCESSES.find((p) => p.name === name);
  if (!found) throw new Error(`no process ${name} in the registry`);
  return found;
}

/** The port a process listens on for `role`; a registry entry naming a port it lacks is a bug. */
export function portOf(process: DeployableProcess, role: PortRole): ProcessPort {
  const port = process.ports[role];
  if (!port) throw new Error(`${process.name} has no ${role} port`);
  return port;
}

/** The processes that call `process` on its `role` port. */
export function callersOf(process: DeployableProcess, role: PortRole): DeployableProcess[] {
  return PROCESSES.filter((caller) =>
    caller.downstream.some((call) => call.process === process.name && call.via === role),
  );
}

/** The port process `name` listens on for `role` in a deployment. */
export type PortLookup = (name: string, role: PortRole) => number;

/** The registry's own ports (npm start, compose, Kubernetes). */
const registryPort: PortLookup = (name, role) => portOf(processNamed(name), role).port;

/**
 * The environment that points `process` at its ports and at the processes it calls, given where
 * each process of the deployment listens (`hostOf`) and on which port (`portFor`; the registry's
 * own by default — the test stacks pass free ports).
 */
export function addressEnv(
  process: DeployableProcess,
  hostOf: (name: string) => string,
  portFor: PortLookup = registryPort,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [role, port] of Object.entries(process.ports) as Array<[PortRole, ProcessPort]>) {
    env[port.env] = String(portFor(process.name, role));
  }
  for (const call of process.downstream) {
    const address = `${hostOf(call.process)}:${portFor(call.process, call.via)}`;
    env[call.env] = call.via === 'http' ? `http://${address}` : address;
  }
  if (process.database) env[process.database.env] = process.database.name;
  return env;
}

/** Where `process` answers its readiness check, on `host` (at the registry's port unless `portFor` says otherwise). */
export function readinessUrl(
  process: DeployableProcess,
  host = '127.0.0.1',
  portFor: PortLookup = registryPort,
): string {
  return `http://${host}:${portFor(process.name, process.readiness.port)}${process.readiness.path}`;
}
