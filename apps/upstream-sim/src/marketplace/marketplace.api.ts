import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FaultInjector, SimAnswer } from '../faults/fault-injector';
import { hash32 } from '../faults/prng';
import type { SimStats } from '../stats/sim-stats';

const productId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const marketplaceSettingsSchema = z
  .object({
    /** Polls a de-list takes until its outcome is final (the last poll answers it). */
    defaultPolls: z.number().int().min(1).max(100).optional(),
    /** Per-product overrides of `defaultPolls` (product id → polls); replaces the map. */
    pollsByProduct: z
      .record(z.string().regex(/^\d+$/, 'must be a product id'), z.number().int().min(1).max(100))
      .optional(),
    /** Products whose de-list ends in failure (the marketplace refuses it). */
    failingProducts: z.array(productId).max(100_000).optional(),
    /** Products the marketplace does not know: invoking the tool for them answers 404. */
    unknownProducts: z.array(productId).max(100_000).optional(),
    /** The de-list tool's id; changing it makes cached tool ids stale (404 on invoke). */
    toolId: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional(),
    /** true: invoking the tool needs a `parentMsgId` this simulator handed out (else 404). */
    requireKnownConversation: z.boolean().optional(),
  })
  .strict();

export type MarketplaceSettings = z.output<typeof marketplaceSettingsSchema>;

const DEFAULTS = {
  defaultPolls: 2,
  pollsByProduct: {} as Record<string, number>,
  failingProducts: [] as number[],
  unknownProducts: [] as number[],
  toolId: '2406230000031',
  requireKnownConversation: false,
};

const invokeBody = z.object({ parentMsgId: z.string().min(1).max(100), productId }).strict();

interface OfflineMessage {
  offlineMsgId: string;
  productId: number;
  pollsNeeded: number;
  polls: number;
  outcome: 'success' | 'failed';
}

export const productName = (id: number): string => `Product ${id}`;
export const productImg = (id: number): string =>
  `https://img.marketplace.example/products/${id}.jpg`;

const error = (status: number, code: string, message: string): SimAnswer => ({
  status,
  body: { success: false, code, message },
});

/**
 * The marketplace seller API of seed 000: a conversation id (`parentMsgId`), the de-list tool id
 * (`toolId`), invoking the tool for a product (an `offlineMsgId`), and polling the outcome until it
 * is final. De-listing is idempotent per product: a product already offline, or one whose de-list
 * is still running, is answered as such and counted as a repeat, never de-listed twice.
 */
export class MarketplaceApi {
  private settingsValue = structuredClone(DEFAULTS);
  private readonly conversations = new Set<string>();
  private readonly offline = new Set<number>();
  /** Product → its de-list still running. */
  private readonly pending = new Map<number, OfflineMessage>();
  private readonly messages = new Map<string, OfflineMessage>();
  private sequence = 0;
  private failing = new Set<number>();
  private unknown = new Set<number>();

  constructor(private readonly stats: SimStats) {}

  configure(settings: MarketplaceSettings): void {
    for (const [key, value] of Object.entries(settings)) {
      if (value !== undefined) Object.assign(this.settingsValue, { [key]: value });
    }
    this.failing = new Set(this.settingsValue.failingProducts);
    this.unknown = new Set(this.settingsValue.unknownProducts);
  }

  settings(): MarketplaceSettings {
    return structuredClone(this.settingsValue);
  }

  reset(): void {
    this.settingsValue = structuredClone(DEFAULTS);
    this.failing.clear();
    this.unknown.clear();
    this.conversations.clear();
    this.offline.clear();
    this.pending.clear();
    this.messages.clear();
  }

  register(app: FastifyInstance, faults: FaultInjector): void {
    const errorBody = (status: number, message: string) => ({
      success: false,
      code: `HTTP_${status}`,
      message,
    });

    app.post(
      '/marketplace/conversations',
      faults.wrap(
        'marketplace.conversation',
        () => {
          const parentMsgId = String(448_421_445_000_000 + ++this.sequence * 7_919);
          this.conversations.add(parentMsgId);
          return { status: 200, body: { success: true, parentMsgId } };
        },
        { errorBody },
      ),
    );

    app.get(
      '/marketplace/tools/offline',
      faults.wrap(
        'marketplace.tool',
        () => ({
          status: 200,
          body: { success: true, toolId: this.settingsValue.toolId, name: 'product_offline' },
        }),
        {
          errorBody,
        },
      ),
    );

    app.post(
      '/marketplace/tools/:toolId/invoke',
      faults.wrap(
        'marketplace.invoke',
        (request) => this.invoke((request.params as { toolId: string }).toolId, request.body),
        { errorBody },
      ),
    );

    app.get(
      '/marketplace/messages/:offlineMsgId',
      faults.wrap(
        'marketplace.poll',
        (request) => this.poll((request.params as { offlineMsgId: string }).offlineMsgId),
        { errorBody },
      ),
    );
  }

  private invoke(toolId: string, rawBody: unknown): SimAnswer {
    const settings = this.settingsValue;
    if (toolId !== settings.toolId)
      return error(404, 'TOOL_NOT_FOUND', `tool ${toolId} does not exist`);
    const parsed = invokeBody.safeParse(rawBody);
    if (!parsed.success) {
      return error(
        400,
        'INVALID_REQUEST',
        parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
      );
    }
    const { parentMsgId, productId: id } = parsed.data;
    if (settings.requireKnownConversation && !this.conversations.has(parentMsgId)) {
      return error(
        404,
        'CONVERSATION_NOT_FOUND',
        `conversation ${parentMsgId} does not exist or expired`,
      );
    }
    if (this.unknown.has(id))
      return error(404, 'PRODUCT_NOT_FOUND', `product ${id} does not exist`);
    const product = { productId: id, productName: productName(id), productImg: productImg(id) };
    if (this.offline.has(id)) {
      this.stats.effect('marketplace.offline', String(id), false);
      return {
        status: 200,
        body: {
          success: true,
          alreadyOffline: true,
          repeat: true,
          ...product,
          message: 'product is already offline',
        },
      };
    }
    const running = this.pending.get(id);
    if (running) {
      this.stats.effect('marketplace.offline', String(id), false);
      return {
        status: 202,
        body: {
          success: true,
          alreadyOffline: false,
          repeat: true,
          offlineMsgId: running.offlineMsgId,
          ...product,
        },
      };
    }
    const message: OfflineMessage = {
      offlineMsgId: `${Date.now().toString(36)}${(++this.sequence).toString(36)}${hash32(String(id)).toString(36)}`,
      productId: id,
      pollsNeeded: settings.pollsByProduct[String(id)] ?? settings.defaultPolls,
      polls: 0,
      outcome: this.failing.has(id) ? 'failed' : 'success',
    };
    this.messages.set(message.offlineMsgId, message);
    this.pending.set(id, message);
    return {
      status: 202,
      body: {
        success: true,
        alreadyOffline: false,
        repeat: false,
        offlineMsgId: message.offlineMsgId,
        ...product,
      },
    };
  }

  private poll(offlineMsgId: string): SimAnswer {
    const message = this.messages.get(offlineMsgId);
    if (!message) return error(404, 'MESSAGE_NOT_FOUND', `message ${offlineMsgId} does not exist`);
    const id = message.productId;
    message.polls++;
    const base = {
      success: true,
      offlineMsgId,
      productId: id,
      productName: productName(id),
      productImg: productImg(id),
      pollCount: message.polls,
    };
    if (message.polls < message.pollsNeeded)
      return { status: 200, body: { ...base, status: 'pending', final: false } };
    if (this.pending.get(id) === message) {
      this.pending.delete(id);
      if (message.outcome === 'success') {
        this.offline.add(id);
        this.stats.effect('marketplace.offline', String(id), true);
      }
    }
    if (message.outcome === 'failed') {
      return {
        status: 200,
        body: {
          ...base,
          status: 'failed',
          final: true,
          message: '下架失败：商品正在参加活动 (product is in an active promotion)',
        },
      };
    }
    return {
      status: 200,
      body: { ...base, status: 'success', final: true, message: '下架成功 (product is offline)' },
    };
  }
}
