import { completionFor } from '../src/chat/chat.routes';
import { startSim, type SimUnderTest } from './sim.harness';

describe('upstream-sim chat, marketplace, publishing and webhook APIs', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.state.reset());

  const json = async <T>(response: Promise<Response>) => (await (await response).json()) as T;
  const effects = async () =>
    (await json<{ effects: Record<string, Record<string, { effects: number; repeats: number }>> }>(sim.get('/__sim/stats'))).effects;

  describe('chat completions (OpenAI-compatible)', () => {
    const request = { model: 'sim-gpt', messages: [{ role: 'user', content: 'Write a persona for a value investor' }] };

    it('answers deterministically with token usage', async () => {
      const first = await json<{ choices: Array<{ message: { content: string } }>; usage: { total_tokens: number } }>(
        sim.post('/v1/chat/completions', request),
      );
      const again = await json<typeof first>(sim.post('/v1/chat/completions', request));
      const content = first.choices[0]?.message.content ?? '';
      expect(content).toBe(again.choices[0]?.message.content);
      expect(content).toBe(completionFor('user:Write a persona for a value investor', 256));
      expect(first.usage.total_tokens).toBeGreaterThan(content.split(' ').length);
    });

    it('streams server-sent events ending with [DONE] that add up to the same text', async () => {
      const response = await sim.post('/v1/chat/completions', { ...request, stream: true });
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const events = (await response.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
      expect(events.at(-1)).toBe('[DONE]');
      const text = events
        .slice(0, -1)
        .map((e) => (JSON.parse(e) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
        .join('');
      expect(text).toBe(completionFor('user:Write a persona for a value investor', 256));
    });

    it('rejects a malformed request with 400', async () => {
      expect((await sim.post('/v1/chat/completions', { model: 'x', messages: [] })).status).toBe(400);
    });
  });

  describe('marketplace seller API', () => {
    it('de-lists through conversation, tool, invoke and polling, once per product', async () => {
      await sim.post('/__sim/config', { marketplace: { pollsByProduct: { '42': 3 } } });
      const { parentMsgId } = await json<{ parentMsgId: string }>(sim.post('/marketplace/conversations', {}));
      const { toolId } = await json<{ toolId: string }>(sim.get('/marketplace/tools/offline'));
      const invoke = await sim.post(`/marketplace/tools/${toolId}/invoke`, { parentMsgId, productId: 42 });
      expect(invoke.status).toBe(202);
      const { offlineMsgId } = (await invoke.json()) as { offlineMsgId: string };
      const polls = [];
      for (let i = 0; i < 3; i++) polls.push(await json<{ status: string; productName: string; productImg: string }>(sim.get(`/marketplace/messages/${offlineMsgId}`)));
      expect(polls.map((p) => p.status)).toEqual(['pending', 'pending', 'success']);
      expect(polls[2]).toMatchObject({ productName: 'Product 42', productImg: expect.stringContaining('42') });

      const repeat = await json<{ alreadyOffline: boolean }>(sim.post(`/marketplace/tools/${toolId}/invoke`, { parentMsgId, productId: 42 }));
      expect(repeat.alreadyOffline).toBe(true);
      expect((await effects())['marketplace.offline']?.['42']).toEqual({ effects: 1, repeats: 1 });
    });

    it('reports a failed de-list and rejects bad input', async () => {
      await sim.post('/__sim/config', { marketplace: { defaultPolls: 1, failingProducts: [7] } });
      const { offlineMsgId } = await json<{ offlineMsgId: string }>(sim.post('/marketplace/tools/2406230000031/invoke', { parentMsgId: 'p', productId: 7 }));
      expect(await json(sim.get(`/marketplace/messages/${offlineMsgId}`))).toMatchObject({ status: 'failed', message: expect.any(String) });
      expect((await sim.post('/marketplace/tools/2406230000031/invoke', { parentMsgId: 'p', productId: -1 })).status).toBe(400);
      expect((await sim.post('/marketplace/tools/999/invoke', { parentMsgId: 'p', productId: 1 })).status).toBe(404);
    });
  });

  describe('publishing platform', () => {
    it('publishes once per idempotency key; the page appears after the delay; interactions grow', async () => {
      await sim.post('/__sim/config', { publishing: { visibleAfterMs: 200 } });
      const publish = () => sim.post('/publishing/articles', { title: 'Hello', content: 'World' }, { 'idempotency-key': 'task-1' });
      const first = await publish();
      expect(first.status).toBe(201);
      const article = (await first.json()) as { articleId: string; url: string; repeat: boolean };
      const again = await json<{ articleId: string; repeat: boolean }>(publish());
      expect(again).toMatchObject({ articleId: article.articleId, repeat: true });
      expect((await effects())['publish.article']?.['task-1']).toEqual({ effects: 1, repeats: 1 });

      expect((await fetch(article.url)).status).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 250));
      const page = await fetch(article.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Hello');

      const interactions = await json<{ likes: number; comments: number; shares: number }>(sim.get(`/publishing/articles/${article.articleId}/interactions`));
      expect(interactions.likes).toBeGreaterThanOrEqual(0);
      const state = sim.state.publishing.byId.get(article.articleId);
      if (state) state.publishedAt -= 30 * 60_000; // half an hour later
      const later = await json<typeof interactions>(sim.get(`/publishing/articles/${article.articleId}/interactions`));
      expect(later.likes).toBeGreaterThan(interactions.likes);
      expect(later.comments).toBeGreaterThan(interactions.comments);
    });

    it('refuses with the platform error message in failure mode, and requires an idempotency key', async () => {
      await sim.post('/__sim/config', { publishing: { failingTitles: ['#blocked'] } });
      const refused = await sim.post('/publishing/articles', { title: 'Post #blocked', content: 'x' }, { 'idempotency-key': 'k2' });
      expect(refused.status).toBe(422);
      expect(await refused.json()).toMatchObject({ success: false, message: expect.stringContaining('content rejected') });
      expect((await sim.post('/publishing/articles', { title: 'a', content: 'b' })).status).toBe(400);
    });
  });

  describe('notification webhook receiver', () => {
    it('records every delivery with its idempotency key', async () => {
      await sim.post('/webhook/notify', { event: 'role.created' }, { 'idempotency-key': 'role-1' });
      const second = await json<{ duplicate: boolean }>(sim.post('/webhook/notify', { event: 'role.created' }, { 'idempotency-key': 'role-1' }));
      expect(second.duplicate).toBe(true);
      const { deliveries } = await json<{ deliveries: Array<{ idempotencyKey: string }> }>(sim.get('/webhook/deliveries'));
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['role-1', 'role-1']);
      expect((await effects())['webhook.delivery']?.['role-1']).toEqual({ effects: 1, repeats: 1 });
    });
  });

  it('serves /metrics, /healthz and /readyz on its own port', async () => {
    expect((await sim.get('/healthz')).status).toBe(200);
    expect((await sim.get('/readyz')).status).toBe(200);
    expect((await sim.get('/metrics')).status).toBe(200);
  });
});
