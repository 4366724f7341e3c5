import type { Registry } from 'prom-client';
import { ChatApi } from './chat/chat.api';
import type { SimSettings } from './config/sim-settings';
import { FaultInjector } from './faults/fault-injector';
import { MarketDataApi } from './market-data/market-data.api';
import { MarketplaceApi } from './marketplace/marketplace.api';
import { PublishingApi } from './publishing/publishing.api';
import { SimMetrics } from './stats/sim-metrics';
import { SimStats } from './stats/sim-stats';
import { WebhookApi } from './webhook/webhook.api';

/**
 * The simulator's mutable world: the five outside systems, their fault knobs and the counters.
 * `reset()` returns it to the start-up settings.
 */
export class SimWorld {
  readonly stats = new SimStats();
  readonly faults: FaultInjector;
  readonly market: MarketDataApi;
  readonly chat = new ChatApi();
  readonly marketplace: MarketplaceApi;
  readonly publishing: PublishingApi;
  readonly webhook: WebhookApi;
  private since: number;

  constructor(
    private readonly startup: SimSettings[],
    registry: Registry,
    private readonly now: () => number,
    publicUrl: string | undefined,
  ) {
    this.faults = new FaultInjector(this.stats, new SimMetrics(registry, this.stats), now);
    this.market = new MarketDataApi(now);
    this.marketplace = new MarketplaceApi(this.stats);
    this.publishing = new PublishingApi(this.stats, now, publicUrl);
    this.webhook = new WebhookApi(this.stats, now);
    this.since = now();
    for (const settings of startup) this.apply(settings);
  }

  /** Applies settings on top of the current ones; what they leave out stays as it is. */
  apply(settings: SimSettings): void {
    if (settings.routes) this.faults.configure(settings.routes);
    if (settings.market) this.market.configure(settings.market);
    if (settings.chat) this.chat.configure(settings.chat);
    if (settings.marketplace) this.marketplace.configure(settings.marketplace);
    if (settings.publishing) this.publishing.configure(settings.publishing);
  }

  /** The current settings, in the shape `apply` takes (outage windows as epoch ms). */
  settings(): SimSettings {
    return {
      routes: this.faults.current(),
      market: this.market.settings(),
      chat: this.chat.settings(),
      marketplace: this.marketplace.settings(),
      publishing: this.publishing.settings(),
    };
  }

  /**
   * Forgets every counter, effect, article, de-listed product, delivery and token usage, and
   * restores the start-up knobs and tokens. `keepTokens`: tokens added since start stay (usage
   * zeroed).
   */
  reset(options: { keepTokens?: boolean } = {}): void {
    this.stats.reset();
    this.faults.clear();
    this.market.reset(options.keepTokens ?? false);
    this.chat.reset();
    this.marketplace.reset();
    this.publishing.reset();
    this.webhook.reset();
    this.since = this.now();
    for (const settings of this.startup) this.apply(settings);
  }

  snapshot() {
    return {
      since: new Date(this.since).toISOString(),
      ...this.stats.snapshot(),
      market: { tokens: this.market.tokens.list() },
      webhook: this.webhook.summary(),
    };
  }
}
