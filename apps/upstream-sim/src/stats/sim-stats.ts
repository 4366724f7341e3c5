import type { ErrorKind } from '../faults/route-faults';
import { SIM_ROUTES } from '../faults/sim-routes';

export type InjectedKind = ErrorKind | 'outage';

/** Counters of one route. Zeroed in place by `reset()`, so holders of the object stay valid. */
export interface RouteCounters {
  requests: number;
  inFlight: number;
  inFlightPeak: number;
  /** Requests the fault layer failed on purpose (any kind, outages included). */
  errorsInjected: number;
  injected: Record<InjectedKind, number>;
  /** Answers with HTTP 429, injected or from a rate limit. */
  rateLimited: number;
  /** The client closed the connection before the answer was complete. */
  aborted: number;
  responses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
}

/** How often one outside effect (an article, a de-listed product, a delivery) happened. */
export interface EffectRecord {
  /** Times the effect really happened: more than 1 means a duplicate side effect. */
  effects: number;
  /** Later requests for the same key that were answered without a new effect. */
  repeats: number;
}

/** Kinds of effects the simulator records, each keyed by what makes it unique. */
export type EffectKind = 'marketplace.offline' | 'publish.article' | 'webhook.delivery';

const zeroCounters = (): RouteCounters => ({
  requests: 0,
  inFlight: 0,
  inFlightPeak: 0,
  errorsInjected: 0,
  injected: { '5xx': 0, '429': 0, reset: 0, hang: 0, 'lost-response': 0, outage: 0 },
  rateLimited: 0,
  aborted: 0,
  responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
});

export interface StatsSnapshot {
  routes: Record<string, RouteCounters>;
  effects: Record<string, Record<string, EffectRecord>>;
}

/**
 * What the simulator saw: per-route counters, and per-key effects with how often each was
 * asked for, so a test can prove that no outside effect happened twice.
 */
export class SimStats {
  private readonly routes = new Map<string, RouteCounters>(
    SIM_ROUTES.map((r) => [r, zeroCounters()]),
  );
  private readonly effects = new Map<EffectKind, Map<string, EffectRecord>>();
  /** Called on every effect (metrics). */
  onEffect?: (kind: EffectKind, happened: boolean) => void;

  route(name: string): RouteCounters {
    let counters = this.routes.get(name);
    if (!counters) {
      counters = zeroCounters();
      this.routes.set(name, counters);
    }
    return counters;
  }

  /** Records that effect `key` of `kind` happened (`true`) or was asked for again (`false`). */
  effect(kind: EffectKind, key: string, happened: boolean): EffectRecord {
    let perKind = this.effects.get(kind);
    if (!perKind) {
      perKind = new Map();
      this.effects.set(kind, perKind);
    }
    let entry = perKind.get(key);
    if (!entry) {
      entry = { effects: 0, repeats: 0 };
      perKind.set(key, entry);
    }
    if (happened) entry.effects++;
    else entry.repeats++;
    this.onEffect?.(kind, happened);
    return entry;
  }

  /** Times effect `key` of `kind` happened so far. */
  effectCount(kind: EffectKind, key: string): number {
    return this.effects.get(kind)?.get(key)?.effects ?? 0;
  }

  /** Routes that saw no request are left out, so a test reads only what it caused. */
  snapshot(): StatsSnapshot {
    const routes: Record<string, RouteCounters> = {};
    for (const [name, c] of this.routes) {
      if (c.requests > 0) routes[name] = structuredClone(c);
    }
    const effects: Record<string, Record<string, EffectRecord>> = {};
    for (const [kind, keys] of this.effects) {
      effects[kind] = Object.fromEntries([...keys].map(([key, e]) => [key, { ...e }]));
    }
    return { routes, effects };
  }

  /** Zeroes every counter except requests still in flight, and forgets every effect. */
  reset(): void {
    for (const counters of this.routes.values()) {
      const inFlight = counters.inFlight;
      Object.assign(counters, zeroCounters(), { inFlight, inFlightPeak: inFlight });
    }
    this.effects.clear();
  }
}
