import { createHash } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { createTestDatabase, waitFor, type TestDatabase } from '@batchgate/testing';
import { watchJob, type JobOwner, type JobStatus } from '@batchgate/platform/jobs';
import {
  deleteStreams,
  kitEnvironment,
  openKit,
  queueDrained,
  type KitProcess,
} from './job-kit.harness';

/** The durable-job kit against the real MySQL and NATS, worker in this process. */
describe('durable-job kit', () => {
  let database: TestDatabase;
  const kits: KitProcess[] = [];
  const alice: JobOwner = { tenant: 'acme', userId: 'alice' };

  beforeAll(async () => {
    database = await createTestDatabase('jobkit');
  });
  afterAll(async () => {
    for (const kit of kits) {
      await kit.close();
      const nats = await import('nats').then(({ connect }) =>
        connect({ servers: 'nats://127.0.0.1:4222' }),
      );
      await deleteStreams(nats, kit.store.kind.service);
      await nats.close();
    }
    await database.drop();
  });

  async function kit(options: Parameters<typeof openKit>[1] = {}): Promise<KitProcess> {
    const opened = await openKit(
      kitEnvironment(database),
      options,
    );
    kits.push(opened);
    return opened;
  }

  it('stores the job and its items before answering, runs them, and ends success with each result', async () => {
    const { store, worker } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'basic' },
      items: [1, 2, 3].map((value) => ({ payload: { value } })),
    });
    expect(job).toMatchObject({
      status: 'queued',
      total: 3,
      succeeded: 0,
      owner: alice,
      params: { label: 'basic' },
    });
    const rows = await database.query<{ seq: number; status: string; idempotency_key: string }>(
      'SELECT seq, status, idempotency_key FROM job_item WHERE job_id = ? ORDER BY seq',
      [job.id],
    );
    expect(rows).toEqual(
      [0, 1, 2].map((seq) => ({ seq, status: 'queued', idempotency_key: `${job.id}:${seq}` })),
    );

    await worker({ concurrency: 2, maxDeliveries: 3, ackWaitMs: 5_000 });
    const done = await waitFor(async () => {
      const now = await store.get(alice, job.id);
      return now.status === 'success' ? now : undefined;
    });
    expect(done).toMatchObject({ total: 3, succeeded: 3, failed: 0, doneThisRun: 3 });
    expect(done.finishedAt).not.toBeNull();
    const { items } = await store.items(alice, job.id, { page: 1, size: 10 });
    expect(
      items.map((item) => [item.status, item.result?.doubled, item.attempts, item.progress]),
    ).toEqual([
      ['success', 2, 1, 100],
      ['success', 4, 1, 100],
      ['success', 6, 1, 100],
    ]);
  });

  it('ends a poison item failed after the configured deliveries, with its error, while the others succeed', async () => {
    const { store, worker, nats } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'poison' },
      items: [
        { payload: { value: 1 } },
        { payload: { value: 2, throwUntilAttempt: 1_000_000 } },
        { payload: { value: 3, refuse: true } },
      ],
    });
    await worker({ concurrency: 2, maxDeliveries: 3, ackWaitMs: 5_000, retryDelayMs: 50 });
    const done = await waitFor(async () => {
      const now = await store.get(alice, job.id);
      return now.finishedAt ? now : undefined;
    });
    expect(done).toMatchObject({ status: 'partial', succeeded: 1, failed: 2 });
    const { items } = await store.items(alice, job.id, { page: 1, size: 10 });
    expect(
      items.map((item) => [item.status, item.attempts, item.errorMessage, item.result?.doubled]),
    ).toEqual([
      ['success', 1, null, 2],
      ['failed', 3, 'failed 3 times; last: item 2 broke on attempt 3', undefined],
      // ItemFailure: refused for good on its first run, no redelivery; its result is kept.
      ['failed', 1, 'item 3 refused', -3],
    ]);
    // Nothing is left to loop: every message was acked.
    await waitFor(async () => ((await queueDrained(nats, store)) ? true : undefined));
  });

  it("hands each recorded outcome once to the service's hook, inside the transaction that records it", async () => {
    const recorded: Array<{
      seq: number;
      ok: boolean;
      attempt: number;
      tries: number;
      inTransaction: boolean;
    }> = [];
    const { store, worker } = await kit({
      onOutcomes: async (manager, outcomes) => {
        const [level] = (await manager.query('SELECT @@in_transaction AS open')) as Array<{
          open: number | string;
        }>;
        for (const { seq, outcome, attempt, tries } of outcomes)
          recorded.push({
            seq,
            ok: outcome.ok,
            attempt,
            tries,
            inTransaction: Number(level?.open) === 1,
          });
      },
    });
    const job = await store.submit(alice, {
      params: { label: 'hook' },
      items: [
        { payload: { value: 1 } },
        { payload: { value: 2, throwUntilAttempt: 2 } },
        { payload: { value: 3, refuse: true } },
      ],
    });
    await worker({ concurrency: 3, maxDeliveries: 3, ackWaitMs: 5_000, retryDelayMs: 50 });
    await waitFor(async () => ((await store.get(alice, job.id)).finishedAt ? true : undefined));
    expect(recorded.sort((a, b) => a.seq - b.seq)).toEqual([
      { seq: 0, ok: true, attempt: 1, tries: 1, inTransaction: true },
      { seq: 1, ok: true, attempt: 2, tries: 2, inTransaction: true },
      { seq: 2, ok: false, attempt: 1, tries: 1, inTransaction: true },
    ]);
    // A retried item's first run since the retry: its second attempt, its first try.
    await store.retry(alice, job.id);
    await waitFor(async () => (recorded.length === 4 ? true : undefined));
    expect(recorded[3]).toEqual({ seq: 2, ok: false, attempt: 2, tries: 1, inTransaction: true });
  });

  it('finds held jobs left unreleased, by age, and lists them with several statuses at once', async () => {
    const { store } = await kit();
    const held = await store.submit(alice, {
      params: { label: 'held' },
      items: [{ payload: { value: 1 } }],
      hold: true,
    });
    const queued = await store.submit(alice, {
      params: { label: 'queued' },
      items: [{ payload: { value: 2 } }],
    });
    await waitFor(async () => ((await store.held(0, 10)).length > 0 ? true : undefined));
    expect(await store.held(0, 10)).toEqual([{ id: held.id, owner: alice }]);
    expect(await store.held(60_000, 10)).toEqual([]);
    const open = await store.list(alice, { page: 1, size: 10, status: ['pending', 'queued'] });
    expect(open.jobs.map((job) => job.id).sort()).toEqual([held.id, queued.id].sort());
    expect(
      (await store.list(alice, { page: 1, size: 10, status: 'pending' })).jobs.map((job) => job.id),
    ).toEqual([held.id]);
    await store.release(alice, held.id);
    expect(await store.held(0, 10)).toEqual([]);
  });

  it('queues a released job in the order asked for, the seqs left out after', async () => {
    const { store, worker } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'order' },
      items: [1, 2, 3, 4].map((value) => ({ payload: { value } })),
      hold: true,
    });
    await store.release(alice, job.id, { order: [3, 1] });
    const runs: string[] = [];
    await worker({ concurrency: 1, maxDeliveries: 1, ackWaitMs: 5_000 }, (line) => runs.push(line));
    await waitFor(async () =>
      (await store.get(alice, job.id)).status === 'success' ? true : undefined,
    );
    expect(runs).toEqual([3, 1, 0, 2].map((seq) => `run ${job.id}:${seq} 1`));
  });

  it('releases many held jobs at once: each job queued once with its event, its items run once in its order; a job cancelled meanwhile and another owner\'s stay as they were', async () => {
    const { store, worker } = await kit();
    const carol: JobOwner = { tenant: 'acme', userId: 'carol' };
    const held = (owner: JobOwner, values: number[]) =>
      store.submit(owner, { params: { label: 'release-all' }, items: values.map((value) => ({ payload: { value } })), hold: true });
    const [first, second, cancelled, carols] = await Promise.all([held(alice, [1, 2, 3]), held(alice, [4, 5]), held(alice, [6]), held(carol, [7, 8])]);
    await store.cancel(alice, cancelled.id);
    const changes: Array<{ jobId: string; status: string; version: number; items: string[] }> = [];
    const stopListening = store.onChange((change) =>
      changes.push({ jobId: change.jobId, status: change.status, version: change.version, items: change.items.map((item) => `${item.seq}:${item.status}`) }),
    );
    await store.nats.flush();

    const refused = await store.releaseAll([
      { owner: alice, id: first.id, order: [2, 0] },
      { owner: alice, id: cancelled.id },
      { owner: alice, id: carols.id },
      { owner: alice, id: second.id.toUpperCase() },
      { owner: carol, id: carols.id },
      { owner: alice, id: first.id },
    ]);
    expect(refused.map((error) => error?.code)).toEqual([undefined, 'TEST.JOB_NOT_PENDING', 'TEST.JOB_NOT_FOUND', undefined, undefined, 'TEST.JOB_NOT_PENDING']);
    for (const [owner, job] of [[alice, first], [alice, second], [carol, carols]] as const)
      expect(await store.get(owner, job.id)).toMatchObject({ status: 'queued', version: job.version + 1 });
    expect(await store.get(alice, cancelled.id)).toMatchObject({ status: 'cancelled' });

    const runs: string[] = [];
    await worker({ concurrency: 1, maxDeliveries: 1, ackWaitMs: 5_000 }, (line) => runs.push(line));
    for (const [owner, job] of [[alice, first], [alice, second], [carol, carols]] as const)
      await waitFor(async () => ((await store.get(owner, job.id)).status === 'success' ? true : undefined));
    await waitFor(async () => ((await queueDrained(store.nats, store)) ? true : undefined));
    // Each item once, at its first attempt; the first job's in the order asked for.
    expect([...runs].sort()).toEqual(
      [...[0, 1, 2].map((seq) => `${first.id}:${seq}`), ...[0, 1].map((seq) => `${second.id}:${seq}`), ...[0, 1].map((seq) => `${carols.id}:${seq}`)].map((key) => `run ${key} 1`).sort(),
    );
    expect(runs.filter((line) => line.includes(first.id))).toEqual([2, 0, 1].map((seq) => `run ${first.id}:${seq} 1`));
    const { items } = await store.items(alice, cancelled.id, { page: 1, size: 10 });
    expect(items.map((item) => item.status)).toEqual(['cancelled']);

    // One change per released job, at the version it was released to, its items queued.
    await waitFor(() => (changes.filter((change) => change.status === 'queued').length >= 3 ? true : undefined));
    stopListening();
    expect(changes.filter((change) => change.status === 'queued').sort((a, b) => (a.jobId < b.jobId ? -1 : 1))).toEqual(
      [
        { jobId: first.id, status: 'queued', version: first.version + 1, items: ['2:queued', '0:queued', '1:queued'] },
        { jobId: second.id, status: 'queued', version: second.version + 1, items: ['0:queued', '1:queued'] },
        { jobId: carols.id, status: 'queued', version: carols.version + 1, items: ['0:queued', '1:queued'] },
      ].sort((a, b) => (a.jobId < b.jobId ? -1 : 1)),
    );
    expect(changes.filter((change) => change.jobId === cancelled.id).map((change) => change.status)).not.toContain('queued');
  });

  it('hands an item back unrecorded when its handler gives up because the worker stops', async () => {
    const { store, worker } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'stop' },
      items: [{ payload: { value: 1, untilStopped: true } }],
    });
    const first = await worker({ concurrency: 1, maxDeliveries: 1, ackWaitMs: 5_000 });
    await waitFor(async () =>
      (await store.get(alice, job.id)).status === 'running' ? true : undefined,
    );
    // Listed by its own status, not by `queued`, which the owner's index folds it with.
    const listed = async (status: JobStatus) =>
      (await store.list(alice, { page: 1, size: 100, status })).jobs.map((each) => each.id);
    expect(await listed('running')).toContain(job.id);
    expect(await listed('queued')).not.toContain(job.id);
    await first.stop();
    const [item] = (await store.items(alice, job.id, { page: 1, size: 1 })).items;
    // Not failed, although it was its last allowed run: the stop was not the item's fault.
    expect(item).toMatchObject({ status: 'running', attempts: 1 });
    expect((await store.get(alice, job.id)).finishedAt).toBeNull();
    // The message went back to the queue: the next worker runs the item again.
    const second = await worker({ concurrency: 1, maxDeliveries: 1, ackWaitMs: 5_000 });
    await waitFor(async () =>
      (await store.items(alice, job.id, { page: 1, size: 1 })).items[0]?.attempts === 2
        ? true
        : undefined,
    );
    await second.stop();
  });

  it('retries the failed items of a finished job, and only those', async () => {
    const { store, worker } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'retry' },
      items: [{ payload: { value: 1 } }, { payload: { value: 2, throwUntilAttempt: 3 } }],
    });
    await worker({ concurrency: 2, maxDeliveries: 2, ackWaitMs: 5_000, retryDelayMs: 50 });
    await waitFor(async () =>
      (await store.get(alice, job.id)).status === 'partial' ? true : undefined,
    );
    await expect(store.cancel(alice, job.id)).rejects.toMatchObject({ code: 'TEST.JOB_FINISHED' });

    const reopened = await store.retry(alice, job.id);
    expect(reopened).toMatchObject({
      status: 'queued',
      succeeded: 1,
      failed: 0,
      startedAt: null,
      finishedAt: null,
    });
    const done = await waitFor(async () => {
      const now = await store.get(alice, job.id);
      return now.status === 'success' ? now : undefined;
    });
    expect(done).toMatchObject({ succeeded: 2, failed: 0, doneThisRun: 1 });
    const { items } = await store.items(alice, job.id, { page: 1, size: 10 });
    expect(items.map((item) => [item.status, item.attempts])).toEqual([
      ['success', 1],
      ['success', 3],
    ]);
    await expect(store.retry(alice, job.id)).rejects.toMatchObject({
      code: 'TEST.NOTHING_TO_RETRY',
    });
  });

  it('holds a retried job pending until it is released (an admission limit decides), and reads items of several jobs at once', async () => {
    const { store, worker } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'held retry' },
      items: [{ payload: { value: 1, refuse: true } }],
    });
    const other = await store.submit(alice, {
      params: { label: 'other' },
      items: [{ payload: { value: 5 } }],
    });
    await worker({ concurrency: 2, maxDeliveries: 2, ackWaitMs: 5_000, retryDelayMs: 50 });
    await waitFor(async () =>
      (await store.get(alice, job.id)).status === 'failed' ? true : undefined,
    );

    expect(await store.retry(alice, job.id, { hold: true })).toMatchObject({
      status: 'pending',
      failed: 0,
    });
    const { items: held } = await store.items(alice, job.id, { page: 1, size: 1 });
    expect(held.map((item) => [item.status, item.errorMessage])).toEqual([['pending', null]]);
    const released = await store.release(alice, job.id);
    expect(released.status).toBe('queued');
    await waitFor(async () =>
      (await store.get(alice, job.id)).status === 'failed' ? true : undefined,
    );
    await waitFor(async () =>
      (await store.get(alice, other.id)).status === 'success' ? true : undefined,
    );

    const items = await store.itemsOf(alice, [job.id, other.id]);
    expect([
      items.get(job.id)?.map((i) => [i.status, i.attempts]),
      items.get(other.id)?.map((i) => i.result),
    ]).toEqual([[['failed', 2]], [{ doubled: 10, pid: process.pid }]]);
    expect((await store.itemsOf({ tenant: 'acme', userId: 'mallory' }, [job.id])).size).toBe(0);
  });

  it('streams every committed change of a watched job, in order, and ends when the job ends', async () => {
    const { store, worker } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'watched' },
      items: [{ payload: { value: 1, sleepMs: 200 } }, { payload: { value: 2, sleepMs: 400 } }],
      hold: true,
    });
    expect(job.status).toBe('pending');
    const seen: Array<{ version: number; status: string; succeeded: number; items: string[] }> = [];
    const ended = new Promise<void>((resolve, reject) => {
      watchJob(store, alice, job.id, (snapshot, change) => ({
        version: snapshot.version,
        status: snapshot.status,
        succeeded: snapshot.succeeded,
        items: change?.items.map((item) => `${item.seq}:${item.status}:${item.progress}`) ?? [],
      })).subscribe({ next: (entry) => seen.push(entry), error: reject, complete: resolve });
    });
    await worker({ concurrency: 2, maxDeliveries: 3, ackWaitMs: 5_000 });
    // Released once the watch has read the job, so the release is its first change.
    await waitFor(() => (seen.length > 0 ? true : undefined));
    await store.release(alice, job.id);
    await ended;

    const final = await store.get(alice, job.id);
    expect(final.status).toBe('success');
    // Every version from the first read to the last, once each, none skipped.
    const versions = seen.map((entry) => entry.version);
    const first = job.version;
    expect(versions).toEqual(
      Array.from({ length: final.version - first + 1 }, (_, i) => first + i),
    );
    expect(seen[0]).toMatchObject({ status: 'pending', items: [] });
    expect(seen.at(-1)).toMatchObject({ status: 'success', succeeded: 2, version: final.version });
    const itemChanges = seen.flatMap((entry) => entry.items);
    for (const seq of [0, 1]) {
      expect(itemChanges).toEqual(
        expect.arrayContaining([
          `${seq}:queued:0`,
          `${seq}:running:0`,
          `${seq}:running:50`,
          `${seq}:success:100`,
        ]),
      );
    }
    expect(seen.map((entry) => entry.status)).toEqual(
      expect.arrayContaining(['pending', 'queued', 'running', 'success']),
    );
  });

  it("answers another owner's job id as not found, in every call, and changes nothing", async () => {
    const { store } = await kit();
    const job = await store.submit(alice, {
      params: { label: 'private' },
      items: [{ payload: { value: 1 } }],
      hold: true,
    });
    for (const stranger of [
      { tenant: 'acme', userId: 'bob' },
      { tenant: 'other', userId: 'alice' },
    ]) {
      const notFound = { kind: 'not_found', code: 'TEST.JOB_NOT_FOUND' };
      await expect(store.get(stranger, job.id)).rejects.toMatchObject(notFound);
      await expect(store.items(stranger, job.id, { page: 1, size: 10 })).rejects.toMatchObject(
        notFound,
      );
      await expect(store.cancel(stranger, job.id)).rejects.toMatchObject(notFound);
      await expect(store.retry(stranger, job.id)).rejects.toMatchObject(notFound);
      await expect(store.release(stranger, job.id)).rejects.toMatchObject(notFound);
      await expect(
        lastValueFrom(watchJob(store, stranger, job.id, (snapshot) => snapshot)),
      ).rejects.toMatchObject(notFound);
      expect((await store.list(stranger, { page: 1, size: 10 })).total).toBe(0);
    }
    await expect(store.get({ tenant: '', userId: 'alice' }, job.id)).rejects.toThrow(TypeError);
    // Ids are ascii in MySQL: a non-ASCII one names no job (not a collation error); case does
    // not matter, as before.
    const notFound = { kind: 'not_found', code: 'TEST.JOB_NOT_FOUND' };
    const unicode = `ü${job.id.slice(1)}`;
    await expect(store.get(alice, unicode)).rejects.toMatchObject(notFound);
    await expect(store.items(alice, unicode, { page: 1, size: 10 })).rejects.toMatchObject(notFound);
    await expect(store.cancel(alice, unicode)).rejects.toMatchObject(notFound);
    await expect(store.retry(alice, unicode)).rejects.toMatchObject(notFound);
    await expect(store.release(alice, unicode)).rejects.toMatchObject(notFound);
    expect([...(await store.itemsOf(alice, [unicode, job.id])).keys()]).toEqual([job.id]);
    expect((await store.get(alice, job.id.toUpperCase())).id).toBe(job.id);
    const after = await store.get(alice, job.id);
    expect(after).toMatchObject({ status: 'pending', version: job.version });
    // The owner lists it (newest first; the earlier tests' jobs are alice's too).
    expect((await store.list(alice, { page: 1, size: 10 })).jobs[0]?.id).toBe(job.id);
  });

  it('answers the open job again for a repeated dedupe key, and a new one once it has ended', async () => {
    const { store } = await kit();
    const submission = {
      params: { label: 'dedupe' },
      items: [{ payload: { value: 1 } }],
      hold: true,
      dedupeKey: 'task-7',
    };
    const first = await store.submit(alice, submission);
    const again = await store.submit(alice, submission);
    expect(again.id).toBe(first.id);
    await store.cancel(alice, first.id);
    const fresh = await store.submit(alice, submission);
    expect(fresh.id).not.toBe(first.id);
  });

  it('deduplicates a burst of submissions committed together: one job per key, the same key answered with it, another user refused', async () => {
    const { store, dataSource } = await kit();
    const submission = (key: string) => ({
      params: { label: 'burst' },
      items: [{ payload: { value: 1 } }],
      hold: true,
      dedupeKey: key,
    });
    // Submitted in the same tick: they join one group commit.
    const answers = await Promise.allSettled([
      store.submit(alice, submission('burst-a')),
      store.submit(alice, submission('burst-a')),
      store.submit(alice, submission('burst-b')),
      store.submit({ tenant: alice.tenant, userId: 'bob' }, submission('burst-a')),
      store.submit({ tenant: 'globex', userId: 'alice' }, submission('burst-a')),
    ]);
    const [a1, a2, b, bob, otherTenant] = answers.map((answer) =>
      answer.status === 'fulfilled' ? answer.value.id : answer.reason,
    );
    expect(a2).toBe(a1);
    expect(b).not.toBe(a1);
    expect(bob).toMatchObject({ code: 'TEST.JOB_EXISTS' });
    // Keys are the tenant's: another tenant's same key is its own job.
    expect(typeof otherTenant).toBe('string');
    expect(otherTenant).not.toBe(a1);
    const rows = (await dataSource.query(
      `SELECT CASE active_key WHEN SHA2('burst-a', 256) THEN 'burst-a' WHEN SHA2('burst-b', 256) THEN 'burst-b' END AS dedupe_key, COUNT(*) AS n
         FROM job WHERE active_key IN (SHA2('burst-a', 256), SHA2('burst-b', 256)) GROUP BY tenant, active_key ORDER BY tenant, dedupe_key`,
    )) as Array<{ dedupe_key: string; n: string }>;
    expect(rows.map((row) => [row.dedupe_key, Number(row.n)])).toEqual([
      ['burst-a', 1],
      ['burst-b', 1],
      ['burst-a', 1],
    ]);
  });

  it('answers a key an open job holds and stores the new keys committed with it, each with its items and work, the open job untouched', async () => {
    const { store, worker, nats } = await kit();
    const held = await store.submit(alice, {
      params: { label: 'mixed' },
      items: [{ payload: { value: 1 } }],
      hold: true,
      dedupeKey: 'mixed-a',
    });
    const submission = (key: string, values: number[]) => ({
      params: { label: 'mixed' },
      items: values.map((value) => ({ payload: { value } })),
      dedupeKey: key,
    });
    // Submitted in the same tick: one group commit, where one key is taken and one is new.
    const answers = await Promise.allSettled([
      store.submit(alice, submission('mixed-a', [5, 6, 7])),
      store.submit(alice, submission('mixed-b', [2, 3])),
      store.submit(alice, submission('mixed-b', [9])),
      store.submit({ tenant: alice.tenant, userId: 'bob' }, submission('mixed-a', [1])),
    ]);
    const [a, b, bAgain, bob] = answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : answer.reason));
    expect(a).toMatchObject({ id: held.id, status: 'pending', total: 1 });
    expect(b).toMatchObject({ status: 'queued', total: 2 });
    expect(bAgain).toMatchObject({ id: b.id, total: 2 });
    expect(bob).toMatchObject({ code: 'TEST.JOB_EXISTS' });
    const rows = await database.query<{ dedupe_key: string; jobs: string; items: string }>(
      `SELECT CASE j.active_key WHEN SHA2('mixed-a', 256) THEN 'mixed-a' WHEN SHA2('mixed-b', 256) THEN 'mixed-b' END AS dedupe_key,
              COUNT(DISTINCT j.id) AS jobs, COUNT(i.seq) AS items
         FROM job j JOIN job_item i ON i.job_id = j.id WHERE j.active_key IN (SHA2('mixed-a', 256), SHA2('mixed-b', 256))
        GROUP BY j.active_key ORDER BY dedupe_key`,
    );
    expect(rows.map((row) => [row.dedupe_key, Number(row.jobs), Number(row.items)])).toEqual([
      ['mixed-a', 1, 1],
      ['mixed-b', 1, 2],
    ]);
    // Only the new job's items were queued: it runs to the end, the held one stays as it was.
    await worker({ concurrency: 2, maxDeliveries: 3, ackWaitMs: 5_000 });
    await waitFor(async () => ((await store.get(alice, b.id)).status === 'success' ? true : undefined));
    expect((await store.items(alice, b.id, { page: 1, size: 10 })).items.map((item) => item.result?.doubled)).toEqual([4, 6]);
    await waitFor(async () => ((await queueDrained(nats, store)) ? true : undefined));
    expect(await store.get(alice, held.id)).toMatchObject({ status: 'pending', version: held.version });
  });

  it('tells keys apart byte for byte: one that differs from an open job\'s only in case or trailing spaces gets a job of its own; the same key answers the open job', async () => {
    const { store } = await kit();
    const submission = (key: string) => ({ params: { label: 'case' }, items: [{ payload: { value: 1 } }], hold: true, dedupeKey: key });
    const open = await store.submit(alice, submission('Case-7'));
    // Submitted in the same tick: they join one group commit with the key that is taken.
    const [same, lower, padded] = await Promise.all([
      store.submit(alice, submission('Case-7')),
      store.submit(alice, submission('case-7')),
      store.submit(alice, submission('Case-7 ')),
    ]);
    expect(same.id).toBe(open.id);
    expect(new Set([open.id, lower.id, padded.id]).size).toBe(3);
    const rows = await database.query<{ id: string; active_key: string }>(
      "SELECT id, active_key FROM job WHERE JSON_VALUE(params, '$.label') = 'case' AND active_key IN (SHA2('Case-7', 256), SHA2('case-7', 256), SHA2('Case-7 ', 256))",
    );
    expect(new Map(rows.map((row) => [row.id, row.active_key]))).toEqual(
      new Map([
        [open.id, createHash('sha256').update('Case-7').digest('hex')],
        [lower.id, createHash('sha256').update('case-7').digest('hex')],
        [padded.id, createHash('sha256').update('Case-7 ').digest('hex')],
      ]),
    );
  });

  it('stores a dedupe key of any length by its digest (a long key is not cut short into another\'s), and refuses a tenant too long for its column', async () => {
    const { store } = await kit();
    const submission = (key: string) => ({ params: { label: 'long' }, items: [{ payload: { value: 1 } }], hold: true, dedupeKey: key });
    const longKey = 'k'.repeat(1000);
    const a = await store.submit(alice, submission(`${longKey}a`));
    const b = await store.submit(alice, submission(`${longKey}b`));
    expect(b.id).not.toBe(a.id);
    expect((await store.submit(alice, submission(`${longKey}a`))).id).toBe(a.id);
    const longTenant = 't'.repeat(64);
    await expect(store.submit({ tenant: `${longTenant}1`, userId: 'alice' }, submission('long-tenant'))).rejects.toThrow(/tenant/);
    await expect(store.submit({ tenant: `${longTenant}2`, userId: 'alice' }, submission('long-tenant'))).rejects.toThrow(/tenant/);
    const stored = await database.query<{ n: string }>("SELECT COUNT(*) AS n FROM job WHERE active_key = SHA2('long-tenant', 256)");
    expect(Number(stored[0]?.n)).toBe(0);
  });

  it('deduplicates one key submitted through two stores at once (two replicas): every submission answers the same job', async () => {
    const [first, second] = [await kit(), await kit()];
    const submission = {
      params: { label: 'race' },
      items: [{ payload: { value: 1 } }],
      hold: true,
      dedupeKey: 'race-1',
    };
    const jobs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? first : second).store.submit(alice, submission),
      ),
    );
    expect(new Set(jobs.map((job) => job.id)).size).toBe(1);
  });
});
