import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Readiness } from '@batchgate/platform/health';
import { answerOpsRequest } from '@batchgate/platform/observability';
import { registerAdminRoutes } from './admin/admin.routes';
import type { SimSettings } from './admin/sim-settings';
import { registerChatRoutes } from './chat/chat.routes';
import { FaultInjector } from './faults/fault-injector';
import { registerMarketDataRoutes, type MarketDataState } from './market-data/market-data.routes';
import { MarketTokens } from './market-data/market-tokens';
import { registerMarketplaceRoutes, type MarketplaceState } from './marketplace/marketplace.routes';
import { registerPublishingRoutes, type PublishingState } from './publishing/publishing.routes';
import { SimStats } from './stats/sim-stats';
import { registerWebhookRoutes, type WebhookDelivery } from './webhook/webhook.routes';

/** The simulator's mutable world; `reset()` returns it to the start-up settings. */
export class SimState {
  readonly stats = new SimStats();
  readonly faults: FaultInjector;
  readonly market: MarketDataState = { tokens: new MarketTokens(), unknownStocks: new Set() };
  readonly marketplace: MarketplaceState = {
    settings: { defaultPolls: 2, pollsByProduct: {}, failingProducts: [] },
    offlineProducts: new Set(),
    messages: new Map(),
  };
  readonly publishing: PublishingState = { settings: { visibleAfterMs: 0, failingTitles: [] }, articles: new Map(), byId: new Map() };
  readonly deliveries: WebhookDelivery[] = [];

  constructor(private readonly startup: SimSettings) {
    this.faults = new FaultInjector(this.stats, startup.routes ?? {});
    this.apply(startup);
  }

  /** Applies settings on top of the current ones (what a field leaves out stays as it is). */
  apply(settings: SimSettings): void {
    if (settings.routes) this.faults.configure(settings.routes);
    for (const token of settings.market?.tokens ?? []) this.market.tokens.upsert(token);
    if (settings.market?.unknownStocks) {
      this.market.unknownStocks = new Set(settings.market.unknownStocks.map((s) => s.replace(/^[a-z]+/i, (r) => r.toUpperCase())));
    }
    Object.assign(this.marketplace.settings, stripUndefined(settings.marketplace ?? {}));
    Object.assign(this.publishing.settings, stripUndefined(settings.publishing ?? {}));
  }

  currentSettings(): SimSettings {
    return {
      routes: this.faults.current(),
      market: { unknownStocks: [...this.market.unknownStocks] },
      marketplace: { ...this.marketplace.settings },
      publishing: { ...this.publishing.settings },
    };
  }

  reset(): void {
    this.stats.reset();
    this.faults.reset();
    this.market.tokens.clear();
    this.market.unknownStocks = new Set();
    this.marketplace.settings = { defaultPolls: 2, pollsByProduct: {}, failingProducts: [] };
    this.marketplace.offlineProducts.clear();
    this.marketplace.messages.clear();
    this.publishing.settings = { visibleAfterMs: 0, failingTitles: [] };
    this.publishing.articles.clear();
    this.publishing.byId.clear();
    this.deliveries.length = 0;
    this.apply(this.startup);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface SimServerOptions {
  settings: SimSettings;
  registry: Registry;
  readiness: Readiness;
  /** Base URL the simulator is reached at (article URLs point there). */
  publicUrl: () => string;
}

/**
 * The simulated outside world in one Fastify app (Fastify for throughput: the simulator must never
 * be the bottleneck of a benchmark). Not listening yet; `main.ts` or a test calls `listen`.
 */
export function createSimServer(options: SimServerOptions): { app: FastifyInstance; state: SimState } {
  const app = Fastify({ logger: false, bodyLimit: 5 * 1_048_576, keepAliveTimeout: 65_000 });
  const state = new SimState(options.settings);
  registerMarketDataRoutes(app, state.market, state.faults, state.stats);
  registerChatRoutes(app, state.faults);
  registerMarketplaceRoutes(app, state.marketplace, state.faults, state.stats);
  registerPublishingRoutes(app, state.publishing, state.faults, state.stats, options.publicUrl);
  registerWebhookRoutes(app, state.deliveries, state.faults, state.stats);
  registerAdminRoutes(app, state);
  for (const path of ['/metrics', '/healthz', '/readyz']) {
    app.get(path, async (_request, reply) => {
      const answer = await answerOpsRequest(path, { registry: options.registry, readiness: options.readiness });
      return reply.code(answer?.status ?? 404).type(answer?.contentType ?? 'text/plain').send(answer?.body ?? '');
    });
  }
  return { app, state };
}
