import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FaultInjector } from '../faults/fault-injector';
import type { SimStats } from '../stats/sim-stats';
import { BAR_MS, klineBars } from './bars';
import type { MarketTokens } from './market-tokens';

/** Provider answer codes (iTick style). kline-sync's adapter maps them to its error classes. */
export const ITICK_CODES = { ok: 0, badRequest: 400, authFailed: 401, rateLimited: 429, quotaExhausted: 429001, productNotFound: 404001 } as const;

const klineQuery = z.object({
  region: z.string().regex(/^[A-Za-z]{2,10}$/),
  code: z.string().regex(/^[A-Za-z0-9.]{1,20}$/),
  kType: z.coerce.number().int().refine((k) => BAR_MS[k] !== undefined, 'unsupported kType'),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  et: z.coerce.number().int().min(0).optional(),
});

export interface MarketDataState {
  tokens: MarketTokens;
  /** Codes the provider does not know ("product does not exist"), as REGION:CODE. */
  unknownStocks: Set<string>;
}

/** `GET /stock/kline` in the iTick shape: `token` header, `{code, msg, data}` answers. */
export function registerMarketDataRoutes(app: FastifyInstance, state: MarketDataState, faults: FaultInjector, stats: SimStats): void {
  app.get(
    '/stock/kline',
    faults.wrap('market.kline', async (request, reply) => {
      const token = request.headers['token'];
      const check = state.tokens.check(typeof token === 'string' ? token : undefined, Date.now());
      if (!check.ok) {
        if (check.reason === 'auth') return reply.code(401).send({ code: ITICK_CODES.authFailed, msg: 'token is invalid or revoked', data: null });
        if (check.reason === 'rate') {
          stats.route('market.kline').rateLimited++;
          return reply
            .code(429)
            .header('retry-after', String(Math.max(1, Math.ceil(check.retryAfterMs / 1_000))))
            .send({ code: ITICK_CODES.rateLimited, msg: 'too many requests', data: null });
        }
        return reply.send({ code: ITICK_CODES.quotaExhausted, msg: 'daily quota exhausted', data: null });
      }
      const parsed = klineQuery.safeParse(request.query);
      if (!parsed.success) {
        const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        return reply.code(400).send({ code: ITICK_CODES.badRequest, msg, data: null });
      }
      const { region, code, kType, limit, et } = parsed.data;
      if (state.unknownStocks.has(`${region.toUpperCase()}:${code}`)) {
        return reply.send({ code: ITICK_CODES.productNotFound, msg: 'product does not exist', data: null });
      }
      return reply.send({ code: ITICK_CODES.ok, msg: null, data: klineBars(region.toUpperCase(), code, kType, et ?? Date.now(), limit) });
    }),
  );
}
