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
  private readonly log: Float64Array | undefined;
  private logHead = 0;
  private logCount = 0;
  private readonly emissionMs: number;
  private readonly toleranceMs: number;
  private readonly useBucket: boolean;
  private tat = -Infinity;

  constructor(limit: number, intervalMs: number, burst = limit) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer ≥ 1, got ${limit}`);
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be an integer ≥ 1, got ${burst}`);
    this.limit = limit;
    this.intervalMs = intervalMs;
    this.burst = Math.min(burst, limit);
    this.log = limit <= MAX_EXACT_LIMIT ? new Float64Array(limit) : undefined;
    this.emissionMs = intervalMs / limit;
    this.toleranceMs = (this.burst - 1) * this.emissionMs;
    this.useBucket = !this.log || this.burst < limit;
  }

  /** Earliest time ≥ `now` at which one permit can be granted. */
  availableAt(now: number): number {
    let at = now;
    if (this.log && this.logCount === this.limit) {
      const due = this.log[this.logHead] + this.intervalMs;
      if (due > at) at = due;
    }
    if (this.useBucket) {
      const due = this.tat - this.toleranceMs;
      if (due > at) at = due;
    }
    return at;
  }

  /** Grants one permit at `now` if possible. */
  tryTake(now: number): boolean {
    if (this.availableAt(now) > now) return false;
    this.take(now);
    return true;
  }

  /** Records a grant at `now` (the caller checked {@link availableAt}). */
  take(now: number): void {
    const log = this.log;
    if (log) {
      if (this.logCount === this.limit) {
        log[this.logHead] = now;
        this.logHead = this.logHead + 1 === this.limit ? 0 : this.logHead + 1;
      } else {
        log[(this.logHead + this.logCount) % this.limit] = now;
        this.logCount++;
      }
    }
    if (this.useBucket) this.tat = Math.max(this.tat, now) + this.emissionMs;
  }

  /** True when the gate is back to its initial state (nothing would be delayed any more). */
  idleAt(now: number): boolean {
    if (this.useBucket && this.tat > now) return false;
    if (!this.log || this.logCount === 0) return true;
    const newest = this.log[(this.logHead + this.logCount - 1) % this.limit];
    return newest + this.intervalMs <= now;
  }
}
