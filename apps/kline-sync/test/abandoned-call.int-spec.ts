import { randomBytes } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { KLINE_SYNC_SERVICE_NAME, type KlineSyncServiceClient } from '@batchgate/contracts/klinesync/v1/klinesync';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { testServiceCredentials, waitFor, waitForBatchStopped } from '@batchgate/testing';
import { TRIGGER_BATCH_NAME } from '../src/triggers/triggers.service';
import { deleteSyncWorkConsumer, provideTokens, startKlineStack, type KlineStack } from './stack.harness';

/**
 * SPEC §2.5: work for a caller that stopped waiting is not done. Triggers pull from a slow
 * provider (1.5 s a call, 3 at a time); the caller's deadline is 1 s.
 */
describe('kline-sync when the caller gives up', () => {
  let stack: KlineStack;
  const queue = `a${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    stack = await startKlineStack({ SYNC_WORK_QUEUE: queue });
    await provideTokens(stack, { count: 3, ratePerSecond: 10, latencyMs: 1_500 });
  }, 90_000);

  afterAll(async () => {
    await deleteSyncWorkConsumer(stack.nats, queue);
    await stack.stop();
  });

  it('stops evaluating triggers at the caller deadline: the calls in flight are aborted, the rest never made', async () => {
    const impatient = createGrpcClient<KlineSyncServiceClient>({
      proto: 'klinesync',
      service: KLINE_SYNC_SERVICE_NAME,
      url: stack.klineSyncUrl,
      deadlineMs: 1_000,
      registry: new Registry(),
      credentials: testServiceCredentials,
    });
    const triggers = Array.from({ length: 9 }, (_, i) => ({ id: `t${i}`, market: 'SH', code: String(600000 + i), kType: 1, priceChangePercent: 1, bars: 5 }));
    try {
      await expect(lastValueFrom(impatient.client.executeTriggers({ tenant: 'acme', triggers }))).rejects.toMatchObject({ code: GrpcStatus.DEADLINE_EXCEEDED });
    } finally {
      impatient.close();
    }
    // The batch is over once nothing of it runs any more; unstopped, it would start the next
    // triggers as soon as the first ones ended, and 9 triggers would take 3 waves of 1.5 s.
    const started = await waitForBatchStopped(stack.klineSyncOpsUrls[0] ?? '', TRIGGER_BATCH_NAME);
    const kline = await waitFor(
      async () => {
        const stats = (await stack.sim('/__sim/stats')) as { routes: Record<string, { requests: number; aborted: number }> };
        const route = stats.routes['market.kline'];
        return route && route.requests > 0 && route.aborted === route.requests ? route : undefined;
      },
      { timeoutMs: 10_000, what: 'the provider to see every call aborted' },
    );
    expect(started).toBeLessThanOrEqual(3);
    expect(kline.requests).toBeLessThanOrEqual(3);
    // Quota reserved for the abandoned request and not used is given back all the same (a second
    // after its slots passed): the token pool is shared, its bookkeeping is not cancelled with one
    // caller.
    const used = async () => Number((await stack.tokenDatabase.query<{ n: string }>('SELECT SUM(daily_used) AS n FROM api_token'))[0]?.n);
    await waitFor(async () => ((await used()) === kline.requests ? true : undefined), { timeoutMs: 10_000, what: 'unused quota given back' }).catch(() => undefined);
    expect(await used()).toBe(kline.requests);
  });
});
