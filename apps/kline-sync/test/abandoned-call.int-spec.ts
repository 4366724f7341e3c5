import { randomBytes } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { KLINE_SYNC_SERVICE_NAME, type KlineSyncServiceClient } from '@batchgate/contracts/klinesync/v1/klinesync';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { testServiceCredentials } from '@batchgate/testing';
import { provideTokens, startKlineStack, type KlineStack } from './stack.harness';

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
    await (await stack.nats.jetstreamManager()).consumers.delete('KLINE_SYNC_WORK', `kline-sync-workers-${queue}`).catch(() => undefined);
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
      await expect(lastValueFrom(impatient.client.executeTriggers({ triggers }))).rejects.toMatchObject({ code: GrpcStatus.DEADLINE_EXCEEDED });
    } finally {
      impatient.close();
    }
    // Without the caller's deadline the 9 triggers would take 3 waves of 1.5 s; wait past that.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const stats = (await stack.sim('/__sim/stats')) as { routes: Record<string, { requests: number; aborted: number }> };
    const kline = stats.routes['market.kline'];
    expect(kline?.requests).toBeLessThanOrEqual(3);
    expect(kline?.aborted).toBe(kline?.requests);
    // Quota reserved for the abandoned request and not used is given back all the same: the
    // token pool is shared, its bookkeeping is not cancelled with one caller.
    const [used] = await stack.tokenDatabase.query<{ n: string }>('SELECT SUM(daily_used) AS n FROM api_token');
    expect(Number(used?.n)).toBe(kline?.requests);
  });
});
