import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SimState } from '../sim-server';
import { marketTokenSchema } from '../market-data/market-tokens';
import { simSettingsSchema } from './sim-settings';

const problems = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');

/** `/__sim/*`: live configuration, counters and reset, for tests and outage drills. */
export function registerAdminRoutes(app: FastifyInstance, sim: SimState): void {
  app.get('/__sim/config', async () => sim.currentSettings());

  app.post('/__sim/config', async (request, reply) => {
    const parsed = simSettingsSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: 'INVALID_SETTINGS', message: problems(parsed.error) });
    sim.apply(parsed.data);
    return sim.currentSettings();
  });

  app.get('/__sim/stats', async () => ({ ...sim.stats.snapshot(), market: { tokens: sim.market.tokens.list() } }));

  app.post('/__sim/reset', async () => {
    sim.reset();
    return { reset: true };
  });

  app.post('/__sim/market/tokens', async (request, reply) => {
    const parsed = z.array(marketTokenSchema).min(1).max(10_000).or(marketTokenSchema).safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: 'INVALID_TOKEN', message: problems(parsed.error) });
    for (const token of Array.isArray(parsed.data) ? parsed.data : [parsed.data]) sim.market.tokens.upsert(token);
    return { tokens: sim.market.tokens.list() };
  });

  app.delete('/__sim/market/tokens/:token', async (request, reply) => {
    const removed = sim.market.tokens.remove((request.params as { token: string }).token);
    return removed ? { removed: true } : reply.code(404).send({ error: 'UNKNOWN_TOKEN' });
  });
}
