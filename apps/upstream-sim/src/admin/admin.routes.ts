import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestIdFrom, REQUEST_ID_HEADER } from '@batchgate/platform/context';
import type { Logger } from '@batchgate/platform/logging';
import { settingsProblems, simSettingsSchema } from '../config/sim-settings';
import { marketTokenSchema } from '../market-data/market-tokens';
import type { SimWorld } from '../sim-world';

const resetBody = z.object({ keepTokens: z.boolean().optional() }).strict();
const tokensBody = z.union([marketTokenSchema, z.array(marketTokenSchema).min(1).max(10_000)]);

/**
 * `/__sim/*`: live configuration, counters, reset and the market-data token admin, for tests and
 * outage drills. Not counted in the route stats; no auth (the simulator listens on loopback).
 *
 * Log lines carry the caller's request id as a field. Not through `runWithRequestContext`: on
 * Node 20 the first AsyncLocalStorage.run() switches on promise hooks for the whole process,
 * which costs every later simulated request a noticeable share of throughput.
 */
export function registerAdminRoutes(app: FastifyInstance, world: SimWorld, logger: Logger): void {
  const bad = (error: string, issues: z.ZodError) => ({
    error,
    message: settingsProblems(issues).join('; '),
    problems: settingsProblems(issues),
  });
  const requestId = (request: FastifyRequest) => requestIdFrom(request.headers[REQUEST_ID_HEADER]);

  app.get('/__sim/config', async () => world.settings());

  app.post('/__sim/config', async (request, reply) => {
    const parsed = simSettingsSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(bad('INVALID_SETTINGS', parsed.error));
    world.apply(parsed.data);
    logger.info(
      {
        requestId: requestId(request),
        sections: Object.keys(parsed.data),
        routes: Object.keys(parsed.data.routes ?? {}),
      },
      'simulator settings applied',
    );
    return world.settings();
  });

  app.get('/__sim/stats', async () => world.snapshot());

  app.post('/__sim/reset', async (request, reply) => {
    const parsed = resetBody.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(bad('INVALID_RESET', parsed.error));
    world.reset(parsed.data);
    logger.info(
      { requestId: requestId(request), keepTokens: parsed.data.keepTokens ?? false },
      'simulator reset',
    );
    return { reset: true };
  });

  app.get('/__sim/market/tokens', async () => ({ tokens: world.market.tokens.list() }));

  app.post('/__sim/market/tokens', async (request, reply) => {
    const parsed = tokensBody.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send(bad('INVALID_TOKEN', parsed.error));
    const inputs = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    for (const token of inputs) world.market.tokens.upsert(token);
    logger.info({ requestId: requestId(request), tokens: inputs.length }, 'market-data tokens set');
    return { tokens: world.market.tokens.list() };
  });

  app.delete('/__sim/market/tokens/:token', async (request, reply) => {
    const removed = world.market.tokens.remove((request.params as { token: string }).token);
    if (removed) logger.info({ requestId: requestId(request) }, 'market-data token removed');
    return removed
      ? { removed: true }
      : reply.code(404).send({ error: 'UNKNOWN_TOKEN', message: 'no such token' });
  });

  app.get('/__sim/webhook/deliveries', async (request) => {
    const key = (request.query as { key?: unknown }).key;
    const deliveries = world.webhook.list(typeof key === 'string' ? key : undefined);
    return { total: deliveries.length, deliveries };
  });
}
