/** Counters of one route. */
export interface RouteStats {
  requests: number;
  inFlight: number;
  inFlightPeak: number;
  errorsInjected: number;
  rateLimited: number;
  aborted: number;
}

/**
 * What the simulator saw: per-route counters, and per-key effects (an article published, a product
 * de-listed, a webhook delivered) with how often each was requested — a test proves that no outside
 * effect happened twice by reading `effects`.
 */
export class SimStats {
  readonly routes = new Map<string, RouteStats>();
  /** kind → key → { effects: times the effect happened, repeats: later requests for it }. */
  readonly effects = new Map<string, Map<string, { effects: number; repeats: number }>>();

  route(name: string): RouteStats {
    let stats = this.routes.get(name);
    if (!stats) {
      stats = { requests: 0, inFlight: 0, inFlightPeak: 0, errorsInjected: 0, rateLimited: 0, aborted: 0 };
      this.routes.set(name, stats);
    }
    return stats;
  }

  /** Records that the effect `key` of `kind` happened (first time) or was asked for again. */
  effect(kind: string, key: string, happened: boolean): void {
    let perKind = this.effects.get(kind);
    if (!perKind) {
      perKind = new Map();
      this.effects.set(kind, perKind);
    }
    const entry = perKind.get(key) ?? { effects: 0, repeats: 0 };
    if (happened) entry.effects++;
    else entry.repeats++;
    perKind.set(key, entry);
  }

  snapshot(): { routes: Record<string, RouteStats>; effects: Record<string, Record<string, { effects: number; repeats: number }>> } {
    return {
      routes: Object.fromEntries([...this.routes].map(([name, stats]) => [name, { ...stats }])),
      effects: Object.fromEntries([...this.effects].map(([kind, keys]) => [kind, Object.fromEntries(keys)])),
    };
  }

  reset(): void {
    this.routes.clear();
    this.effects.clear();
  }
}
