import { lastValueFrom } from 'rxjs';
import { waitFor } from '@batchgate/testing';
import { article, startPublishStack, TENANT, type PublishStack } from './publish.harness';

interface Counters {
  requests: number;
  inFlightPeak: number;
  aborted: number;
}

/** Seed 002's interaction fetching against the simulated platform's counts, over real MySQL. */
describe('publish interaction fetching', () => {
  let stack: PublishStack;
  const alice = { userId: 'interactions-alice', tenant: TENANT };
  const taskIds: string[] = [];

  beforeAll(async () => {
    stack = await startPublishStack({ PUBLISH_USER_MAX_RUNNING: '10', PUBLISH_INTERACTIONS_TIMEOUT_MS: '1000' });
    const batch = await lastValueFrom(stack.publish.submitArticleBatch({ articles: Array.from({ length: 7 }, (_, n) => article(n + 1)), ...alice }));
    taskIds.push(...batch.results.map((result) => result.taskId));
    await waitFor(
      async () => {
        const [row] = await stack.query<{ n: number }>("SELECT COUNT(*) AS n FROM job WHERE user_id = ? AND status = 'success'", [alice.userId]);
        return Number(row?.n) === 7 ? true : undefined;
      },
      { what: 'the 7 articles to be published' },
    );
    // Counts that grow fast (1 ms of age = 1 minute), so a fetch finds some.
    await stack.sim('/__sim/config', { publishing: { interactionsSpeedup: 60_000 } });
  }, 90_000);
  afterAll(() => stack?.stop());

  const interactionsRoute = async () => (await stack.sim<{ routes: Record<string, Counters> }>('/__sim/stats')).routes['publish.interactions'];

  it("fetches every published article's counts, 3 at once, and stores them; another user's articles are not theirs", async () => {
    await stack.sim('/__sim/config', { routes: { 'publish.interactions': { latency: { kind: 'fixed', ms: 150 } } } });
    const before = (await interactionsRoute())?.requests ?? 0;
    const { articles } = await lastValueFrom(stack.publish.fetchInteractions(alice));
    expect(articles.map((a) => a.taskId).sort()).toEqual([...taskIds].sort());
    expect(articles.every((a) => a.success && a.error === '' && a.resultUrl.includes('/p/'))).toBe(true);
    expect(articles.some((a) => a.likes > 0)).toBe(true);
    const route = await interactionsRoute();
    expect((route?.requests ?? 0) - before).toBe(7);
    expect(route?.inFlightPeak).toBe(3);

    const stored = await stack.query<{ task_id: string; likes: number; comments: number; shares: number }>(
      'SELECT task_id, likes, comments, shares FROM publish_interactions WHERE tenant = ? AND user_id = ?',
      [alice.tenant, alice.userId],
    );
    expect(stored.map((row) => [row.task_id, row.likes, row.comments, row.shares]).sort()).toEqual(
      articles.map((a) => [a.taskId, a.likes, a.comments, a.shares]).sort(),
    );
    expect((await lastValueFrom(stack.publish.fetchInteractions({ userId: 'interactions-bob', tenant: TENANT }))).articles).toEqual([]);
  });

  it('reports a failed or timed-out fetch as that article\'s result, and keeps the counts stored before', async () => {
    const [previous] = await stack.query<{ likes: number }>('SELECT likes FROM publish_interactions WHERE task_id = ?', [taskIds[0]]);
    // Slower than PUBLISH_INTERACTIONS_TIMEOUT_MS (1 s): every fetch is aborted at the timeout.
    await stack.sim('/__sim/config', { routes: { 'publish.interactions': { latency: { kind: 'fixed', ms: 5_000 } } } });
    const abortedBefore = (await interactionsRoute())?.aborted ?? 0;
    const { articles } = await lastValueFrom(stack.publish.fetchInteractions(alice));
    expect(articles).toHaveLength(7);
    expect(articles.every((a) => !a.success && /timed out after 1000 ms/.test(a.error))).toBe(true);
    // Each call was really aborted at its timeout (the platform saw the client go), not left running.
    await waitFor(async () => (((await interactionsRoute())?.aborted ?? 0) - abortedBefore === 7 ? true : undefined), { what: 'the 7 aborted calls at the platform' });
    const [after] = await stack.query<{ likes: number }>('SELECT likes FROM publish_interactions WHERE task_id = ?', [taskIds[0]]);
    expect(after?.likes).toBe(previous?.likes);
  });
});
