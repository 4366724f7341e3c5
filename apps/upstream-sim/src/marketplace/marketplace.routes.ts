import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FaultInjector } from '../faults/fault-injector';
import type { SimStats } from '../stats/sim-stats';

export interface MarketplaceSettings {
  /** Polls a de-list takes before its outcome is final (default for every product). */
  defaultPolls: number;
  /** Per product overrides of `defaultPolls`. */
  pollsByProduct: Record<string, number>;
  /** Products whose de-list ends in failure. */
  failingProducts: number[];
}

interface OfflineMessage {
  productId: number;
  pollsLeft: number;
  outcome: 'success' | 'failed';
}

export interface MarketplaceState {
  settings: MarketplaceSettings;
  offlineProducts: Set<number>;
  messages: Map<string, OfflineMessage>;
}

export const OFFLINE_TOOL_ID = '2406230000031';
const productName = (id: number) => `Product ${id}`;
const productImg = (id: number) => `https://img.example.invalid/products/${id}.jpg`;

const invokeBody = z.object({ parentMsgId: z.string().min(1), productId: z.number().int().positive() }).strict();

/**
 * The marketplace seller API of seed 000: a conversation id, the de-list tool id, invoking the
 * tool for a product, and polling its outcome. De-listing is idempotent per product: a product
 * already offline is reported as such and counted as a repeat, never de-listed twice.
 */
export function registerMarketplaceRoutes(app: FastifyInstance, state: MarketplaceState, faults: FaultInjector, stats: SimStats): void {
  app.post(
    '/marketplace/conversations',
    faults.wrap('marketplace.conversation', async (_request, reply) =>
      reply.send({ parentMsgId: String(400_000_000_000_000 + Math.floor(Math.random() * 99_999_999_999_999)) }),
    ),
  );

  app.get(
    '/marketplace/tools/offline',
    faults.wrap('marketplace.tool', async (_request, reply) => reply.send({ toolId: OFFLINE_TOOL_ID })),
  );

  app.post(
    '/marketplace/tools/:toolId/invoke',
    faults.wrap('marketplace.invoke', async (request, reply) => {
      const { toolId } = request.params as { toolId: string };
      if (toolId !== OFFLINE_TOOL_ID) return reply.code(404).send({ error: `unknown tool ${toolId}` });
      const parsed = invokeBody.safeParse(request.body);
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      const { productId } = parsed.data;
      if (state.offlineProducts.has(productId)) {
        stats.effect('marketplace.offline', String(productId), false);
        return reply.send({ alreadyOffline: true, productId, productName: productName(productId), productImg: productImg(productId) });
      }
      const offlineMsgId = randomUUID();
      const polls = state.settings.pollsByProduct[String(productId)] ?? state.settings.defaultPolls;
      state.messages.set(offlineMsgId, {
        productId,
        pollsLeft: polls,
        outcome: state.settings.failingProducts.includes(productId) ? 'failed' : 'success',
      });
      return reply.code(202).send({ alreadyOffline: false, offlineMsgId, productId });
    }),
  );

  app.get(
    '/marketplace/messages/:offlineMsgId',
    faults.wrap('marketplace.poll', async (request, reply) => {
      const { offlineMsgId } = request.params as { offlineMsgId: string };
      const message = state.messages.get(offlineMsgId);
      if (!message) return reply.code(404).send({ error: `unknown message ${offlineMsgId}` });
      const base = { offlineMsgId, productId: message.productId, productName: productName(message.productId), productImg: productImg(message.productId) };
      if (message.pollsLeft > 1) {
        message.pollsLeft--;
        return reply.send({ ...base, status: 'pending' });
      }
      if (message.outcome === 'failed') return reply.send({ ...base, status: 'failed', message: 'product is in an active promotion' });
      const first = !state.offlineProducts.has(message.productId);
      if (first) {
        state.offlineProducts.add(message.productId);
        stats.effect('marketplace.offline', String(message.productId), true);
      }
      return reply.send({ ...base, status: 'success', message: 'product is offline' });
    }),
  );
}
