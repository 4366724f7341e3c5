import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

interface TaskView {
  task_id: string;
  status: string;
  progress: number;
  article_title: string;
  article_id: number | null;
  result_url: string | null;
  error_message: string | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** Seed 003's publishing routes through the gateway, against the simulated platform over HTTP. */
describe('publish through the gateway', () => {
  let stack: Stack;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ services: ['publish'], env: { publish: { PUBLISH_USER_RATE_LIMIT: '6', PUBLISH_VERIFY_TIMEOUT_MS: '2000' } } });
    bearer = { authorization: `Bearer ${await stack.mintToken({ perms: ['publish:run', 'publish:list'] })}`, 'content-type': 'application/json' };
  }, 90_000);
  afterAll(() => stack.stop());

  const sim = (path: string, body: unknown) =>
    fetch(`${stack.services.url('upstream-sim', 'http')}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const post = (path: string, body: unknown, headers = bearer) =>
    stack.fetch(path, { method: 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const get = (path: string, headers = bearer) => stack.fetch(path, { headers });
  const ended = (taskId: string) =>
    waitFor(
      async () => {
        const { task } = (await (await get(`/api/publish_task/${taskId}`)).json()) as { task: TaskView };
        return ['success', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
      },
      { timeoutMs: 20_000, what: `task ${taskId} to end` },
    );

  it('publishes an article in the seed shapes: answers at once, streams every change, ends verified', async () => {
    await sim('/__sim/config', { publishing: { visibleAfterMs: 200 } });
    const accepted = await post('/api/publish_zhihu', { title: '文章标题', content: '文章内容', article_id: 123 });
    expect(accepted.status).toBe(202);
    const answer = (await accepted.json()) as { success: boolean; task_id: string; status: string; message: string };
    expect(answer).toEqual({ success: true, task_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued', message: expect.any(String) });

    // The stream answers the task now, then each change, and ends with the task.
    const events = await get(`/api/publish_task/${answer.task_id}/events`, { authorization: bearer['authorization'] ?? '' });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const streamed = (await events.text())
      .split('\n\n')
      .filter((frame) => frame.startsWith('event: task'))
      .map((frame) => JSON.parse(frame.split('\n').find((line) => line.startsWith('data: '))?.slice(6) ?? '{}') as TaskView);
    expect(streamed.at(-1)).toMatchObject({ status: 'success', progress: 100 });
    expect(streamed.map((task) => task.progress)).toEqual([...streamed.map((task) => task.progress)].sort((a, b) => a - b));

    const task = await ended(answer.task_id);
    expect(task).toMatchObject({ task_id: answer.task_id, status: 'success', progress: 100, article_title: '文章标题', article_id: 123, error_message: null, attempts: 1 });
    expect((await fetch(task.result_url ?? '')).status).toBe(200);
    const list = (await (await get('/api/publish_tasks?status=success')).json()) as { success: boolean; tasks: TaskView[]; total: number };
    expect(list.tasks.map((t) => t.task_id)).toContain(answer.task_id);
  });

  it("fetches the interaction counts of the caller's published articles (seed 002's route)", async () => {
    // No body: the gateway takes a POST without one (and without a Content-Type).
    const answer = await post('/api/interactions/fetch-all-interactions', undefined, { authorization: bearer['authorization'] ?? '' });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { success: boolean; total: number; success_count: number; failed_count: number; results: Array<Record<string, unknown>> };
    expect(body).toMatchObject({ success: true, failed_count: 0 });
    expect(body.total).toBeGreaterThan(0);
    expect(body.success_count).toBe(body.total);
    expect(body.results[0]).toMatchObject({ success: true, article_id: 123, likes: expect.any(Number), error: null });
  });

  it('answers 409 to a cancel of an ended task and to a retry of a successful one, 404 to a stranger, 403 without the permission', async () => {
    const { task_id } = (await (await post('/api/publish_zhihu', { title: 'once', content: 'body', article_id: 7 })).json()) as { task_id: string };
    await ended(task_id);
    expect((await post(`/api/publish_task/${task_id}/cancel`, {})).status).toBe(409);
    const retried = await post(`/api/publish_task/${task_id}/retry`, {});
    expect(retried.status).toBe(409);
    expect(((await retried.json()) as { error: { code: string } }).error.code).toBe('PUBLISH.NOTHING_TO_RETRY');

    const stranger = { authorization: `Bearer ${await stack.mintToken({ sub: 'mallory', perms: ['publish:run', 'publish:list'] })}`, 'content-type': 'application/json' };
    expect((await get(`/api/publish_task/${task_id}`, stranger)).status).toBe(404);
    expect((await get(`/api/publish_task/${task_id}/events`, stranger)).status).toBe(404);
    const readOnly = { authorization: `Bearer ${await stack.mintToken({ sub: 'reader', perms: ['publish:list'] })}`, 'content-type': 'application/json' };
    expect((await post('/api/publish_zhihu', { title: 't', content: 'c', article_id: 1 }, readOnly)).status).toBe(403);
  });

  it('refuses bad articles with 400 and stores nothing', async () => {
    const before = (await (await get('/api/publish_tasks')).json()) as { total: number };
    for (const body of [{ content: 'c', article_id: 1 }, { title: ' ', content: 'c', article_id: 1 }, { title: 't', content: 'c', article_id: 'x' }, { title: 't', content: 'c', article_id: 1, extra: 1 }]) {
      expect((await post('/api/publish_zhihu', body)).status).toBe(400);
    }
    expect((await post('/api/publish_zhihu_batch', { articles: [] })).status).toBe(400);
    const after = (await (await get('/api/publish_tasks')).json()) as { total: number };
    expect(after.total).toBe(before.total);
  });

  it("answers 429 with Retry-After over the user's per-minute limit; a batch takes what fits and reports the rest", async () => {
    const burster = { authorization: `Bearer ${await stack.mintToken({ sub: 'burster', perms: ['publish:run', 'publish:list'] })}`, 'content-type': 'application/json' };
    const articles = Array.from({ length: 8 }, (_, n) => ({ title: `burst ${n}`, content: 'c', article_id: 100 + n }));
    const batch = await post('/api/publish_zhihu_batch', { articles }, burster);
    expect(batch.status).toBe(202);
    const answer = (await batch.json()) as { success: boolean; total: number; success_count: number; failed_count: number; results: Array<Record<string, unknown>> };
    expect(answer).toMatchObject({ success: false, total: 8, success_count: 6, failed_count: 2 });
    expect(answer.results.slice(6)).toEqual([
      { error: expect.any(String), error_code: 'PUBLISH.RATE_LIMITED', retry_after: expect.any(Number) },
      { error: expect.any(String), error_code: 'PUBLISH.RATE_LIMITED', retry_after: expect.any(Number) },
    ]);
    const refused = await post('/api/publish_zhihu', { title: 'one more', content: 'c', article_id: 200 }, burster);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('PUBLISH.RATE_LIMITED');
  });
});
