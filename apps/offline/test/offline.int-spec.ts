import { connect, JSONCodec } from 'nats';
import { lastValueFrom } from 'rxjs';
import { readMetric, waitFor } from '@batchgate/testing';
import { owner, startOfflineStack, TENANT, type OfflineStack } from './offline.harness';

/** Synchronous batches against the simulated marketplace over HTTP, with real MySQL and NATS. */
describe('offline: synchronous batches', () => {
  let stack: OfflineStack;
  beforeAll(async () => {
    stack = await startOfflineStack();
  }, 60_000);
  afterAll(() => stack.stop());

  it('de-lists every product, polls until the outcome, isolates a refused one, and stores the batch and its items', async () => {
    await stack.sim('/__sim/config', { marketplace: { pollsByProduct: { '1002': 3 }, failingProducts: [1003] } });
    const batch = await lastValueFrom(stack.offline.offlineProducts({ productIds: [1001, 1002, 1003], maxThreads: 0, runAsync: false, autoThreads: false, ...owner() }));

    expect(batch).toMatchObject({
      success: true,
      status: 'partial',
      threadInfo: { maxThreads: 8, actualThreads: 3, productCount: 3 },
      summary: { total: 3, success: 2, failed: 1 },
      cacheUsed: false,
    });
    expect(batch.parentMsgId).toMatch(/^\d{15}$/);
    expect(batch.toolId).toBe('2406230000031');
    expect(batch.results.map((r) => [r.productId, r.success, r.details?.retryCount])).toEqual([
      [1001, true, 2],
      [1002, true, 3],
      [1003, false, 2],
    ]);
    expect(batch.results[0]?.details).toMatchObject({ productName: 'Product 1001', productImg: expect.stringContaining('1001'), offlineMsgId: expect.any(String) });
    expect(batch.results[2]?.message).toContain('promotion');
    expect(await stack.effects()).toMatchObject({ '1001': { effects: 1 }, '1002': { effects: 1 } });

    // Stored: the batch and its products, and the tenant's record of the two de-listed ones.
    const [job] = await stack.database.query<{ status: string; total: number }>('SELECT status, total FROM job WHERE id = ?', [batch.batchId]);
    expect(job).toEqual({ status: 'partial', total: 3 });
    const offline = await stack.database.query<{ product_id: number | string }>('SELECT product_id FROM offline_product WHERE tenant = ? ORDER BY product_id', [TENANT]);
    expect(offline.map((row) => Number(row.product_id))).toEqual([1001, 1002]);
    const read = await lastValueFrom(stack.offline.getOfflineBatch({ batchId: batch.batchId, ...owner() }));
    expect(read).toEqual(batch);
  });

  it('reports a product de-listed by an earlier batch as offline without de-listing it again, and reuses the cached session', async () => {
    const before = await stack.requests('marketplace.conversation');
    const batch = await lastValueFrom(stack.offline.offlineProducts({ productIds: [1001, 1004], maxThreads: 2, runAsync: false, autoThreads: false, ...owner() }));
    expect(batch).toMatchObject({ status: 'success', cacheUsed: true, summary: { total: 2, success: 2, failed: 0 }, threadInfo: { maxThreads: 2, actualThreads: 2 } });
    expect(batch.results[0]).toMatchObject({ productId: 1001, success: true, alreadyOffline: true, details: { retryCount: 0, productName: 'Product 1001' } });
    expect(await stack.requests('marketplace.conversation')).toBe(before);
    expect((await stack.effects())['1001']).toEqual({ effects: 1, repeats: 0 });
  });

  it("drops the cached session when the seller's configuration changes (a NATS event): the next batch fetches new ids", async () => {
    const cached = await lastValueFrom(stack.offline.offlineProducts({ productIds: [1101], maxThreads: 0, runAsync: false, autoThreads: false, ...owner() }));
    expect(cached.cacheUsed).toBe(true);
    const nats = await connect({ servers: 'nats://127.0.0.1:4222' });
    try {
      await nats.jetstream().publish('offline.seller.config_changed', JSONCodec().encode({ tenant: TENANT, occurredAt: new Date().toISOString() }));
    } finally {
      await nats.close();
    }
    await waitFor(async () => ((await stack.database.query('SELECT tenant FROM offline_session WHERE tenant = ?', [TENANT])).length === 0 ? true : undefined), {
      what: "the tenant's cached session to be dropped",
    });
    const conversations = await stack.requests('marketplace.conversation');
    const refetched = await lastValueFrom(stack.offline.offlineProducts({ productIds: [1102], maxThreads: 0, runAsync: false, autoThreads: false, ...owner() }));
    expect(refetched).toMatchObject({ cacheUsed: false, status: 'success' });
    expect(await stack.requests('marketplace.conversation')).toBe(conversations + 1);
  });

  it('finds the thread count itself for max_threads "auto", inside the configured maximum, and reports the limit it settled on', async () => {
    const productIds = Array.from({ length: 30 }, (_, i) => 1201 + i);
    const batch = await lastValueFrom(stack.offline.offlineProducts({ productIds, maxThreads: 0, runAsync: false, autoThreads: true, ...owner() }));
    expect(batch).toMatchObject({ status: 'success', autoThreads: true, summary: { total: 30, success: 30 } });
    const limit = await readMetric(stack.metricsUrl(), 'offline_adaptive_limit');
    expect(limit).toBeGreaterThanOrEqual(1);
    expect(batch.threadInfo).toEqual({ maxThreads: 8, actualThreads: limit, productCount: 30 });
  });

  it('reports a product the marketplace already has offline (de-listed elsewhere) as offline, without a second effect', async () => {
    // De-listed at the marketplace directly, not by any batch of ours.
    const { parentMsgId } = await stack.sim<{ parentMsgId: string }>('/marketplace/conversations', {});
    const { offlineMsgId } = await stack.sim<{ offlineMsgId: string }>('/marketplace/tools/2406230000031/invoke', { parentMsgId, productId: 1301 });
    await stack.sim(`/marketplace/messages/${offlineMsgId}`);
    await stack.sim(`/marketplace/messages/${offlineMsgId}`);
    expect((await stack.effects())['1301']).toEqual({ effects: 1, repeats: 0 });
    const batch = await lastValueFrom(stack.offline.offlineProducts({ productIds: [1301], maxThreads: 0, runAsync: false, autoThreads: false, ...owner() }));
    expect(batch.results[0]).toMatchObject({ productId: 1301, success: true, alreadyOffline: true, details: { retryCount: 0, productName: 'Product 1301' } });
    expect((await stack.effects())['1301']).toEqual({ effects: 1, repeats: 1 });
    // Recorded: the next batch knows without asking the marketplace.
    const again = await lastValueFrom(stack.offline.offlineProducts({ productIds: [1301], maxThreads: 0, runAsync: false, autoThreads: false, ...owner() }));
    expect(again.results[0]).toMatchObject({ alreadyOffline: true });
    expect((await stack.effects())['1301']).toEqual({ effects: 1, repeats: 1 });
  });

  it('answers a synchronous batch that outlasts the caller\'s deadline with the batch still running, and the batch goes on', async () => {
    await stack.sim('/__sim/config', { routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 400 } } } });
    try {
      const client = stack.clientWithDeadline(2_500);
      const productIds = Array.from({ length: 6 }, (_, i) => 1401 + i);
      const answer = await lastValueFrom(client.offlineProducts({ productIds, maxThreads: 1, runAsync: false, autoThreads: false, ...owner() }));
      expect(answer.finishedAt).toBe('');
      expect(['queued', 'running']).toContain(answer.status);
      const done = await waitFor(
        async () => {
          const batch = await lastValueFrom(stack.offline.getOfflineBatch({ batchId: answer.batchId, ...owner() }));
          return batch.finishedAt ? batch : undefined;
        },
        { timeoutMs: 20_000, what: 'the batch to end' },
      );
      expect(done).toMatchObject({ status: 'success', summary: { success: 6 } });
    } finally {
      await stack.sim('/__sim/config', { routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 0 } } } });
    }
  });

  it('refuses bad input with the field named and stores nothing', async () => {
    const countJobs = async () => Number((await stack.database.query<{ n: number }>('SELECT COUNT(*) AS n FROM job'))[0]?.n);
    const before = await countJobs();
    const refuse = async (productIds: number[], maxThreads: number) => {
      const call = lastValueFrom(stack.offline.offlineProducts({ productIds, maxThreads, runAsync: false, autoThreads: false, ...owner() }));
      await expect(call).rejects.toMatchObject({ code: 3 });
      return call.catch((error: { metadata: { get: (key: string) => unknown[] } }) => String(error.metadata.get('x-error-details')[0]));
    };
    expect(await refuse([], 8)).toContain('productIds');
    expect(await refuse([1, 1], 8)).toContain('productIds');
    expect(await refuse([0], 8)).toContain('productIds');
    expect(await refuse([1], 9)).toContain('max_threads');
    expect(await countJobs()).toBe(before);
  });
});
