import { z } from 'zod';

export const marketTokenSchema = z
  .object({
    token: z.string().min(1).max(512),
    /** Requests per second allowed; 0 = unlimited. */
    ratePerSecond: z.number().int().min(0).default(0),
    /** Successful calls per day; 0 = unlimited. */
    dailyQuota: z.number().int().min(0).default(0),
    revoked: z.boolean().default(false),
  })
  .strict();

export type MarketTokenSettings = z.infer<typeof marketTokenSchema>;

export interface MarketTokenUsage {
  /** Authenticated requests (every call the token was used for, whatever the answer). */
  calls: number;
  /** Calls answered with bars. */
  served: number;
  rateLimited: number;
  quotaRejected: number;
}

interface TokenState extends MarketTokenSettings {
  usage: MarketTokenUsage;
  /** Start times of the calls in the last second (sliding window rate limit). */
  window: number[];
}

export type TokenCheck =
  | { ok: true }
  | { ok: false; reason: 'auth' }
  | { ok: false; reason: 'rate'; retryAfterMs: number }
  | { ok: false; reason: 'quota' };

/** The market-data API's tokens: per-token sliding-window rate limit and daily quota. */
export class MarketTokens {
  private readonly tokens = new Map<string, TokenState>();

  upsert(settings: MarketTokenSettings): void {
    const existing = this.tokens.get(settings.token);
    this.tokens.set(settings.token, {
      ...settings,
      usage: existing?.usage ?? { calls: 0, served: 0, rateLimited: 0, quotaRejected: 0 },
      window: existing?.window ?? [],
    });
  }

  remove(token: string): boolean {
    return this.tokens.delete(token);
  }

  clear(): void {
    this.tokens.clear();
  }

  /** Decides whether `token` may make a call now, and counts it. */
  check(token: string | undefined, nowMs: number): TokenCheck {
    const state = token ? this.tokens.get(token) : undefined;
    if (!state) return { ok: false, reason: 'auth' };
    state.usage.calls++;
    if (state.revoked) return { ok: false, reason: 'auth' };
    if (state.ratePerSecond > 0) {
      const window = state.window;
      while (window.length > 0 && (window[0] ?? 0) <= nowMs - 1_000) window.shift();
      if (window.length >= state.ratePerSecond) {
        state.usage.rateLimited++;
        return { ok: false, reason: 'rate', retryAfterMs: (window[0] ?? nowMs) + 1_000 - nowMs };
      }
      window.push(nowMs);
    }
    if (state.dailyQuota > 0 && state.usage.served >= state.dailyQuota) {
      state.usage.quotaRejected++;
      return { ok: false, reason: 'quota' };
    }
    state.usage.served++;
    return { ok: true };
  }

  list(): Array<Omit<MarketTokenSettings, 'token'> & { token: string; usage: MarketTokenUsage }> {
    return [...this.tokens.values()].map(({ window: _window, ...rest }) => ({ ...rest, usage: { ...rest.usage } }));
  }
}
