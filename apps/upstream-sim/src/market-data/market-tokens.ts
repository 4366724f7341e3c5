import { z } from 'zod';

/** A market-data token as the admin API sets it; fields left out keep their current value. */
export const marketTokenSchema = z
  .object({
    token: z.string().min(1).max(512),
    /** Calls allowed in any 1 s sliding window; 0 = unlimited. */
    ratePerSecond: z.number().int().min(0).max(100_000).optional(),
    /** Calls allowed per UTC day; 0 = unlimited. */
    dailyQuota: z.number().int().min(0).optional(),
    /** A revoked token gets the provider's auth error, like an unknown one. */
    revoked: z.boolean().optional(),
  })
  .strict();

export type MarketTokenInput = z.input<typeof marketTokenSchema>;

export interface MarketTokenSettings {
  token: string;
  ratePerSecond: number;
  dailyQuota: number;
  revoked: boolean;
}

export interface MarketTokenUsage {
  /** Requests made with this (known) token, whatever the answer: what a provider bills. */
  calls: number;
  /** Calls answered with bars. */
  served: number;
  /** Calls refused with 429 by the rate limit. */
  rateLimited: number;
  /** Calls refused because the daily quota was used up. */
  quotaRejected: number;
  /** Calls answered "product does not exist". */
  notFound: number;
  /** Calls with a malformed query. */
  badRequest: number;
  /** Calls admitted today (past rate limit and quota): what the daily quota counts. */
  dailyUsed: number;
  /** The UTC day `dailyUsed` belongs to (YYYY-MM-DD). */
  day: string;
}

const DAY_MS = 86_400_000;
const utcDay = (dayNumber: number) => new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);

/**
 * At most `limit` events in any `windowMs`: a ring of the last `limit` admission times, O(1) per
 * call. A call is admitted when the oldest of the last `limit` admissions left the window.
 */
class SlidingWindow {
  private readonly times: Float64Array;
  private count = 0;
  private oldest = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 1_000,
  ) {
    this.times = new Float64Array(limit);
  }

  /** 0 when admitted (and recorded); otherwise the ms until a call would be admitted. */
  tryAcquire(nowMs: number): number {
    if (this.count < this.limit) {
      this.times[this.count++] = nowMs;
      return 0;
    }
    const first = this.times[this.oldest] ?? 0;
    const wait = first + this.windowMs - nowMs;
    if (wait > 0) return wait;
    this.times[this.oldest] = nowMs;
    this.oldest = (this.oldest + 1) % this.limit;
    return 0;
  }
}

export interface TokenState {
  settings: MarketTokenSettings;
  usage: MarketTokenUsage;
  window?: SlidingWindow;
  dayNumber: number;
}

export type TokenCheck =
  | { ok: true; state: TokenState }
  | { ok: false; reason: 'auth' }
  | { ok: false; reason: 'rate'; retryAfterMs: number; state: TokenState }
  | { ok: false; reason: 'quota'; state: TokenState };

const zeroUsage = (dayNumber: number): MarketTokenUsage => ({
  calls: 0,
  served: 0,
  rateLimited: 0,
  quotaRejected: 0,
  notFound: 0,
  badRequest: 0,
  dailyUsed: 0,
  day: utcDay(dayNumber),
});

/** The market-data API's tokens: sliding-window rate limit and daily quota per token. */
export class MarketTokens {
  private readonly tokens = new Map<string, TokenState>();

  constructor(private readonly now: () => number) {}

  /** Creates or changes a token; usage is kept, a changed rate starts a fresh window. */
  upsert(input: MarketTokenInput): MarketTokenSettings {
    const existing = this.tokens.get(input.token);
    const settings: MarketTokenSettings = {
      token: input.token,
      ratePerSecond: input.ratePerSecond ?? existing?.settings.ratePerSecond ?? 0,
      dailyQuota: input.dailyQuota ?? existing?.settings.dailyQuota ?? 0,
      revoked: input.revoked ?? existing?.settings.revoked ?? false,
    };
    const dayNumber = Math.floor(this.now() / DAY_MS);
    const keepWindow = existing && existing.settings.ratePerSecond === settings.ratePerSecond;
    this.tokens.set(input.token, {
      settings,
      usage: existing?.usage ?? zeroUsage(dayNumber),
      window: keepWindow
        ? existing.window
        : settings.ratePerSecond > 0
          ? new SlidingWindow(settings.ratePerSecond)
          : undefined,
      dayNumber: existing?.dayNumber ?? dayNumber,
    });
    return settings;
  }

  remove(token: string): boolean {
    return this.tokens.delete(token);
  }

  clear(): void {
    this.tokens.clear();
  }

  /** Keeps the tokens, forgets their usage. */
  clearUsage(): void {
    const dayNumber = Math.floor(this.now() / DAY_MS);
    for (const state of this.tokens.values()) {
      state.usage = zeroUsage(dayNumber);
      state.dayNumber = dayNumber;
      state.window =
        state.settings.ratePerSecond > 0
          ? new SlidingWindow(state.settings.ratePerSecond)
          : undefined;
    }
  }

  /** Decides whether `token` may make a call now, and counts it. */
  check(token: string | undefined): TokenCheck {
    const state = token === undefined ? undefined : this.tokens.get(token);
    if (!state) return { ok: false, reason: 'auth' };
    state.usage.calls++;
    if (state.settings.revoked) return { ok: false, reason: 'auth' };
    const now = this.now();
    const wait = state.window?.tryAcquire(now) ?? 0;
    if (wait > 0) {
      state.usage.rateLimited++;
      return { ok: false, reason: 'rate', retryAfterMs: wait, state };
    }
    const dayNumber = Math.floor(now / DAY_MS);
    if (dayNumber !== state.dayNumber) {
      state.dayNumber = dayNumber;
      state.usage.dailyUsed = 0;
      state.usage.day = utcDay(dayNumber);
    }
    if (state.settings.dailyQuota > 0 && state.usage.dailyUsed >= state.settings.dailyQuota) {
      state.usage.quotaRejected++;
      return { ok: false, reason: 'quota', state };
    }
    state.usage.dailyUsed++;
    return { ok: true, state };
  }

  settings(): MarketTokenSettings[] {
    return [...this.tokens.values()].map((s) => ({ ...s.settings }));
  }

  list(): Array<MarketTokenSettings & { usage: MarketTokenUsage }> {
    return [...this.tokens.values()].map((s) => ({ ...s.settings, usage: { ...s.usage } }));
  }
}
