import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

/** Seed 000's example answer (`/work/shared/seeds/000_*.txt`), as the contract of the synchronous route. */
const SEED_EXAMPLE = {
  success: true,
  message: '批量下架完成，共处理 3 个商品，2 个下架成功',
  parentMsgId: '448421445119357',
  toolId: '2406230000031',
  cacheUsed: true,
  threadInfo: { maxThreads: 8, actualThreads: 3, productCount: 3 },
  results: [
    {
      productId: 123456,
      success: true,
      message: '下架成功',
      details: { productName: '商品名称', productImg: '图片URL', offlineMsgId: '消息ID', retryCount: 2 },
    },
  ],
  summary: { total: 3, success: 2, failed: 1 },
};

/** The keys and JSON types of a document, recursively (an array by its first element). */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return [value.length === 0 ? 'empty' : shapeOf(value[0])];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
  }
  return value === null ? 'null' : typeof value;
}

/** The offline routes through the gateway, against upstream-sim's marketplace over HTTP. */
describe('offline through the gateway', () => {
  let stack: Stack;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ services: ['offline'] });
    bearer = { authorization: `Bearer ${await stack.mintToken({ perms: ['offline:run', 'offline:admin'] })}`, 'content-type': 'application/json' };
  }, 90_000);
  afterAll(() => stack.stop());

  const sim = (settings: unknown) =>
    fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
  const post = (path: string, body: unknown, headers = bearer) => stack.fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const get = (path: string, headers = bearer) => stack.fetch(path, { headers });

  it("answers a synchronous batch in the seed's shape: the same keys and JSON types, one refused product counted as failed", async () => {
    await sim({ marketplace: { failingProducts: [300003] } });
    const answer = await post('/api/temu/seller/offline', { productIds: [300001, 300002, 300003] });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as typeof SEED_EXAMPLE;
    expect(shapeOf(body)).toEqual(shapeOf(SEED_EXAMPLE));
    expect(body).toMatchObject({ success: true, summary: { total: 3, success: 2, failed: 1 }, threadInfo: { maxThreads: 8, actualThreads: 3, productCount: 3 } });
    expect(body.results.map((r) => [r.productId, r.success])).toEqual([
      [300001, true],
      [300002, true],
      [300003, false],
    ]);
    expect(body.results[0]?.message).toBe('下架成功');

    // The batch is stored: its owner reads it at its Location, with its state.
    const location = answer.headers.get('location') ?? '';
    expect(location).toMatch(/^\/api\/temu\/seller\/offline\/[0-9a-f-]{36}$/);
    const stored = (await (await get(location)).json()) as { status: string; summary: unknown };
    expect(stored).toMatchObject({ status: 'partial', summary: body.summary });
  });

  it('refuses bad input with the field named and stores nothing', async () => {
    const batches = async () => (await stack.services.database('offline').query<{ n: number | string }>('SELECT COUNT(*) AS n FROM job'))[0]?.n;
    const before = await batches();
    for (const [payload, field] of [
      [{ productIds: [] }, 'productIds'],
      [{ productIds: [1, 1] }, 'productIds'],
      [{ productIds: [0] }, 'productIds'],
      [{ productIds: ['1'] }, 'productIds'],
      [{ productIds: Array.from({ length: 1_001 }, (_, i) => i + 1) }, 'productIds'],
      [{ productIds: [1], max_threads: 9 }, 'max_threads'],
      [{ productIds: [1], max_threads: 0 }, 'max_threads'],
      [{ productIds: [1], max_threads: 'fast' }, 'max_threads'],
    ] as const) {
      const answer = await post('/api/temu/seller/offline', payload);
      expect(answer.status).toBe(400);
      const error = (await answer.json()) as { error: { details: { fields: Array<{ field: string }> } } };
      expect(error.error.details.fields.map((f) => f.field)).toContain(field);
    }
    expect(await batches()).toBe(before);
  });

  it('streams a batch as server-sent events until it ends, and cancels and retries it', async () => {
    await sim({ routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 150 } } } });
    try {
      const accepted = (await (await post('/api/temu/seller/offline?async=true', { productIds: [300201, 300202, 300203], max_threads: 1 })).json()) as { batchId: string };
      const stream = await get(`/api/temu/seller/offline/${accepted.batchId}/events`, { authorization: bearer['authorization'] ?? '' });
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toContain('text/event-stream');
      const events = (await stream.text())
        .split('\n\n')
        .filter((frame) => frame.startsWith('event: batch'))
        .map((frame) => JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { status: string; progress: { done: number } });
      expect(events.length).toBeGreaterThan(1);
      expect(events.at(-1)).toMatchObject({ status: 'success', progress: { done: 3 } });
      const done = events.map((event) => event.progress.done);
      expect(done).toEqual([...done].sort((a, b) => a - b));

      // A running batch is cancelled; its cancelled products run again on retry.
      await sim({ routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 2_000 } } } });
      const slow = (await (await post('/api/temu/seller/offline?async=true', { productIds: [300211, 300212, 300213], max_threads: 1 })).json()) as { batchId: string };
      const cancelled = await post(`/api/temu/seller/offline/${slow.batchId}/cancel`, {});
      expect(cancelled.status).toBe(200);
      expect(await cancelled.json()).toMatchObject({ status: 'cancelled' });
      expect((await post(`/api/temu/seller/offline/${slow.batchId}/cancel`, {})).status).toBe(409);
      await sim({ routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 0 } } } });
      expect((await post(`/api/temu/seller/offline/${slow.batchId}/retry`, {})).status).toBe(202);
      const retried = await waitFor(
        async () => {
          const now = (await (await get(`/api/temu/seller/offline/${slow.batchId}`)).json()) as { finishedAt: string; status: string; summary: unknown };
          return now.finishedAt ? now : undefined;
        },
        { timeoutMs: 30_000, what: 'the retried batch to end' },
      );
      expect(retried).toMatchObject({ status: 'success', summary: { total: 3, success: 3, failed: 0 } });
    } finally {
      await sim({ routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 0 } } } });
    }
  });

  it('runs a batch asynchronously: 202 with the batch at once, then its progress until it ends; only its owner sees it', async () => {
    const accepted = await post('/api/temu/seller/offline?async=true', { productIds: [300101, 300102], max_threads: 2 });
    expect(accepted.status).toBe(202);
    const batch = (await accepted.json()) as { batchId: string; status: string };
    expect(['queued', 'running', 'success']).toContain(batch.status);
    const ended = await waitFor(
      async () => {
        const now = (await (await get(`/api/temu/seller/offline/${batch.batchId}`)).json()) as { status: string; finishedAt: string; summary: unknown };
        return now.finishedAt ? now : undefined;
      },
      { timeoutMs: 30_000, what: `batch ${batch.batchId} to end` },
    );
    expect(ended).toMatchObject({ status: 'success', summary: { total: 2, success: 2, failed: 0 } });
    const stranger = { authorization: `Bearer ${await stack.mintToken({ perms: ['offline:run'], sub: 'mallory' })}` };
    expect((await get(`/api/temu/seller/offline/${batch.batchId}`, stranger)).status).toBe(404);
  });
});
