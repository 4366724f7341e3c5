import { connect, type NatsConnection } from 'nats';
import {
  createTestDatabase,
  spawnService,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '@batchgate/testing';
import type { JobOwner } from '@batchgate/platform/jobs';
import {
  deleteStreams,
  kitEnvironment,
  openKit,
  queueDrained,
  uniqueService,
  type KitProcess,
} from './job-kit.harness';

const WORKER_ENTRY = 'apps/platform-int/test/jobs/job-worker.main.ts';
const ACK_WAIT_MS = 2_000;

/** Worker replicas as child processes: killed mid-item, crashed by their handler, and cancelled from elsewhere. */
describe('durable-job kit with worker processes', () => {
  let database: TestDatabase;
  let nats: NatsConnection;
  const kits: KitProcess[] = [];
  const children: ServiceProcess[] = [];
  const alice: JobOwner = { tenant: 'acme', userId: 'alice' };

  beforeAll(async () => {
    database = await createTestDatabase('jobkit_proc');
    nats = await connect({ servers: 'nats://127.0.0.1:4222' });
  });
  afterAll(async () => {
    for (const child of children) await child.kill();
    for (const kit of kits) {
      await kit.close();
      await deleteStreams(nats, kit.store.kind.service);
    }
    await nats.close();
    await database.drop();
  });

  async function setUp(): Promise<{
    kit: KitProcess;
    spawnWorker: (env?: Record<string, string>) => Promise<ServiceProcess>;
  }> {
    const service = uniqueService();
    const kit = await openKit(kitEnvironment(database, service));
    kits.push(kit);
    const spawnWorker = async (env: Record<string, string> = {}) => {
      const child = await spawnService({
        entry: WORKER_ENTRY,
        env: {
          ...database.env,
          ...service,
          NATS_URL: 'nats://127.0.0.1:4222',
          JOBS_ACK_WAIT_MS: String(ACK_WAIT_MS),
          ...env,
        },
      });
      children.push(child);
      await waitFor(() => (child.output().includes('worker ready') ? true : undefined), {
        timeoutMs: 30_000,
        what: 'worker ready',
      });
      return child;
    };
    return { kit, spawnWorker };
  }

  const runsIn = (child: ServiceProcess, jobId: string) =>
    child
      .output()
      .split('\n')
      .filter((line) => line.startsWith(`run ${jobId}:`));

  it('loses nothing when a worker is SIGKILLed mid-item: another replica runs its items again and the job ends success', async () => {
    const { kit, spawnWorker } = await setUp();
    const child = await spawnWorker({ JOBS_CONCURRENCY: '4' });
    const job = await kit.store.submit(alice, {
      params: { label: 'killed' },
      items: Array.from({ length: 12 }, (_, value) => ({ payload: { value, sleepMs: 1_000 } })),
    });
    await waitFor(() => (runsIn(child, job.id).length >= 4 ? true : undefined), {
      what: 'four items running in the child',
    });
    const interrupted = runsIn(child, job.id).map((line) =>
      Number(line.split(' ')[1]?.split(':')[1]),
    );
    expect(await child.kill()).toBe('SIGKILL');
    const running = await database.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM job_item WHERE job_id = ? AND status = 'running'",
      [job.id],
    );
    expect(Number(running[0]?.n)).toBe(interrupted.length);

    await kit.worker({ concurrency: 4, maxDeliveries: 5, ackWaitMs: ACK_WAIT_MS });
    const done = await waitFor(
      async () => {
        const now = await kit.store.get(alice, job.id);
        return now.finishedAt ? now : undefined;
      },
      { timeoutMs: 30_000, what: 'the job to end' },
    );
    expect(done).toMatchObject({ status: 'success', succeeded: 12, failed: 0 });
    const { items } = await kit.store.items(alice, job.id, { page: 1, size: 20 });
    for (const item of items) {
      expect(item).toMatchObject({
        status: 'success',
        result: { doubled: item.seq * 2, pid: process.pid },
      });
      // The killed runs were fenced out by a new attempt. (Another item may run twice too: a message
      // waiting in a replica's buffer for a free slot can outlast its ack wait.)
      if (interrupted.includes(item.seq)) expect(item.attempts).toBe(2);
      else expect(item.attempts).toBeGreaterThanOrEqual(1);
    }
    const unpublished = await database.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM outbox_event WHERE published_at IS NULL',
    );
    await waitFor(async () => ((await queueDrained(nats, kit.store)) ? true : undefined));
    expect(Number(unpublished[0]?.n ?? 0)).toBeLessThanOrEqual(1);
  });

  it('ends an item that crashes its worker every time failed after the configured deliveries', async () => {
    const { kit, spawnWorker } = await setUp();
    const job = await kit.store.submit(alice, {
      params: { label: 'crashing' },
      items: [{ payload: { value: 1, crash: true } }],
    });
    const crashes: Array<number | string> = [];
    for (let spawned = 0; spawned < 3; spawned++) {
      const child = await spawnWorker({ JOBS_MAX_DELIVERIES: '2' });
      const ended = await Promise.race([
        child.exited,
        waitFor(
          async () => ((await kit.store.get(alice, job.id)).finishedAt ? 'job ended' : undefined),
          { timeoutMs: 20_000 },
        ),
      ]);
      if (ended === 'job ended') break;
      crashes.push(ended);
    }
    // Two runs killed their worker; the third claim found the item over its budget and failed it unrun.
    expect(crashes).toEqual(['SIGKILL', 'SIGKILL']);
    const done = await kit.store.get(alice, job.id);
    expect(done).toMatchObject({ status: 'failed', failed: 1 });
    const { items } = await kit.store.items(alice, job.id, { page: 1, size: 1 });
    expect(items[0]).toMatchObject({ status: 'failed', attempts: 3 });
    expect(items[0]?.errorMessage).toMatch(/gave up after 2 runs/);
  });

  it('aborts a running item in another process on cancel (its AbortSignal fires) and never starts the queued ones', async () => {
    const { kit, spawnWorker } = await setUp();
    const child = await spawnWorker({ JOBS_CONCURRENCY: '1' });
    const job = await kit.store.submit(alice, {
      params: { label: 'cancelled' },
      items: Array.from({ length: 3 }, (_, value) => ({ payload: { value, sleepMs: 60_000 } })),
    });
    await waitFor(() => (runsIn(child, job.id).length === 1 ? true : undefined), {
      what: 'the first item running',
    });
    const cancelled = await kit.store.cancel(alice, job.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelled: 3 });
    await waitFor(() => (child.output().includes(`aborted ${job.id}:0`) ? true : undefined), {
      what: 'the running item aborted',
    });
    // The queued items are delivered, found cancelled and acked without a run.
    await waitFor(async () => ((await queueDrained(nats, kit.store)) ? true : undefined));
    expect(runsIn(child, job.id)).toEqual([`run ${job.id}:0 1`]);
    const { items } = await kit.store.items(alice, job.id, { page: 1, size: 5 });
    expect(items.map((item) => item.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await expect(kit.store.cancel(alice, job.id)).rejects.toMatchObject({
      code: 'TEST.JOB_FINISHED',
    });
  });
});
