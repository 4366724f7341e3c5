import { Counter, Gauge, type Registry } from 'prom-client';
import { SIM_ROUTES } from '../faults/sim-routes';
import type { EffectKind, InjectedKind, SimStats } from './sim-stats';

/** prom-client children bound to one route, so the hot path increments without label hashing. */
export interface RouteMetrics {
  requests: Counter.Internal;
  aborted: Counter.Internal;
  rateLimited: Counter.Internal;
  injected: (kind: InjectedKind) => void;
}

/**
 * The simulator's own Prometheus series on the app's registry. Counters are monotonic and survive
 * `/__sim/reset` (only `/__sim/stats` is reset). Labels are the fixed route names and fault kinds.
 */
export class SimMetrics {
  private readonly requests: Counter<'route'>;
  private readonly aborted: Counter<'route'>;
  private readonly rateLimited: Counter<'route'>;
  private readonly injected: Counter<'route' | 'kind'>;
  private readonly effects: Counter<'kind' | 'outcome'>;
  private readonly perRoute = new Map<string, RouteMetrics>();

  constructor(registry: Registry, stats: SimStats) {
    this.requests = new Counter({
      name: 'upstream_sim_requests_total',
      help: 'Requests to a simulated route',
      labelNames: ['route'],
      registers: [registry],
    });
    this.aborted = new Counter({
      name: 'upstream_sim_aborted_total',
      help: 'Requests the client abandoned before the answer was complete',
      labelNames: ['route'],
      registers: [registry],
    });
    this.rateLimited = new Counter({
      name: 'upstream_sim_rate_limited_total',
      help: 'Answers with HTTP 429 (rate limits and injected 429s)',
      labelNames: ['route'],
      registers: [registry],
    });
    this.injected = new Counter({
      name: 'upstream_sim_faults_injected_total',
      help: 'Requests failed on purpose by the fault knobs, by kind',
      labelNames: ['route', 'kind'],
      registers: [registry],
    });
    this.effects = new Counter({
      name: 'upstream_sim_effects_total',
      help: 'Outside effects: happened (effect) or asked for again and not repeated (repeat)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    });
    new Gauge({
      name: 'upstream_sim_in_flight',
      help: 'Requests being answered now, per route',
      labelNames: ['route'],
      registers: [registry],
      collect() {
        for (const route of SIM_ROUTES) this.set({ route }, stats.route(route).inFlight);
      },
    });
    for (const route of SIM_ROUTES) this.route(route);
    for (const kind of [
      'marketplace.offline',
      'publish.article',
      'webhook.delivery',
    ] satisfies EffectKind[]) {
      this.effects.inc({ kind, outcome: 'effect' }, 0);
      this.effects.inc({ kind, outcome: 'repeat' }, 0);
    }
    stats.onEffect = (kind, happened) =>
      this.effects.inc({ kind, outcome: happened ? 'effect' : 'repeat' });
  }

  route(route: string): RouteMetrics {
    let metrics = this.perRoute.get(route);
    if (!metrics) {
      const requests = this.requests.labels(route);
      const aborted = this.aborted.labels(route);
      const rateLimited = this.rateLimited.labels(route);
      requests.inc(0);
      aborted.inc(0);
      rateLimited.inc(0);
      metrics = {
        requests,
        aborted,
        rateLimited,
        injected: (kind) => this.injected.inc({ route, kind }),
      };
      this.perRoute.set(route, metrics);
    }
    return metrics;
  }
}
