import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { lastValueFrom, toArray } from 'rxjs';
import type { PublishTask } from '@batchgate/contracts/publish/v1/publish';
import { waitFor } from '@batchgate/testing';
import { article, publishEffects, startPublishStack, TENANT, type PublishStack } from './publish.harness';

/** publish against the real MySQL, NATS and the simulated platform over HTTP, over gRPC. */
describe('publish service', () => {
  let stack: PublishStack;
  let users = 0;
  /** Every test its own user, so the per-user limits of one never meet another's tasks. */
  const newUser = () => `user${++users}`;

  beforeAll(async () => {
    stack = await startPublishStack({ PUBLISH_VERIFY_TIMEOUT_MS: '1500', PUBLISH_USER_RATE_LIMIT: '8' });
  }, 60_000);
  afterAll(() => stack?.stop());
  beforeEach(() => stack.sim('/__sim/reset', {}));

  const owner = (userId: string) => ({ userId, tenant: TENANT });
  const getTask = (userId: string, taskId: string) => lastValueFrom(stack.publish.getPublishTask({ taskId, ...owner(userId) }));
  const ended = (userId: string, taskId: string) =>
    waitFor(async () => {
      const task = await getTask(userId, taskId);
      return ['success', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
    }, { timeoutMs: 20_000, what: `task ${taskId} to end` });

  it('answers at once with the stored task, publishes it once with the task id as idempotency key, and verifies its page', async () => {
    const alice = newUser();
    await stack.sim('/__sim/config', { publishing: { visibleAfterMs: 300 }, routes: { 'publish.article': { latency: { kind: 'fixed', ms: 200 } } } });
    const answer = await lastValueFrom(stack.publish.submitArticle({ article: article(1, 'Hello'), ...owner(alice) }));
    expect(answer).toMatchObject({ success: true, status: 'queued', taskId: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    const changes = await lastValueFrom(stack.publish.watchPublishTask({ taskId: answer.taskId, ...owner(alice) }).pipe(toArray()));
    const done = await getTask(alice, answer.taskId);
    expect(done).toMatchObject({ status: 'success', progress: 100, articleTitle: 'Hello', articleId: '1', attempts: 1, errorMessage: '' });
    expect(done.resultUrl).toMatch(new RegExp(`^${stack.simUrl}/p/`));
    expect((await fetch(done.resultUrl)).status).toBe(200);
    expect(done.startedAt).not.toBe('');
    expect(done.finishedAt >= done.startedAt).toBe(true);
    // Every step, in order: the watch saw the task publish, verify and end.
    const steps = changes.map((task: PublishTask) => `${task.status}:${task.progress}`);
    expect(steps.slice(-3)).toEqual(['running:20', 'running:60', 'success:100']);
    expect(changes.at(-1)?.resultUrl).toBe(done.resultUrl);
    expect((await publishEffects(stack))[answer.taskId]).toEqual({ effects: 1, repeats: 0 });
  });

  it("fails a refused article with the platform's message, and a retry publishes it once the platform takes it", async () => {
    const alice = newUser();
    await stack.sim('/__sim/config', { publishing: { failingTitles: ['forbidden'], failureMessage: '发布失败：内容审核未通过' } });
    const { taskId } = await lastValueFrom(stack.publish.submitArticle({ article: article(2, 'a forbidden title'), ...owner(alice) }));
    const failed = await ended(alice, taskId);
    expect(failed).toMatchObject({ status: 'failed', errorMessage: 'the platform refused the article: 发布失败：内容审核未通过', attempts: 1, resultUrl: '' });
    expect((await publishEffects(stack))[taskId]).toBeUndefined();

    await stack.sim('/__sim/config', { publishing: { failingTitles: [] } });
    const retried = await lastValueFrom(stack.publish.retryPublishTask({ taskId, ...owner(alice) }));
    expect(['pending', 'queued', 'running', 'success']).toContain(retried.status);
    expect(await ended(alice, taskId)).toMatchObject({ status: 'success', attempts: 2, errorMessage: '' });
    expect((await publishEffects(stack))[taskId]).toEqual({ effects: 1, repeats: 0 });
    await expect(lastValueFrom(stack.publish.retryPublishTask({ taskId, ...owner(alice) }))).rejects.toMatchObject({
      code: GrpcStatus.FAILED_PRECONDITION,
    });
  });

  it('fails a publish whose page never answers within the verification time, keeping its URL; a retry checks it again without publishing twice', async () => {
    const alice = newUser();
    await stack.sim('/__sim/config', { publishing: { visibleAfterMs: 60_000 } });
    const { taskId } = await lastValueFrom(stack.publish.submitArticle({ article: article(3), ...owner(alice) }));
    const failed = await ended(alice, taskId);
    expect(failed.status).toBe('failed');
    expect(failed.errorMessage).toMatch(/did not answer within 1\.5 s/);
    expect(failed.resultUrl).toMatch(/\/p\//);

    await stack.sim('/__sim/config', { publishing: { visibleAfterMs: 0 } });
    await lastValueFrom(stack.publish.retryPublishTask({ taskId, ...owner(alice) }));
    expect(await ended(alice, taskId)).toMatchObject({ status: 'success', resultUrl: failed.resultUrl });
    // The retry asked the platform for the task's article instead of publishing it again.
    expect((await publishEffects(stack))[taskId]).toEqual({ effects: 1, repeats: 0 });
  });

  it("runs at most 2 of a user's tasks at once (the rest wait pending), cancels a waiting one, and leaves other users unaffected", async () => {
    const alice = newUser();
    const bob = newUser();
    await stack.sim('/__sim/config', { routes: { 'publish.article': { latency: { kind: 'fixed', ms: 400 } } } });
    const submitted = [];
    for (let n = 0; n < 5; n++) submitted.push(await lastValueFrom(stack.publish.submitArticle({ article: article(10 + n), ...owner(alice) })));
    expect(submitted.map((answer) => answer.status)).toEqual(['queued', 'queued', 'pending', 'pending', 'pending']);
    // Another user's task is queued at once, however many of alice's wait.
    const bobs = await lastValueFrom(stack.publish.submitArticle({ article: article(20), ...owner(bob) }));
    expect(bobs.status).toBe('queued');

    const last = submitted[4]?.taskId ?? '';
    const cancelled = await lastValueFrom(stack.publish.cancelPublishTask({ taskId: last, ...owner(alice) }));
    expect(cancelled.status).toBe('cancelled');
    await expect(lastValueFrom(stack.publish.cancelPublishTask({ taskId: last, ...owner(alice) }))).rejects.toMatchObject({
      code: GrpcStatus.FAILED_PRECONDITION,
    });

    for (const answer of submitted.slice(0, 4)) expect((await ended(alice, answer.taskId)).status).toBe('success');
    expect((await ended(bob, bobs.taskId)).status).toBe('success');
    // Never more than 2 of alice's at once: their run windows (started → finished) never overlap 3 deep.
    const windows = await Promise.all(submitted.slice(0, 4).map((answer) => getTask(alice, answer.taskId)));
    const overlapAt = (at: string) => windows.filter((task) => task.startedAt <= at && at < task.finishedAt).length;
    const deepest = Math.max(...windows.map((task) => overlapAt(task.startedAt)));
    expect(deepest).toBe(2);
    expect((await publishEffects(stack))[last]).toBeUndefined();
  });

  it("refuses a user's submissions over the per-minute limit with RESOURCE_EXHAUSTED and a retry-after; a batch takes what fits", async () => {
    const alice = newUser();
    const batch = await lastValueFrom(
      stack.publish.submitArticleBatch({ articles: Array.from({ length: 6 }, (_, n) => article(30 + n)), ...owner(alice) }),
    );
    expect(batch).toMatchObject({ success: true, total: 6, successCount: 6, failedCount: 0 });
    expect(new Set(batch.results.map((result) => result.taskId)).size).toBe(6);

    const second = await lastValueFrom(
      stack.publish.submitArticleBatch({ articles: Array.from({ length: 4 }, (_, n) => article(40 + n)), ...owner(alice) }),
    );
    expect(second).toMatchObject({ success: false, total: 4, successCount: 2, failedCount: 2 });
    expect(second.results.slice(2)).toEqual([
      expect.objectContaining({ taskId: '', errorCode: 'PUBLISH.RATE_LIMITED', retryAfterSeconds: expect.any(Number) }),
      expect.objectContaining({ taskId: '', errorCode: 'PUBLISH.RATE_LIMITED' }),
    ]);
    expect(second.results[2]?.retryAfterSeconds).toBeGreaterThan(50);

    const refusal = await lastValueFrom(stack.publish.submitArticle({ article: article(50), ...owner(alice) })).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    const retryAfter = Number((refusal as { metadata: Metadata }).metadata.get('x-retry-after')[0]);
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Nothing was stored for the refused ones.
    const { page } = await lastValueFrom(stack.publish.listPublishTasks({ status: '', page: { page: 1, pageSize: 100 }, ...owner(alice) }));
    expect(page?.total).toBe(8);
  });

  it("streams the caller's newest tasks, then every change of the caller's tasks and none of another's", async () => {
    const alice = newUser();
    const bob = newUser();
    const before = await lastValueFrom(stack.publish.submitArticle({ article: article(70, 'before'), ...owner(alice) }));
    await ended(alice, before.taskId);
    const seen: PublishTask[][] = [];
    const subscription = stack.publish.watchPublishTasks({ size: 10, ...owner(alice) }).subscribe({ next: (list) => seen.push(list.tasks) });
    try {
      await waitFor(() => (seen.length > 0 ? true : undefined), { what: 'the first message' });
      expect(seen[0]?.map((task) => [task.taskId, task.status])).toEqual([[before.taskId, 'success']]);
      const bobs = await lastValueFrom(stack.publish.submitArticle({ article: article(71), ...owner(bob) }));
      const mine = await lastValueFrom(stack.publish.submitArticle({ article: article(72, 'live'), ...owner(alice) }));
      await ended(bob, bobs.taskId);
      await waitFor(() => (seen.flat().some((task) => task.taskId === mine.taskId && task.status === 'success') ? true : undefined), {
        what: "alice's new task to end on her stream",
      });
      const later = seen.slice(1).flat();
      expect(later.every((task) => task.taskId === mine.taskId)).toBe(true);
      expect(later.map((task) => task.status)).toEqual(expect.arrayContaining(['queued', 'running', 'success']));
      expect(later.at(-1)).toMatchObject({ status: 'success', progress: 100, articleTitle: 'live', resultUrl: expect.stringMatching(/\/p\//) });
    } finally {
      subscription.unsubscribe();
    }
  });

  it("reports the user's and the tenant's success rate and run-time percentiles of ended tasks", async () => {
    const alice = newUser();
    await stack.sim('/__sim/config', { publishing: { failingTitles: ['refused'] } });
    const tasks = [];
    for (const title of ['one', 'two', 'a refused one']) tasks.push(await lastValueFrom(stack.publish.submitArticle({ article: article(80, title), ...owner(alice) })));
    for (const task of tasks) await ended(alice, task.taskId);
    const stats = await lastValueFrom(stack.publish.getPublishStats(owner(alice)));
    expect(stats.user).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    expect(stats.user?.successRate).toBeCloseTo(2 / 3);
    const { durationP50Ms: p50 = 0, durationP95Ms: p95 = 0, durationP99Ms: p99 = 0 } = stats.user ?? {};
    expect(p50).toBeGreaterThan(0);
    expect(p50 <= p95 && p95 <= p99).toBe(true);
    // The tenant's figures hold every user's ended tasks (earlier tests' too), another tenant's none of them.
    expect(stats.tenant?.total).toBeGreaterThan(3);
    const elsewhere = await lastValueFrom(stack.publish.getPublishStats({ userId: alice, tenant: 'globex' }));
    expect([elsewhere.user?.total, elsewhere.tenant?.total]).toEqual([0, 0]);
  });

  it("lists only the caller's own tasks, newest first, filtered by status; another owner's id is NOT_FOUND", async () => {
    const alice = newUser();
    const first = await lastValueFrom(stack.publish.submitArticle({ article: article(60), ...owner(alice) }));
    const second = await lastValueFrom(stack.publish.submitArticle({ article: article(61), ...owner(alice) }));
    await ended(alice, first.taskId);
    await ended(alice, second.taskId);
    const list = await lastValueFrom(stack.publish.listPublishTasks({ status: 'success', page: { page: 1, pageSize: 10 }, ...owner(alice) }));
    expect(list.tasks.map((task) => task.taskId)).toEqual([second.taskId, first.taskId]);
    expect(list.tasks.every((task) => task.resultUrl !== '' && task.progress === 100)).toBe(true);
    const none = await lastValueFrom(stack.publish.listPublishTasks({ status: 'failed', page: { page: 1, pageSize: 10 }, ...owner(alice) }));
    expect(none.tasks).toEqual([]);

    for (const stranger of [owner('mallory'), { userId: alice, tenant: 'globex' }]) {
      await expect(lastValueFrom(stack.publish.getPublishTask({ taskId: first.taskId, ...stranger }))).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
      await expect(lastValueFrom(stack.publish.retryPublishTask({ taskId: first.taskId, ...stranger }))).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
      const theirs = await lastValueFrom(stack.publish.listPublishTasks({ status: '', page: { page: 1, pageSize: 100 }, ...stranger }));
      expect(theirs.tasks.map((task) => task.taskId)).not.toContain(first.taskId);
    }
  });
});
