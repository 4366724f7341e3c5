import { randomBytes } from 'node:crypto';
import {
  addressEnv,
  PROCESSES,
  processNamed,
  readinessUrl,
  type DeployableProcess,
  type PortRole,
} from '@batchgate/registry';
import { freePort } from './free-port';
import { spawnService, type ServiceProcess } from './service-process';
import { createTestDatabase, type MysqlServer, type TestDatabase } from './test-database';

export interface TestStackOptions {
  /**
   * Registry processes to start (`libs/registry`). Each brings what it calls, except the gateway:
   * it is the entry point, and starts with whichever of its services the stack has (the others'
   * addresses lead nowhere, so their routes answer 503).
   */
  processes: readonly string[];
  /** Environment per process name; `'*'` applies to every process (a process's own wins). */
  env?: Record<string, Record<string, string>>;
  /**
   * Replicas per process (1 unless named). A caller reaches all replicas of a gRPC callee (its
   * client balances per call) and replica i mod n of an HTTP one.
   */
  replicas?: Record<string, number>;
  /** The NATS and MySQL to run on, when not the shared ones (a test that crashes them). */
  natsUrl?: string;
  mysql?: MysqlServer;
}

export interface TestStack {
  has: (name: string) => boolean;
  /** `http://127.0.0.1:port` of a process's http or ops port; `127.0.0.1:port` of its grpc port. */
  url: (name: string, role: PortRole, replica?: number) => string;
  /** The database of a process (shared by its replicas). */
  database: (name: string) => TestDatabase;
  /** The running replica `replica` (0 unless named) of a process. */
  process: (name: string, replica?: number) => ServiceProcess;
  replicas: (name: string) => readonly ServiceProcess[];
  /** Starts one more replica of a process, on the stack's database and work queues. */
  addReplica: (name: string) => Promise<ServiceProcess>;
  /**
   * Starts a replica that exited (killed, stopped) again, on its ports and environment, plus
   * `env` (a crash test changes a switch between runs).
   */
  restart: (
    name: string,
    replica?: number,
    env?: Record<string, string>,
  ) => Promise<ServiceProcess>;
  /**
   * Stops every process (callers before what they call), drops the databases, and fails when a
   * process exited other than cleanly — unless the test killed it (`kill()`).
   */
  stop: () => Promise<void>;
}

interface Running {
  process: DeployableProcess;
  ports: Partial<Record<PortRole, number>>;
  env: Record<string, string>;
  readyUrl: string;
  service: ServiceProcess;
  /** Killed on purpose by the test: its exit code is not a failure. */
  killed: boolean;
}

/**
 * The processes of the registry as real processes on free loopback ports, each service with a
 * fresh database and its own JetStream work queues, started in the registry's order (a process
 * after what it calls). The one way integration and end-to-end tests start services: a new
 * registry entry is startable by every test at once. If a step fails, what was started is
 * stopped before the error is thrown.
 */
export async function startTestStack(options: TestStackOptions): Promise<TestStack> {
  const wanted = withDependencies(options.processes);
  const natsUrl = options.natsUrl ?? 'nats://127.0.0.1:4222';
  const stackId = randomBytes(4).toString('hex');
  const running = new Map<string, Running[]>();
  const databases = new Map<string, TestDatabase>();
  const perStack = new Map<string, Record<string, string>>();
  const order: string[] = [];

  const start = async (process: DeployableProcess): Promise<ServiceProcess> => {
    const replicas = running.get(process.name) ?? [];
    const index = replicas.length;
    const ports: Partial<Record<PortRole, number>> = {};
    for (const role of Object.keys(process.ports) as PortRole[]) ports[role] = await freePort();
    if (process.database && !databases.has(process.name)) {
      databases.set(
        process.name,
        await createTestDatabase(`${process.name}_${stackId}`, options.mysql),
      );
    }
    if (!perStack.has(process.name)) {
      perStack.set(
        process.name,
        Object.fromEntries(
          (process.perStackEnv ?? []).map((name) => [name, `${name.toLowerCase()}_${stackId}`]),
        ),
      );
    }
    const portFor = (name: string, role: PortRole): number => {
      if (name === process.name) return ports[role] ?? 0;
      const callee = running.get(name);
      // Not in this stack: an address nothing listens on (the call fails fast, 503 at the gateway).
      return callee?.length ? (callee[index % callee.length]?.ports[role] ?? 1) : 1;
    };
    // A gRPC callee with several replicas: all of their addresses, as a headless Service's DNS
    // name gives them (the platform's client balances per call); replicas added later are not in it.
    const balancedGrpcAddresses = (caller: DeployableProcess): Record<string, string> =>
      Object.fromEntries(
        caller.downstream
          .filter((call) => call.via === 'grpc' && (running.get(call.process)?.length ?? 0) > 1)
          .map((call) => [
            call.env,
            `ipv4:${(running.get(call.process) ?? []).map((r) => `127.0.0.1:${r.ports.grpc}`).join(',')}`,
          ]),
      );
    const database = databases.get(process.name);
    const env = {
      ...(process.nats ? { NATS_URL: natsUrl } : {}),
      ...process.testEnv,
      ...addressEnv(process, () => '127.0.0.1', portFor),
      ...balancedGrpcAddresses(process),
      ...(database ? database.env : {}),
      ...(process.database && database ? { [process.database.env]: database.name } : {}),
      ...perStack.get(process.name),
      ...options.env?.['*'],
      ...options.env?.[process.name],
    };
    const readyUrl = readinessUrl(process, '127.0.0.1', portFor);
    const entry: Running = {
      process,
      ports,
      env,
      readyUrl,
      service: await spawn(process, env, readyUrl),
      killed: false,
    };
    entry.service = watchKill(entry, entry.service);
    running.set(process.name, [...replicas, entry]);
    if (index === 0) order.push(process.name);
    return entry.service;
  };

  const stop = async () => {
    const failures: string[] = [];
    for (const name of [...order].reverse()) {
      const replicas = running.get(name) ?? [];
      const codes = await Promise.all(replicas.map((r) => r.service.stop()));
      codes.forEach((code, i) => {
        const replica = replicas[i];
        if (code !== 0 && replica && !replica.killed) {
          failures.push(
            `${name}#${i} exited with ${code}:\n${replica.service.output().slice(-4_000)}`,
          );
        }
      });
    }
    await Promise.all([...databases.values()].map((d) => d.drop()));
    if (failures.length > 0)
      throw new Error(`Processes of the test stack did not exit cleanly:\n${failures.join('\n')}`);
  };

  try {
    for (const process of wanted) {
      for (let i = 0; i < (options.replicas?.[process.name] ?? 1); i++) await start(process);
    }
  } catch (error) {
    await stop().catch(() => undefined); // the start error is the one to report
    throw error;
  }

  const replicasOf = (name: string): Running[] => {
    const replicas = running.get(name);
    if (!replicas?.length)
      throw new Error(`${name} is not in this test stack (${order.join(', ')})`);
    return replicas;
  };
  const replicaOf = (name: string, replica: number): Running => {
    const found = replicasOf(name)[replica];
    if (!found) throw new Error(`${name} has no replica ${replica}`);
    return found;
  };
  return {
    has: (name) => running.has(name),
    url: (name, role, replica = 0) => {
      const found = replicaOf(name, replica);
      const port = found.ports[role];
      if (port === undefined) throw new Error(`${name} has no ${role} port`);
      return role === 'grpc' ? `127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
    },
    database: (name) => {
      const database = databases.get(name);
      if (!database) throw new Error(`${name} has no database in this test stack`);
      return database;
    },
    process: (name, replica = 0) => replicaOf(name, replica).service,
    replicas: (name) => replicasOf(name).map((r) => r.service),
    addReplica: (name) => start(processNamed(name)),
    restart: async (name, replica = 0, env = {}) => {
      const entry = replicaOf(name, replica);
      await entry.service.exited;
      entry.service = watchKill(
        entry,
        await spawn(entry.process, { ...entry.env, ...env }, entry.readyUrl),
      );
      entry.killed = false;
      return entry.service;
    },
    stop,
  };
}

function spawn(
  process: DeployableProcess,
  env: Record<string, string>,
  readyUrl: string,
): Promise<ServiceProcess> {
  return spawnService({ entry: process.entry, env, readyUrl });
}

/** The process, whose `kill()` marks the replica as killed on purpose (its exit is no failure). */
function watchKill(entry: Running, service: ServiceProcess): ServiceProcess {
  return {
    ...service,
    kill: () => {
      entry.killed = true;
      return service.kill();
    },
  };
}

/** The named processes and what they call, in the registry's (start) order. */
function withDependencies(names: readonly string[]): DeployableProcess[] {
  const wanted = new Set<string>();
  const add = (name: string, asDependency: boolean) => {
    if (wanted.has(name)) return;
    const process = processNamed(name);
    if (asDependency && process.name === 'gateway') return;
    wanted.add(name);
    if (process.name !== 'gateway') for (const call of process.downstream) add(call.process, true);
  };
  for (const name of names) add(name, false);
  return PROCESSES.filter((p) => wanted.has(p.name));
}
