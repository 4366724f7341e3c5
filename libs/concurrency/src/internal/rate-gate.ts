/** Largest `limit` for which the exact sliding log is kept (8 bytes per permit). */
export const MAX_EXACT_LIMIT = 10_000;

/**
 * Synchronous core of the rate limiter and of each token-pool credential.
 *
 * Two rules, both must allow a grant:
 * 1. a sliding log of the last `limit` grant times: a grant at `t` needs the `limit`-th most
 *    recent grant to be at least `intervalMs` old, so no half-open window of `intervalMs` ever
 *    holds more than `limit` grants (the guarantee an upstream counting per window needs);
 * 2. when `burst < limit`, a token bucket (GCRA form) of capacity `burst` refilled at
 *    `limit / intervalMs`, which spreads grants out instead of allowing `limit` at once.
 *
 * With `burst = limit` (the default) rule 2 never binds and is skipped. For `limit` above
 * {@link MAX_EXACT_LIMIT} the log would be too large; the bucket alone is used, which allows up to
 * `burst + limit` in a window.
 */
export class RateGate {
  readonly limit: number;
  readonly intervalMs: number;
  readonly burst: number;
  /** Extra time before a permit is reused (see the constructor). */
  readonly marginMs: number;
  private readonly reuseAfterMs: number;
  /** Time of grant `g` at `log[g % limit]` (the last `limit` grants). */
  private readonly log: Float64Array | undefined;
  /** Grants so far; also the ticket of the next grant. */
  private grants = 0;
  private readonly emissionMs: number;
  private readonly toleranceMs: number;
  private readonly useBucket: boolean;
  private tat = -Infinity;

  /**
   * @param marginMs a permit is reused `intervalMs + marginMs` after the call that held it
   *   started (default 1 % of `intervalMs`, at most 10 ms): the upstream counts our calls a
   *   little later than we start them (event-loop delay, network), and that jitter must not push
   *   one of its windows over the limit.
   */
  constructor(limit: number, intervalMs: number, burst = limit, marginMs?: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer ≥ 1, got ${limit}`);
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs))
      throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
    if (!Number.isInteger(burst) || burst < 1)
      throw new RangeError(`burst must be an integer ≥ 1, got ${burst}`);
    this.limit = limit;
    this.intervalMs = intervalMs;
    this.burst = Math.min(burst, limit);
    this.marginMs = marginMs ?? Math.min(10, intervalMs / 100);
    if (!(this.marginMs >= 0) || !Number.isFinite(this.marginMs))
      throw new RangeError(`marginMs must be ≥ 0, got ${marginMs}`);
    this.reuseAfterMs = intervalMs + this.marginMs;
    this.log = limit <= MAX_EXACT_LIMIT ? new Float64Array(limit) : undefined;
    this.emissionMs = intervalMs / limit;
    this.toleranceMs = (this.burst - 1) * this.emissionMs;
    this.useBucket = !this.log || this.burst < limit;
  }

  /** Earliest time ≥ `now` at which one permit can be granted. */
  availableAt(now: number): number {
    let at = now;
    if (this.log && this.grants >= this.limit) {
      // The grant `limit` places back must be at least one interval old.
      const due = this.log[this.grants % this.limit] + this.reuseAfterMs;
      if (due > at) at = due;
    }
    if (this.useBucket) {
      const due = this.tat - this.toleranceMs;
      if (due > at) at = due;
    }
    return at;
  }

  /** Grants one permit at `now` if possible; returns its ticket, or -1. */
  tryTake(now: number): number {
    if (this.availableAt(now) > now) return -1;
    return this.take(now);
  }

  /** Records a grant at `now` (the caller checked {@link availableAt}); returns its ticket. */
  take(now: number): number {
    const ticket = this.grants++;
    if (this.log) this.log[ticket % this.limit] = now;
    if (this.useBucket) this.tat = Math.max(this.tat, now) + this.emissionMs;
    return ticket;
  }

  /**
   * Moves a grant to the time its call actually started (a waiter runs a few microtasks after
   * its grant, or later if the event loop is busy). Later times only make the next grants wait
   * longer, so the window guarantee then holds for start times, not just grant times.
   */
  started(ticket: number, now: number): void {
    // Ticket `ticket + limit` reuses the slot; until it is granted the slot is still ours.
    if (!this.log || ticket < 0 || ticket + this.limit < this.grants) return;
    const slot = ticket % this.limit;
    if (now > this.log[slot]) this.log[slot] = now;
  }

  /** True when the gate is back to its initial state (nothing would be delayed any more). */
  idleAt(now: number): boolean {
    if (this.useBucket && this.tat > now) return false;
    if (!this.log || this.grants === 0) return true;
    const newest = this.log[(this.grants - 1) % this.limit];
    return newest + this.reuseAfterMs <= now;
  }
}
