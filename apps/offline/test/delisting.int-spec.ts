import { lastValueFrom } from 'rxjs';
import type { OfflineBatch } from '@batchgate/contracts/offline/v1/offline';
import { readMetric, waitFor } from '@batchgate/testing';
import { owner, startOfflineStack, type OfflineStack } from './offline.harness';

/**
 * Two offline replicas on one work queue and one database, against the simulated marketplace:
 * the shared session cache, no product de-listed twice (two batches at once, a replica killed
 * mid-batch), a marketplace outage waited out. The crash comes last: it leaves one replica.
 */
describe('offline: replicas, session cache and faults', () => {
  let stack: OfflineStack;
  beforeAll(async () => {
    stack = await startOfflineStack({ OFFLINE_ACK_WAIT_MS: '2000', MARKETPLACE_TIMEOUT_MS: '1000', MARKETPLACE_BREAKER_RECOVERY_MS: '300' }, 2);
  }, 90_000);
  afterAll(() => stack.stop());

  const offline = (client: OfflineStack['offline'], tenant: string, productIds: number[], runAsync = false) =>
    lastValueFrom(client.offlineProducts({ productIds, maxThreads: 0, runAsync, autoThreads: false, ...owner(tenant) }));
  const ended = (batchId: string, tenant: string, client = stack.offline) =>
    waitFor(
      async () => {
        const batch = await lastValueFrom(client.getOfflineBatch({ batchId, ...owner(tenant) }));
        return batch.finishedAt ? batch : undefined;
      },
      { timeoutMs: 30_000, what: `batch ${batchId} to end` },
    );
  const effectsOf = async (productIds: number[]) => {
    const all = await stack.effects();
    return productIds.map((id) => all[String(id)]?.effects ?? 0);
  };

  it('shares one conversation fetch between replicas, refetches a stale tool id once, and refetches after the admin invalidation', async () => {
    const tenant = 'shared-seller';
    const conversations = await stack.requests('marketplace.conversation');
    const [first, second] = await Promise.all([offline(stack.replicaClient(0), tenant, [2001, 2002]), offline(stack.replicaClient(1), tenant, [2003, 2004])]);
    expect([first, second].map((b) => b.status)).toEqual(['success', 'success']);
    expect(await stack.requests('marketplace.conversation')).toBe(conversations + 1);
    expect([first.cacheUsed, second.cacheUsed].sort()).toEqual([false, true]);
    expect(second.parentMsgId).toBe(first.parentMsgId);

    // The seller's configuration changed at the marketplace: the cached tool id answers 404.
    await stack.sim('/__sim/config', { marketplace: { toolId: '2406230000099' } });
    const tools = await stack.requests('marketplace.tool');
    const afterChange = await offline(stack.offline, tenant, [2005, 2006, 2007]);
    expect(afterChange).toMatchObject({ status: 'success', toolId: '2406230000099', summary: { success: 3 } });
    expect(await stack.requests('marketplace.tool')).toBe(tools + 1);

    expect(await lastValueFrom(stack.offline.invalidateSessionCache({ tenant }))).toEqual({ invalidated: true });
    const refetched = await offline(stack.offline, tenant, [2008]);
    expect(refetched.cacheUsed).toBe(false);
    expect(await stack.requests('marketplace.conversation')).toBe(conversations + 3);
  });

  it('de-lists a product once when two batches with it run at once', async () => {
    const [a, b] = await Promise.all([
      offline(stack.replicaClient(0), 'racing-seller', [3001, 3002, 3003]),
      offline(stack.replicaClient(1), 'racing-seller', [3003, 3004, 3001]),
    ]);
    expect([a.status, b.status]).toEqual(['success', 'success']);
    expect(await effectsOf([3001, 3002, 3003, 3004])).toEqual([1, 1, 1, 1]);
  });

  it('opens the breaker in a marketplace outage, loses no product, and finishes the batch after it', async () => {
    const tenant = 'outage-seller';
    const productIds = Array.from({ length: 10 }, (_, i) => 5001 + i);
    const client = stack.offline;
    await offline(client, tenant, [4999]); // the session, cached before the outage
    await stack.sim('/__sim/config', {
      routes: {
        'marketplace.invoke': { outages: [{ startMs: 0, endMs: 3_000, relative: true, kind: 'reset' }] },
        'marketplace.poll': { outages: [{ startMs: 0, endMs: 3_000, relative: true, kind: 'reset' }] },
      },
    });
    const batch = await offline(client, tenant, productIds, true);
    await waitFor(
      async () => {
        for (const replica of [0, 1]) {
          if ((await readMetric(stack.metricsUrl(replica), 'concurrency_breaker_state', { name: 'marketplace-upstream' })) === 2) return true;
        }
        return undefined;
      },
      { timeoutMs: 10_000, what: "the marketplace's breaker to open" },
    );
    const done = await ended(batch.batchId, tenant, client);
    expect(done).toMatchObject({ status: 'success', summary: { total: 10, success: 10, failed: 0 } });
    expect(await effectsOf(productIds)).toEqual(productIds.map(() => 1));
  });

  it("makes a running batch fetch new ids for its remaining products when the admin invalidates the tenant's session", async () => {
    const tenant = 'switching-seller';
    await stack.sim('/__sim/config', { routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 150 } } } });
    try {
      const batch = await lastValueFrom(
        stack.offline.offlineProducts({ productIds: [6001, 6002, 6003, 6004, 6005, 6006], maxThreads: 1, runAsync: true, autoThreads: false, ...owner(tenant) }),
      );
      const started = await waitFor(
        async () => {
          const now = await lastValueFrom(stack.offline.getOfflineBatch({ batchId: batch.batchId, ...owner(tenant) }));
          return (now.progress?.done ?? 0) >= 1 ? now : undefined;
        },
        { what: 'the first product de-listed' },
      );
      const conversations = await stack.requests('marketplace.conversation');
      expect(await lastValueFrom(stack.offline.invalidateSessionCache({ tenant }))).toEqual({ invalidated: true });
      const done = await ended(batch.batchId, tenant);
      expect(done).toMatchObject({ status: 'success', summary: { success: 6 } });
      expect(await stack.requests('marketplace.conversation')).toBe(conversations + 1);
      expect(done.parentMsgId).not.toBe(started.parentMsgId);
    } finally {
      await stack.sim('/__sim/config', { routes: { 'marketplace.poll': { latency: { kind: 'fixed', ms: 0 } } } });
    }
  });

  it('finishes a batch whose replica was killed mid-batch on the other replica, de-listing every product once', async () => {
    const tenant = 'crash-seller';
    const productIds = Array.from({ length: 24 }, (_, i) => 4001 + i);
    await stack.sim('/__sim/config', {
      marketplace: { defaultPolls: 3 },
      routes: { 'marketplace.invoke': { latency: { kind: 'fixed', ms: 150 } }, 'marketplace.poll': { latency: { kind: 'fixed', ms: 150 } } },
    });
    const batch = await offline(stack.offline, tenant, productIds, true);
    // The replica that holds it is the one de-listing: kill it once some products are done.
    const holder = await waitFor(
      async () => {
        for (const replica of [0, 1]) {
          const delisted = await readMetric(stack.metricsUrl(replica), 'offline_products_total', { outcome: 'delisted' });
          if ((delisted ?? 0) > 0) return { replica };
        }
        return undefined;
      },
      { timeoutMs: 20_000, what: 'a replica to de-list a product' },
    );
    await stack.services.process('offline', holder.replica).kill();
    const done: OfflineBatch = await ended(batch.batchId, tenant, stack.replicaClient(1 - holder.replica));
    expect(done).toMatchObject({ status: 'success', summary: { total: 24, success: 24, failed: 0 } });
    expect(await effectsOf(productIds)).toEqual(productIds.map(() => 1));
  }, 60_000);
});
