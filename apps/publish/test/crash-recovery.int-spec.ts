import { lastValueFrom } from 'rxjs';
import { waitFor } from '@batchgate/testing';
import { article, publishEffects, startPublishStack, TENANT, type PublishStack } from './publish.harness';

const ACK_WAIT_MS = 2_000;
const MAX_DELIVERIES = 3;

interface Counters {
  requests: number;
}

/**
 * Two publish replicas on one work queue, against the real MySQL, NATS and the simulated
 * platform: a replica killed mid-publish, a task that kills its worker every time, and a long
 * publish kept by its heartbeats.
 */
describe('publish under crashes', () => {
  let stack: PublishStack;
  let users = 0;
  const newUser = () => `crash-user${++users}`;

  beforeAll(async () => {
    stack = await startPublishStack(
      {
        PUBLISH_ACK_WAIT_MS: String(ACK_WAIT_MS),
        PUBLISH_MAX_DELIVERIES: String(MAX_DELIVERIES),
        // Many of one user's tasks at once: this file is about crashes, not the per-user limits.
        PUBLISH_USER_MAX_RUNNING: '100',
        PUBLISH_USER_RATE_LIMIT: '10000',
        PUBLISH_TEST_CRASH_TITLE: 'poison',
      },
      2,
    );
  }, 90_000);
  afterAll(() => stack?.stop());
  beforeEach(() => stack.sim('/__sim/reset', {}));

  const publishRequests = async () =>
    (await stack.sim<{ routes: Record<string, Counters> }>('/__sim/stats')).routes['publish.article']?.requests ?? 0;
  const statusCounts = async (userId: string) =>
    Object.fromEntries(
      (await stack.query<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM job WHERE user_id = ? GROUP BY status', [userId])).map((row) => [
        row.status,
        Number(row.n),
      ]),
    );
  const submitMany = async (userId: string, count: number, title = (n: number) => `Article ${n}`) => {
    const ids: string[] = [];
    for (let offset = 0; offset < count; offset += 100) {
      const size = Math.min(100, count - offset);
      const answer = await lastValueFrom(
        stack.publish.submitArticleBatch({
          articles: Array.from({ length: size }, (_, n) => article(offset + n, title(offset + n))),
          userId,
          tenant: TENANT,
        }),
      );
      expect(answer.successCount).toBe(size);
      ids.push(...answer.results.map((result) => result.taskId));
    }
    return ids;
  };

  it('keeps a 7 s publish with its worker while the worker lives (heartbeats), well past the ack wait', async () => {
    const user = newUser();
    await stack.sim('/__sim/config', { routes: { 'publish.article': { latency: { kind: 'fixed', ms: 7_000 } } } });
    const [taskId = ''] = await submitMany(user, 1);
    await waitFor(async () => ((await statusCounts(user))['success'] === 1 ? true : undefined), { timeoutMs: 20_000, what: 'the long publish to succeed' });
    const [item] = await stack.query<{ attempts: number }>('SELECT attempts FROM job_item WHERE job_id = ?', [taskId]);
    expect(item?.attempts).toBe(1);
    expect(await publishRequests()).toBe(1);
    expect((await publishEffects(stack))[taskId]).toEqual({ effects: 1, repeats: 0 });
  }, 30_000);

  it('finishes 200 tasks over two replicas when one is SIGKILLed after 40 publishes started: one publish each, orphans rerun within the ack wait + 1 s', async () => {
    const user = newUser();
    await stack.sim('/__sim/config', { routes: { 'publish.article': { latency: { kind: 'fixed', ms: 250 } } } });
    const ids = await submitMany(user, 200);
    await waitFor(async () => ((await publishRequests()) >= 40 ? true : undefined), { timeoutMs: 20_000, intervalMs: 10, what: '40 publishes started' });
    await stack.services.process('publish', 1).kill();
    const killedAt = Date.now();

    await waitFor(async () => ((await statusCounts(user))['success'] === 200 ? true : undefined), { timeoutMs: 90_000, what: 'all 200 tasks to succeed' });
    expect(await statusCounts(user)).toEqual({ success: 200 });
    // Exactly one effective publish per task, however often a task ran.
    const effects = await publishEffects(stack);
    expect(ids.filter((id) => effects[id]?.effects !== 1)).toEqual([]);
    expect(Object.keys(effects)).toHaveLength(200);
    // The killed replica's tasks ran again on the other, once the ack wait had passed.
    const orphans = await stack.query<{ job_id: string; started_at: Date }>(
      'SELECT i.job_id, i.started_at FROM job_item i JOIN job j ON j.id = i.job_id WHERE j.user_id = ? AND i.attempts > 1',
      [user],
    );
    expect(orphans.length).toBeGreaterThan(0);
    for (const orphan of orphans) {
      const restartedAfterMs = orphan.started_at.getTime() - killedAt;
      expect({ task: orphan.job_id, restartedAfterMs: restartedAfterMs <= ACK_WAIT_MS + 1_000 }).toEqual({ task: orphan.job_id, restartedAfterMs: true });
    }
    await stack.services.restart('publish', 1);
  }, 150_000);

  it('fails a task that kills its worker every run after the configured deliveries, while the others succeed', async () => {
    const user = newUser();
    await stack.sim('/__sim/config', { routes: { 'publish.article': { latency: { kind: 'fixed', ms: 100 } } } });
    const dead = new Set<number>();
    const watch = (replica: number) => void stack.services.process('publish', replica).exited.then(() => dead.add(replica));
    watch(0);
    watch(1);
    // The replica answering may run the poison task (and die) before it answers: the task is
    // stored before it is queued, so it is read back from the database.
    await lastValueFrom(stack.publish.submitArticle({ article: article(0, 'a poison article'), userId: user, tenant: TENANT })).catch(() => undefined);
    const [poison] = await stack.query<{ id: string }>('SELECT id FROM job WHERE user_id = ?', [user]);
    // The others are submitted to the replica left alive right after the first crash, so they run
    // while the poison task waits for its redelivery (the ack wait), not beside it.
    await waitFor(() => (dead.size > 0 ? true : undefined), { what: 'the first crash' });
    const survivor = dead.has(0) ? 1 : 0;
    const batch = await lastValueFrom(
      stack.clientOf(survivor).submitArticleBatch({ articles: Array.from({ length: 5 }, (_, n) => article(n + 1)), userId: user, tenant: TENANT }),
    );
    expect(batch.successCount).toBe(5);

    const ended = await waitFor(
      async () => {
        for (const replica of [...dead]) {
          dead.delete(replica);
          // A restarted replica may take the poison task and die before it is ready: then it is
          // restarted again on the next round.
          await stack.services.restart('publish', replica).then(
            () => watch(replica),
            () => dead.add(replica),
          );
        }
        const [row] = await stack.query<{ status: string; error_message: string | null; attempts: number }>(
          'SELECT j.status, i.error_message, i.attempts FROM job j JOIN job_item i ON i.job_id = j.id WHERE j.id = ?',
          [poison?.id],
        );
        return row?.status === 'failed' ? row : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'the poison task to fail' },
    );
    expect(ended.error_message).toBe(`gave up after ${MAX_DELIVERIES} runs: the worker stopped during each (crash or timeout)`);
    // Each of its runs killed its worker; the claim after the last ended it.
    expect(ended.attempts).toBe(MAX_DELIVERIES + 1);
    await waitFor(async () => ((await statusCounts(user))['success'] === 5 ? true : undefined), { timeoutMs: 30_000, what: 'the other tasks to succeed' });
    expect(await statusCounts(user)).toEqual({ success: 5, failed: 1 });
    expect((await publishEffects(stack))[poison?.id ?? '']).toBeUndefined();
    // Both replicas are up again for the stack's clean stop.
    for (const replica of [...dead]) await stack.services.restart('publish', replica);
  }, 150_000);
});
