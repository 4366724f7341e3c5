import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '@batchgate/platform/config';
import { chatSettingsSchema } from '../chat/chat.api';
import { routeFaultsSchema } from '../faults/route-faults';
import { ANY_ROUTE, SIM_ROUTES } from '../faults/sim-routes';
import { marketSettingsSchema } from '../market-data/market-data.api';
import { marketplaceSettingsSchema } from '../marketplace/marketplace.api';
import { publishingSettingsSchema } from '../publishing/publishing.api';

const knownRoutes = new Set<string>([...SIM_ROUTES, ANY_ROUTE]);

/**
 * Everything a test or operator may set: at start (SIM_PROFILE, SIM_CONFIG_FILE) and live
 * (`POST /__sim/config`). Applying settings changes only what they name: a route's knobs are
 * replaced as a whole (`null` removes them), a section's fields one by one, tokens by `token`.
 */
export const simSettingsSchema = z
  .object({
    routes: z
      .record(z.string(), routeFaultsSchema.nullable())
      .superRefine((routes, ctx) => {
        for (const route of Object.keys(routes)) {
          if (!knownRoutes.has(route)) {
            ctx.addIssue({
              code: 'custom',
              path: [route],
              message: `unknown route; known routes: ${[...knownRoutes].join(', ')}`,
            });
          }
        }
      })
      .optional(),
    market: marketSettingsSchema.optional(),
    chat: chatSettingsSchema.optional(),
    marketplace: marketplaceSettingsSchema.optional(),
    publishing: publishingSettingsSchema.optional(),
  })
  .strict();

/** Settings as written (JSON, tests). */
export type SimSettingsInput = z.input<typeof simSettingsSchema>;
/** Settings as validated. */
export type SimSettings = z.output<typeof simSettingsSchema>;

/** One line per problem, each with its path: `routes.market.kline.latency.ms: Too small: …`. */
export function settingsProblems(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
}

const demoRoute = (medianMs: number, seed: number) => ({
  latency: { kind: 'lognormal' as const, medianMs, sigma: 0.6, capMs: medianMs * 20 },
  errorRate: 0.02,
  errorKind: '5xx' as const,
  seed,
});

/**
 * `SIM_PROFILE=demo` (what `npm start` uses): log-normal latency, 2 % injected 5xx on the
 * effectful routes, a capacity knee on the market-data API, 12 demo tokens, two polls per de-list,
 * articles visible 2 s after publishing, 3 % of publishes refused.
 */
export const DEMO_SETTINGS: SimSettingsInput = {
  routes: {
    'market.kline': { ...demoRoute(40, 1), knee: { capacity: 64, slopeMs: 2 } },
    'chat.completions': demoRoute(400, 2),
    'marketplace.invoke': demoRoute(80, 3),
    'marketplace.poll': demoRoute(30, 4),
    'publish.article': demoRoute(150, 5),
    'publish.interactions': demoRoute(40, 6),
    'webhook.notify': demoRoute(20, 7),
  },
  market: {
    tokens: Array.from({ length: 12 }, (_, i) => ({
      token: `demo-itick-token-${i + 1}`,
      ratePerSecond: 10,
      dailyQuota: 50_000,
    })),
  },
  marketplace: { defaultPolls: 2 },
  publishing: { visibleAfterMs: 2_000, failureRate: 0.03 },
};

/**
 * Reads SIM_CONFIG_FILE. Any problem (missing file, bad JSON, a bad knob) is a ConfigError with
 * one line per problem, so `main.ts` reports it like a bad environment variable.
 */
export function loadSettingsFile(path: string): SimSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([
      `SIM_CONFIG_FILE: cannot read JSON from ${path}: ${(error as Error).message}`,
    ]);
  }
  const parsed = simSettingsSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      settingsProblems(parsed.error).map((p) => `SIM_CONFIG_FILE ${path}: ${p}`),
    );
  return parsed.data;
}
