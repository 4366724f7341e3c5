import { z } from 'zod';
import { marketTokenSchema } from '../market-data/market-tokens';
import { routeFaultsSchema } from '../faults/route-faults';

/** Everything a test or operator may set: at start (SIM_CONFIG_FILE) and live (POST /__sim/config). */
export const simSettingsSchema = z
  .object({
    routes: z.record(z.string(), routeFaultsSchema).optional(),
    market: z
      .object({
        tokens: z.array(marketTokenSchema).max(10_000).optional(),
        /** REGION:CODE pairs the provider does not know. */
        unknownStocks: z.array(z.string().regex(/^[A-Za-z]{2,10}:[A-Za-z0-9.]{1,20}$/)).max(100_000).optional(),
      })
      .strict()
      .optional(),
    marketplace: z
      .object({
        defaultPolls: z.number().int().min(1).max(100).optional(),
        pollsByProduct: z.record(z.string(), z.number().int().min(1).max(100)).optional(),
        failingProducts: z.array(z.number().int().positive()).optional(),
      })
      .strict()
      .optional(),
    publishing: z
      .object({
        visibleAfterMs: z.number().int().min(0).max(600_000).optional(),
        failingTitles: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type SimSettings = z.infer<typeof simSettingsSchema>;

/** Start-up settings of `SIM_PROFILE=demo` (npm start): some latency, a few failures, demo tokens. */
export const DEMO_SETTINGS: SimSettings = {
  routes: Object.fromEntries(
    ['market.kline', 'chat.completions', 'marketplace.invoke', 'marketplace.poll', 'publish.article', 'publish.interactions', 'webhook.notify'].map(
      (route, i) => [route, { latency: { kind: 'lognormal', medianMs: route.startsWith('chat') ? 400 : 40, sigma: 0.5 }, errorRate: 0.02, errorKind: '5xx', seed: i + 1 }],
    ),
  ),
  market: {
    tokens: Array.from({ length: 12 }, (_, i) => ({ token: `demo-itick-token-${i + 1}`, ratePerSecond: 10, dailyQuota: 50_000, revoked: false })),
  },
  marketplace: { defaultPolls: 2 },
  publishing: { visibleAfterMs: 2_000 },
};
