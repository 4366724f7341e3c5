import type { FastifyInstance } from 'fastify';
import type { FaultInjector } from '../faults/fault-injector';
import type { SimStats } from '../stats/sim-stats';

export interface WebhookDelivery {
  idempotencyKey: string | null;
  receivedAt: string;
  body: unknown;
}

/** A notification receiver: records every delivery with its `Idempotency-Key`. */
export function registerWebhookRoutes(app: FastifyInstance, deliveries: WebhookDelivery[], faults: FaultInjector, stats: SimStats): void {
  app.post(
    '/webhook/notify',
    faults.wrap('webhook.notify', async (request, reply) => {
      const header = request.headers['idempotency-key'];
      const idempotencyKey = typeof header === 'string' && header.length > 0 ? header : null;
      const repeat = idempotencyKey !== null && deliveries.some((d) => d.idempotencyKey === idempotencyKey);
      deliveries.push({ idempotencyKey, receivedAt: new Date().toISOString(), body: request.body ?? null });
      if (idempotencyKey) stats.effect('webhook.delivery', idempotencyKey, !repeat);
      return reply.send({ received: true, duplicate: repeat });
    }),
  );
  app.get('/webhook/deliveries', async () => ({ deliveries }));
}
