/**
 * Durable jobs per second end to end, the job kit against BullMQ in one run (issue 12 item 10):
 * submit → stored → queued → a trivial handler → `success` committed, every state change of every
 * job committed (MySQL for the kit, with its outbox events published to JetStream; Redis for
 * BullMQ). Each job has one item. Both sides get the same jobs, the same submitters in flight and
 * the same worker concurrency, in this one process.
 *   npm run bench:jobs      (BENCH_JOBS, BENCH_CONCURRENCY, BENCH_SUBMITTERS, BENCH_ROUNDS, BENCH_REDIS)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Queue, Worker } from 'bullmq';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createTestDatabase, waitFor } from '@batchgate/testing';
import {
  CreateJobTables1764547200000,
  defineJobKind,
  DropJobItemStatusIndex1765238400000,
  JobWriteCosts1765324800000,
  jobStreams,
  JobStore,
  JobWorker,
} from '@batchgate/platform/jobs';
import {
  connectNats,
  CreateOutboxEvent1763856000000,
  ensureStreams,
  EventPublisher,
  Outbox,
  OutboxEventEntity,
  STREAM_LIMIT_DEFAULTS,
} from '@batchgate/platform/messaging';
import { openDataSource } from '@batchgate/platform/persistence';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 20_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 256);
const SUBMITTERS = Number(process.env['BENCH_SUBMITTERS'] ?? 512);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const ITEMS_PER_MESSAGE = Number(process.env['BENCH_ITEMS_PER_MESSAGE'] ?? 64);
const GROUPS_IN_FLIGHT = Number(process.env['BENCH_GROUPS_IN_FLIGHT'] ?? 2);
/** `kit` or `bullmq` runs one side alone (to profile it). */
const ONLY = process.env['BENCH_ONLY'] ?? '';
const REDIS = new URL(process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379');
const OWNER = { tenant: 'bench', userId: 'bench' };

interface Measured {
  name: string;
  seconds: number;
  jobsPerSecond: number;
  /** CPU milliseconds per job: this process, and the servers the side writes to (each, and their sum). */
  cpu: CpuPerJob;
}

interface CpuPerJob {
  bench: number;
  servers: number;
  byServer: Record<string, number>;
}

/**
 * CPU seconds used so far by this process and by each of the named local servers (from /proc):
 * steadier than wall time on a machine whose other users come and go, though the servers' share
 * also counts whatever else uses them meanwhile.
 */
function cpuSeconds(servers: readonly string[]): { bench: number; byServer: Record<string, number> } {
  const usage = process.cpuUsage();
  const byServer: Record<string, number> = {};
  for (const server of servers) {
    let pids: string[] = [];
    try {
      pids = execFileSync('pgrep', ['-x', server], { encoding: 'utf8' }).split('\n').filter(Boolean);
    } catch {
      // Not running on this machine (a remote server): not counted.
    }
    for (const pid of pids) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      byServer[server] = (byServer[server] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
    }
  }
  return { bench: (usage.user + usage.system) / 1e6, byServer };
}

/** CPU milliseconds per job since `before`. */
function cpuPerJob(
  servers: readonly string[],
  before: ReturnType<typeof cpuSeconds>,
): CpuPerJob {
  const after = cpuSeconds(servers);
  const byServer: Record<string, number> = {};
  for (const [server, seconds] of Object.entries(after.byServer))
    byServer[server] = ((seconds - (before.byServer[server] ?? 0)) * 1000) / JOBS;
  return {
    bench: ((after.bench - before.bench) * 1000) / JOBS,
    servers: Object.values(byServer).reduce((sum, value) => sum + value, 0),
    byServer,
  };
}

const KIT_SERVERS = ['mariadbd', 'mysqld', 'nats-server'];
const BULLMQ_SERVERS = ['redis-server'];

/** Runs `submit(i)` for i < JOBS with SUBMITTERS calls in flight. */
async function submitAll(submit: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (next < JOBS) await submit(next++);
    }),
  );
}

async function benchKit(round: number): Promise<Measured> {
  const database = await createTestDatabase('bench_jobs');
  const service = `benchjobs${process.pid}r${round}`;
  const logger = pino({ level: 'warn' });
  // The services' own connection settings, so the kit is measured as they run it.
  const nats = await connectNats({ url: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', name: 'bench-jobs' }, logger);
  const dataSource = await openDataSource(
    {
      ...database.connection,
      DB_POOL_SIZE: 12,
      DB_CONNECT_TIMEOUT_MS: 5_000,
    },
    {
      entities: [OutboxEventEntity],
      migrations: [CreateOutboxEvent1763856000000, CreateJobTables1764547200000, DropJobItemStatusIndex1765238400000, JobWriteCosts1765324800000],
    },
  );
  try {
    await ensureStreams(nats, jobStreams(service), STREAM_LIMIT_DEFAULTS);
    const registry = new Registry();
    const outbox = new Outbox(
      dataSource,
      new EventPublisher(nats),
      { pollIntervalMs: 500, batchSize: 100, retentionMs: 3_600_000, crashPoint: 'none' },
      logger,
      registry,
    );
    outbox.start();
    const kind = defineJobKind<null, { n: number }, { n: number }>({
      service,
      name: 'trivial',
      errorPrefix: 'BENCH',
      label: 'Bench job',
    });
    const store = new JobStore(
      kind,
      { dataSource, outbox, nats },
      { queue: 'bench', itemsPerMessage: ITEMS_PER_MESSAGE, groupsInFlight: GROUPS_IN_FLIGHT },
    );
    const worker = new JobWorker(
      store,
      async ({ payload }) => ({ n: payload.n }),
      { concurrency: CONCURRENCY, maxDeliveries: 3, ackWaitMs: 60_000, maxAckPending: 100_000 },
      logger,
      registry,
    );
    await worker.start();

    const cpuBefore = cpuSeconds(KIT_SERVERS);
    const startedAt = performance.now();
    await submitAll((n) => store.submit(OWNER, { params: null, items: [{ payload: { n } }] }));
    // The worker counts a job ended once the commit that ended it is done (its job duration
    // metric), as BullMQ's side counts its completed events: polling MySQL instead would load the
    // database the kit is measured on. MySQL's count is checked after the clock stops.
    await waitFor(async () => ((await jobsSucceeded(registry)) >= JOBS ? true : undefined), {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: 'every kit job to succeed',
    });
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = cpuPerJob(KIT_SERVERS, cpuBefore);
    // Every job ended success with its item, and every change event was published.
    const [jobs] = await database.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM job WHERE status = 'success'",
    );
    const [items] = await database.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM job_item WHERE status = 'success'",
    );
    await waitFor(
      async () => {
        const [pending] = await database.query<{ n: number }>(
          'SELECT COUNT(*) AS n FROM outbox_event WHERE published_at IS NULL',
        );
        return Number(pending?.n) === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'the outbox to drain' },
    );
    if (Number(jobs?.n) !== JOBS)
      throw new Error(`kit: ${String(jobs?.n)} jobs succeeded, expected ${JOBS}`);
    if (Number(items?.n) !== JOBS)
      throw new Error(`kit: ${String(items?.n)} items succeeded, expected ${JOBS}`);
    await worker.stop();
    await outbox.stop();
    return { name: 'job kit (MySQL + JetStream)', seconds, jobsPerSecond: JOBS / seconds, cpu };
  } finally {
    const manager = await nats.jetstreamManager();
    for (const stream of jobStreams(service))
      await manager.streams.delete(stream.name).catch(() => undefined);
    await nats.close();
    await dataSource.destroy();
    await database.drop();
  }
}

/** Jobs the kit's worker has seen end `success` (after the commit): its job duration histogram's count. */
async function jobsSucceeded(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('jobs_job_duration_seconds')?.get();
  return (metric?.values ?? [])
    .filter(
      (value) =>
        (value as { metricName?: string }).metricName === 'jobs_job_duration_seconds_count' &&
        value.labels['status'] === 'success',
    )
    .reduce((sum, value) => sum + value.value, 0);
}

async function benchBullmq(round: number): Promise<Measured> {
  const connection = {
    host: REDIS.hostname,
    port: Number(REDIS.port || 6379),
    maxRetriesPerRequest: null,
  };
  const name = `bench-jobs-${process.pid}-${round}`;
  const queue = new Queue(name, { connection });
  let completed = 0;
  const worker = new Worker(name, async (job) => ({ n: (job.data as { n: number }).n }), {
    connection,
    concurrency: CONCURRENCY,
    autorun: false,
  });
  worker.on('completed', () => completed++);
  try {
    await queue.waitUntilReady();
    void worker.run();
    await worker.waitUntilReady();
    const cpuBefore = cpuSeconds(BULLMQ_SERVERS);
    const startedAt = performance.now();
    // Completed jobs are kept (their state is the record), as the kit keeps its rows.
    await submitAll((n) =>
      queue.add('trivial', { n }, { removeOnComplete: false, removeOnFail: false }),
    );
    await waitFor(() => (completed >= JOBS ? true : undefined), {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: 'every BullMQ job to complete',
    });
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = cpuPerJob(BULLMQ_SERVERS, cpuBefore);
    const counts = await queue.getJobCounts('completed');
    if (counts['completed'] !== JOBS)
      throw new Error(`BullMQ: ${String(counts['completed'])} completed, expected ${JOBS}`);
    return { name: 'BullMQ (Redis)', seconds, jobsPerSecond: JOBS / seconds, cpu };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

function cpuText({ cpu }: Measured): string {
  const each = Object.entries(cpu.byServer)
    .map(([server, value]) => `${server} ${value.toFixed(3)}`)
    .join(', ');
  return `bench ${cpu.bench.toFixed(3)} + servers ${cpu.servers.toFixed(3)} (${each})`;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  console.log(
    `jobs ${JOBS}, worker concurrency ${CONCURRENCY}, submitters in flight ${SUBMITTERS}, rounds ${ROUNDS}`,
  );
  console.log(`load average before: ${loadBefore.map((value) => value.toFixed(2)).join(' ')}`);
  const rows: Array<{ round: number; kit: Measured; bullmq: Measured }> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ONLY) {
      const alone = ONLY === 'kit' ? await benchKit(round) : await benchBullmq(round);
      console.log(
        `round ${round}: ${alone.name} ${alone.jobsPerSecond.toFixed(0)} jobs/s (${alone.seconds.toFixed(2)} s), CPU ms/job ${cpuText(alone)}`,
      );
      continue;
    }
    // Alternated, so a change in the machine's load does not favour one side.
    const bullmqFirst = round % 2 === 0;
    const first = bullmqFirst ? await benchBullmq(round) : await benchKit(round);
    const second = bullmqFirst ? await benchKit(round) : await benchBullmq(round);
    const [kit, bullmq] = bullmqFirst ? [second, first] : [first, second];
    rows.push({ round, kit, bullmq });
    console.log(
      `round ${round}: kit ${kit.jobsPerSecond.toFixed(0)} jobs/s (${kit.seconds.toFixed(2)} s, CPU ms/job ${cpuText(kit)}), BullMQ ${bullmq.jobsPerSecond.toFixed(0)} jobs/s (${bullmq.seconds.toFixed(2)} s, CPU ms/job ${cpuText(bullmq)}), kit/BullMQ ${(kit.jobsPerSecond / bullmq.jobsPerSecond).toFixed(2)}`,
    );
  }
  if (ONLY) process.exit(0);
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const kitRate = median(rows.map((row) => row.kit.jobsPerSecond));
  const bullRate = median(rows.map((row) => row.bullmq.jobsPerSecond));
  const ratio = median(rows.map((row) => row.kit.jobsPerSecond / row.bullmq.jobsPerSecond));
  console.log('');
  console.log('| side | jobs/s (median of rounds) |');
  console.log('|---|---|');
  console.log(
    `| job kit (MySQL + JetStream, every change committed, outbox events published) | ${kitRate.toFixed(0)} |`,
  );
  console.log(`| BullMQ (Redis, completed jobs kept) | ${bullRate.toFixed(0)} |`);
  console.log(`| kit / BullMQ (median of the per-round ratios) | ${ratio.toFixed(2)} |`);
  console.log(
    `load average after: ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
