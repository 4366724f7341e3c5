import pino from 'pino';
import { Registry } from 'prom-client';
import { of } from 'rxjs';
import type { NatsConnection } from 'nats';
import type { ReportUsageRequest, TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { TokenSupply } from './token-supply';

/** A tenant's pool of `tokens` tokens at `rate` calls a second, unlimited; every reservation granted in full. */
async function supplyOf(tokens: number, rate: number) {
  const reservations: ReportUsageRequest[] = [];
  const tokenManager = {
    leaseTokens: () =>
      of({ leases: Array.from({ length: tokens }, (_, i) => ({ tokenId: i + 1, secret: `s${i + 1}`, rateLimitPerSecond: rate, remainingQuota: -1 })) }),
    reportUsage: (request: ReportUsageRequest) => {
      reservations.push(request);
      return of({ accepted: true, dailyUsed: 0, dailyLimit: 0, exhausted: false, waitMs: 0, granted: request.count, slotMicros: 1_000_000 / rate });
    },
    releaseUsage: () => of({ dailyUsed: 0 }),
  } as unknown as TokenManagerServiceClient;
  const config = { ITICK_PROVIDER: 'itick', SYNC_MAX_IN_FLIGHT_PER_TOKEN: 4, SYNC_TOKEN_REFRESH_MS: 30_000 } as KlineSyncConfig;
  const supply = new TokenSupply(tokenManager, {} as NatsConnection, config, new KlineSyncMetrics(new Registry()), pino({ level: 'silent' }));
  await supply.fresh('acme');
  return { supply, reservations };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('TokenSupply.prime', () => {
  let supply: TokenSupply | undefined;
  afterEach(async () => {
    await supply?.beforeApplicationShutdown();
    supply = undefined;
  });

  it("books a starting job's first calls on as few tokens as cover them, a second's worth each", async () => {
    const made = await supplyOf(25, 5);
    supply = made.supply;
    supply.prime('acme', 12);
    await settled();
    // 12 calls at 5 a second: three tokens' reservations, not one call on each of 25 tokens.
    expect(made.reservations.map((r) => [r.tokenId, r.count])).toEqual([
      [1, 5],
      [2, 5],
      [3, 5],
    ]);
  });

  it('books nothing more while the calls it holds cover the next jobs', async () => {
    const made = await supplyOf(25, 1_000);
    supply = made.supply;
    supply.prime('acme', 4);
    await settled();
    expect(made.reservations).toHaveLength(1);
    // The next planning passes of a stream of small jobs: the first reservation still covers them.
    for (let pass = 0; pass < 5; pass++) supply.prime('acme', 4);
    await settled();
    expect(made.reservations.map((r) => [r.tokenId, r.count])).toEqual([[1, 1_000]]);
  });

  it('counts a reservation on its way as booked', async () => {
    const made = await supplyOf(25, 5);
    supply = made.supply;
    supply.prime('acme', 5);
    supply.prime('acme', 5); // in the same turn: the first reservation has not answered yet
    await settled();
    expect(made.reservations.map((r) => r.tokenId)).toEqual([1]);
  });
});
