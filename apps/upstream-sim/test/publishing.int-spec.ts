import { interactionsAt } from '../src/publishing/interactions';
import { waitFor } from '@batchgate/testing';
import { json, manualClock, startSim, type SimUnderTest } from './sim.harness';

interface Published {
  success: boolean;
  repeat: boolean;
  articleId: string;
  url: string;
  visible: boolean;
}

describe('upstream-sim publishing platform (seed 003)', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const publish = (
    key: string | undefined,
    body: Record<string, unknown> = { title: 'Hello', content: 'World' },
  ) => sim.post('/publishing/articles', body, key === undefined ? {} : { 'idempotency-key': key });
  const effects = async () => (await sim.stats()).effects['publish.article'] ?? {};

  it('publishes once per idempotency key: the same key gives the same article, counted as a repeat', async () => {
    const first = await publish('task-1');
    expect(first.status).toBe(201);
    const article = (await first.json()) as Published;
    expect(article).toMatchObject({
      success: true,
      repeat: false,
      url: `${sim.url}/p/${article.articleId}`,
    });
    const again = await publish('task-1');
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      repeat: true,
      articleId: article.articleId,
      url: article.url,
    });
    // The key may come in the body too.
    expect(
      await json(
        publish(undefined, { title: 'Hello', content: 'World', idempotencyKey: 'task-1' }),
      ),
    ).toMatchObject({
      repeat: true,
      articleId: article.articleId,
    });
    expect((await effects())['task-1']).toEqual({ effects: 1, repeats: 2 });
    expect((await publish('task-2')).status).toBe(201);
    expect(Object.keys(await effects())).toEqual(['task-1', 'task-2']);
  });

  it('answers whether an article exists for an idempotency key, without publishing', async () => {
    const lookup = (key: string) => fetch(`${sim.url}/publishing/articles?idempotencyKey=${key}`);
    expect((await lookup('task-lookup')).status).toBe(404);
    const article = (await json(publish('task-lookup'))) as Published;
    const found = await lookup('task-lookup');
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ success: true, articleId: article.articleId, url: article.url });
    expect((await effects())['task-lookup']).toEqual({ effects: 1, repeats: 0 });
    expect((await fetch(`${sim.url}/publishing/articles`)).status).toBe(400);
  });

  it('refuses a key reused for other content (409), and requires a key (400)', async () => {
    await publish('task-3');
    expect(await json(publish('task-3', { title: 'Other', content: 'World' }))).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await json(publish(undefined))).toMatchObject({ code: 'IDEMPOTENCY_KEY_REQUIRED' });
    expect((await publish('k', { title: '', content: 'x' })).status).toBe(400);
    expect((await effects())['task-3']).toEqual({ effects: 1, repeats: 0 });
  });

  it('shows the article page at its URL only after the configured delay', async () => {
    await sim.configure({ publishing: { visibleAfterMs: 300 } });
    const published = performance.now();
    const article = await json<Published>(
      publish('task-4', { title: 'Delayed <b>post</b>', content: 'x' }),
    );
    expect(article.visible).toBe(false);
    const early = await fetch(article.url);
    expect(early.status).toBe(404);
    await early.text();
    expect(await json(sim.get(`/publishing/articles/${article.articleId}`))).toMatchObject({
      visible: false,
    });
    const page = await waitFor(
      async () => {
        const response = await fetch(article.url);
        if (response.status === 200) return response;
        await response.text();
        return undefined;
      },
      { intervalMs: 20, what: 'the article page to appear' },
    );
    expect(performance.now() - published).toBeGreaterThanOrEqual(295);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<h1>Delayed &#60;b&#62;post&#60;/b&#62;</h1>');
    expect(await json(sim.get(`/publishing/articles/${article.articleId}`))).toMatchObject({
      visible: true,
    });
    expect((await sim.get('/p/nope')).status).toBe(404);
    // An injected outage on the page keeps it an HTML page.
    await sim.configure({ routes: { 'publish.page': { errorRate: 1, errorStatus: 502 } } });
    const broken = await fetch(article.url);
    expect(broken.status).toBe(502);
    expect(broken.headers.get('content-type')).toContain('text/html');
    expect(await broken.text()).toContain('<h1>502</h1>');
  });

  it('refuses with the platform error message in failure mode; a refusal is no effect and may be retried', async () => {
    await sim.configure({ publishing: { failingTitles: ['#blocked'] } });
    const refused = await publish('task-5', { title: 'Post #blocked', content: 'x' });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toEqual({
      success: false,
      code: 'PUBLISH_REJECTED',
      message: expect.stringContaining('content rejected'),
    });
    expect((await effects())['task-5']).toBeUndefined();

    await sim.configure({
      publishing: { failingTitles: [], failureRate: 1, failureMessage: '平台维护中 (maintenance)' },
    });
    expect(await json(publish('task-5'))).toMatchObject({ message: '平台维护中 (maintenance)' });
    await sim.configure({ publishing: { failureRate: 0.5, seed: 3 } });
    const statuses = [];
    for (let i = 0; i < 40; i++) statuses.push((await publish(`rate-${i}`)).status);
    const refusedCount = statuses.filter((s) => s === 422).length;
    expect(refusedCount).toBeGreaterThan(8);
    expect(refusedCount).toBeLessThan(32);
    expect(statuses.filter((s) => s === 201)).toHaveLength(40 - refusedCount);
  });

  it('grows interaction counts with the article age (a deterministic function of it)', async () => {
    const clock = manualClock(Date.parse('2026-04-01T08:00:00Z'));
    const own = await startSim({ now: clock.now });
    try {
      const article = await json<Published>(
        own.post(
          '/publishing/articles',
          { title: 'T', content: 'C' },
          { 'idempotency-key': 'i-1' },
        ),
      );
      const read = () =>
        json<{ likes: number; comments: number; shares: number }>(
          own.get(`/publishing/articles/${article.articleId}/interactions`),
        );
      expect(await read()).toMatchObject({ likes: 0, comments: 0, shares: 0 });
      const seen = [];
      for (const minutes of [10, 60, 600]) {
        clock.set(Date.parse('2026-04-01T08:00:00Z') + minutes * 60_000);
        const counts = await read();
        expect(counts).toMatchObject(interactionsAt(article.articleId, minutes * 60_000));
        seen.push(counts);
      }
      for (const field of ['likes', 'comments', 'shares'] as const) {
        expect(seen[0]?.[field]).toBeLessThan(seen[2]?.[field] ?? 0);
        expect(seen[1]?.[field]).toBeLessThanOrEqual(seen[2]?.[field] ?? 0);
      }
      expect((await own.get('/publishing/articles/nope/interactions')).status).toBe(404);
    } finally {
      await own.close();
    }
  });

  it('speeds interaction growth up on request (real time)', async () => {
    await sim.configure({ publishing: { interactionsSpeedup: 600_000 } });
    const article = await json<Published>(publish('task-6'));
    const read = () =>
      json<{ likes: number }>(sim.get(`/publishing/articles/${article.articleId}/interactions`));
    const first = await read();
    // At real speed the likes would not move within the wait.
    await waitFor(async () => ((await read()).likes > first.likes ? true : undefined), {
      timeoutMs: 2_000,
      intervalMs: 20,
      what: 'the likes to grow',
    });
  });
});
