import { Listeners, type Unsubscribe } from './internal/listeners';

/** One observed call, fed to an {@link AdaptiveLimit} by the batch runner. */
export interface LimitSample {
  /** Clock time the call started. */
  readonly startedAt: number;
  /** How long it took (ms). */
  readonly latencyMs: number;
  /** Calls in flight when it started (itself included). */
  readonly inFlight: number;
  /** True when the call showed overload: it timed out or was rate-limited (429/503 + Retry-After). */
  readonly dropped: boolean;
  /** Clock time the call ended. */
  readonly now: number;
}

/**
 * A concurrency limit that adjusts itself from observed latency and overload, as in Netflix's
 * concurrency-limits. Pass one as `runBatch`'s `concurrency`; the runner feeds it a
 * {@link LimitSample} per call and never has more than `current` calls in flight.
 *
 * The limit applies to the batch it is given to: use one instance per batch (reusing it for the
 * next batch against the same upstream keeps what it learned; two batches running at once with
 * the same instance would each be allowed `current` calls).
 */
export interface AdaptiveLimit {
  /** Current limit (an integer between the limit's `min` and `max`). */
  readonly current: number;
  /** Feeds one observation. */
  onSample(sample: LimitSample): void;
  /** Subscribes to limit changes; returns the unsubscribe function. */
  onChange(listener: (limit: number) => void): Unsubscribe;
}

/** Options shared by the adaptive limits. */
export interface AdaptiveLimitOptions {
  /** Starting limit (default 8). */
  initial?: number;
  /** Lower bound (default 1). */
  min?: number;
  /** Upper bound (default 200). */
  max?: number;
  /**
   * How long the no-load latency baseline (the minimum latency) is remembered, in ms (default
   * 30 000). The baseline is the minimum over the last one to two such windows, so it follows an
   * upstream that became slower for good.
   */
  baselineWindowMs?: number;
}

/** Windowed minimum: min over the current and the previous window. */
class WindowedMin {
  private current = Infinity;
  private previous = Infinity;
  private windowStart = -Infinity;

  constructor(private readonly windowMs: number) {}

  add(value: number, now: number): void {
    if (now - this.windowStart >= this.windowMs) {
      this.previous = now - this.windowStart >= 2 * this.windowMs ? Infinity : this.current;
      this.current = Infinity;
      this.windowStart = now;
    }
    if (value < this.current) this.current = value;
  }

  get value(): number {
    return Math.min(this.current, this.previous);
  }
}

/** A part-round whose average latency is this many times the baseline ends the round early. */
const EARLY_OVERLOAD = 1.5;

abstract class BaseLimit implements AdaptiveLimit {
  protected limit: number;
  protected readonly min: number;
  protected readonly max: number;
  /** Lowest round-average latency seen recently: the no-load latency, noise included. */
  protected readonly baseline: WindowedMin;
  private published: number;
  private readonly listeners = new Listeners<{ change: number }>();
  // The current round: samples of calls that started after the round began.
  private roundStart = -Infinity;
  private sum = 0;
  private okCount = 0;
  private count = 0;
  private maxInFlight = 0;
  private dropped = false;
  /** Slow start: double per round until the first overload, then fall back to the last good limit. */
  private slowStart = true;
  private lastGood = 0;
  /** Round-average latency above `slowStartTolerance × baseline` is slow (see `overloaded`). */
  protected slowStartTolerance = 1.2;
  /** The last round was slow, but not overloaded for sure. */
  private slowRound = false;

  constructor(options: AdaptiveLimitOptions) {
    this.min = options.min ?? 1;
    this.max = options.max ?? 200;
    const initial = options.initial ?? Math.min(8, this.max);
    if (!Number.isInteger(this.min) || this.min < 1)
      throw new RangeError('min must be an integer ≥ 1');
    if (!Number.isInteger(this.max) || this.max < this.min)
      throw new RangeError('max must be an integer ≥ min');
    if (!(initial >= this.min && initial <= this.max))
      throw new RangeError('initial must be within [min, max]');
    this.limit = initial;
    this.published = Math.floor(initial);
    this.baseline = new WindowedMin(options.baselineWindowMs ?? 30_000);
  }

  get current(): number {
    return this.published;
  }

  onChange(listener: (limit: number) => void): Unsubscribe {
    return this.listeners.on('change', listener);
  }

  /**
   * Samples are gathered in rounds of about one round trip (as many samples as the limit, from
   * calls started under it); the decision is taken on the round's average, which is far less
   * noisy than single samples.
   */
  onSample(sample: LimitSample): void {
    // Outside slow start, a sample of a call started before the round measured an older limit.
    // In slow start every sample counts: a round then takes one round trip instead of two.
    if (!this.slowStart && sample.startedAt < this.roundStart) return;
    if (sample.dropped) {
      this.dropped = true;
    } else {
      this.sum += sample.latencyMs;
      this.okCount++;
    }
    this.count++;
    if (sample.inFlight > this.maxInFlight) this.maxInFlight = sample.inFlight;
    const full = this.count >= Math.max(1, Math.floor(this.limit));
    if (!full && !this.dropped) {
      // Overload shows well before a full round (a limit past the knee makes every round slow
      // and long): decide early once a quarter of the round agrees.
      const early =
        this.okCount >= Math.max(4, Math.floor(this.limit / 4)) &&
        this.sum / this.okCount > this.baseline.value * EARLY_OVERLOAD;
      if (!early) return;
    }
    const average = this.okCount > 0 ? this.sum / this.okCount : this.baseline.value;
    if (full && !this.dropped && this.okCount > 0) this.baseline.add(average, sample.now);
    const limited = this.maxInFlight * 2 < this.limit;
    const dropped = this.dropped;
    this.roundStart = sample.now;
    this.sum = 0;
    this.okCount = 0;
    this.count = 0;
    this.maxInFlight = 0;
    this.dropped = false;
    const baseline = this.baseline.value;
    if (this.slowStart) {
      const slow = average > baseline * this.slowStartTolerance;
      if (this.overloaded(dropped, slow, average, baseline)) {
        this.slowStart = false;
        this.set(this.lastGood > 0 ? this.lastGood : this.limit * 0.5);
      } else if (!slow && !limited) {
        this.lastGood = this.limit;
        this.set(this.limit * 2);
      }
      return;
    }
    this.set(this.decide(average, baseline, dropped, limited));
  }

  /**
   * Whether a round shows overload: a timeout or a rate limit, or a slow round (over the
   * threshold the caller tested) that is also 1.5 × the baseline or follows another slow round.
   * A pause of the caller's own machine (GC, a busy core) slows every call in flight at once, so
   * one round a little slow says little; two in a row, or one far slower, do.
   */
  protected overloaded(dropped: boolean, slow: boolean, averageMs: number, baselineMs: number): boolean {
    const overloaded =
      dropped || (slow && (this.slowRound || averageMs > baselineMs * EARLY_OVERLOAD));
    this.slowRound = slow && !overloaded;
    return overloaded;
  }

  /** The next limit after a round. */
  protected abstract decide(
    averageMs: number,
    baselineMs: number,
    dropped: boolean,
    appLimited: boolean,
  ): number;

  protected set(value: number): void {
    this.limit = Math.min(this.max, Math.max(this.min, value));
    const next = Math.floor(this.limit);
    if (next !== this.published) {
      this.published = next;
      this.listeners.emit('change', next);
    }
  }
}

/** Growth per good round of {@link AimdLimit} just below the limit that last was overload. */
const PROBE_STEP = 0.125;

/** Options of {@link AimdLimit}. */
export interface AimdLimitOptions extends AdaptiveLimitOptions {
  /** Multiplier applied on overload (default 0.9). */
  backoffRatio?: number;
  /**
   * A round whose average latency exceeds `tolerance ×` the no-load baseline is slow, or
   * `limit / (limit − 1) ×` it where that is higher (see {@link AimdLimit}). Default 1.2; keep it
   * above the round-to-round jitter of the upstream's latency.
   */
  tolerance?: number;
}

/**
 * Additive-increase / multiplicative-decrease limit (Netflix `AIMDLimit`, with TCP's slow start
 * and a latency check).
 *
 * Once per round (≈ one round trip: as many samples as the limit, from calls started under it):
 * - a round is overloaded when it saw a timeout or a rate limit, or when it is slow and either
 *   1.5 × the baseline or the second slow round in a row (one round a little slow keeps the
 *   limit as it is: a pause of the caller's machine slows all calls at once);
 * - slow start: while rounds are fine the limit doubles; the first overloaded round (slow: over
 *   `tolerance ×` the baseline) ends slow start and brings the limit back to the last good one;
 * - then an overloaded round (slow: over the break-even latency) cuts the limit to
 *   `limit × backoffRatio`, and by one thread at least; a good round in which the limit was in
 *   use adds 1, or an eighth where the next thread would reach the limit of the last overloaded
 *   round (as TCP CUBIC slows down near its last maximum), until a round there is fine;
 * - the break-even latency of a limit of n is `baseline × max(tolerance, n / (n − 1))`, the
 *   baseline being the no-load latency (the lowest recent round average). By Little's law a batch
 *   does n / latency calls per ms, so above `baseline × n / (n − 1)` the n-th call in flight costs
 *   more than it brings: n − 1 calls at the baseline would do as much. A fixed ratio alone is too
 *   strict for small limits (3 calls at 1.3 × the baseline still beat 2) and too lax past a steep
 *   knee (5 calls at 1.28 × it do less than 4); `tolerance` keeps big limits (n / (n − 1) → 1)
 *   above the jitter, and a limit of 1 is cut by timeouts and rate limits only;
 * - an application-limited round (fewer than half the limit in flight) changes nothing.
 *
 * ```ts
 * const limit = new AimdLimit({ initial: 4, max: 100 });
 * await runBatch(stocks, pull, { concurrency: limit });
 * ```
 */
export class AimdLimit extends BaseLimit {
  private readonly backoffRatio: number;
  private readonly tolerance: number;
  /** Threads of the last overloaded round, until a round at as many is fine again. */
  private overloadedAt = Infinity;

  constructor(options: AimdLimitOptions = {}) {
    super(options);
    this.backoffRatio = options.backoffRatio ?? 0.9;
    this.tolerance = options.tolerance ?? 1.2;
    this.slowStartTolerance = this.tolerance;
    if (!(this.backoffRatio > 0 && this.backoffRatio < 1))
      throw new RangeError('backoffRatio must be in (0, 1)');
    if (!(this.tolerance >= 1)) throw new RangeError('tolerance must be ≥ 1');
  }

  protected decide(
    averageMs: number,
    baselineMs: number,
    dropped: boolean,
    appLimited: boolean,
  ): number {
    const threads = Math.floor(this.limit);
    const breakEven =
      baselineMs * Math.max(this.tolerance, threads > 1 ? threads / (threads - 1) : Infinity);
    const slow = averageMs > breakEven;
    if (this.overloaded(dropped, slow, averageMs, baselineMs)) {
      this.overloadedAt = threads;
      // × backoffRatio alone can leave a small limit where it was (6.9 → 6.2): overload again.
      return Math.min(this.limit * this.backoffRatio, threads - 1);
    }
    if (slow || appLimited) return this.limit;
    if (threads >= this.overloadedAt) this.overloadedAt = Infinity;
    // Back up to where the last overload was, an eighth of a thread per round: otherwise a third
    // of the rounds would run at the overloaded limit, as two rounds there are what it takes to
    // tell.
    return this.limit + (threads + 1 >= this.overloadedAt ? PROBE_STEP : 1);
  }
}

/** Options of {@link GradientLimit}. */
export interface GradientLimitOptions extends AdaptiveLimitOptions {
  /** Ratio of round-average to baseline latency tolerated before the limit shrinks (default 1). */
  tolerance?: number;
  /** Weight of a new estimate (default 0.5). */
  smoothing?: number;
  /** Extra calls allowed beyond the estimate, as a function of the limit (default 2). */
  queueSize?: (limit: number) => number;
  /** Multiplier on overload (default 0.9). */
  backoffRatio?: number;
}

/**
 * Gradient limit (Netflix `GradientLimit`), after the same slow start as {@link AimdLimit}: once
 * per round it compares the round's average latency with the no-load baseline and sets
 * `limit = limit × clamp(tolerance × baseline / average, 0.5, 1) + queueSize(limit)`, smoothed.
 * It grows by the queue allowance while latency stays at the baseline and shrinks in proportion
 * to latency growth; timeouts and rate limits cut it by `backoffRatio`.
 */
export class GradientLimit extends BaseLimit {
  private readonly tolerance: number;
  private readonly smoothing: number;
  private readonly queueSize: (limit: number) => number;
  private readonly backoffRatio: number;

  constructor(options: GradientLimitOptions = {}) {
    super(options);
    this.tolerance = options.tolerance ?? 1;
    this.smoothing = options.smoothing ?? 0.5;
    this.queueSize = options.queueSize ?? (() => 2);
    this.backoffRatio = options.backoffRatio ?? 0.9;
    if (!(this.tolerance >= 1)) throw new RangeError('tolerance must be ≥ 1');
    if (!(this.smoothing > 0 && this.smoothing <= 1))
      throw new RangeError('smoothing must be in (0, 1]');
    if (!(this.backoffRatio > 0 && this.backoffRatio < 1))
      throw new RangeError('backoffRatio must be in (0, 1)');
  }

  protected decide(
    averageMs: number,
    baselineMs: number,
    dropped: boolean,
    appLimited: boolean,
  ): number {
    if (dropped) return this.limit * this.backoffRatio;
    if (appLimited) return this.limit;
    const gradient = Math.max(0.5, Math.min(1, (this.tolerance * baselineMs) / averageMs));
    const estimate = this.limit * gradient + this.queueSize(this.limit);
    return (1 - this.smoothing) * this.limit + this.smoothing * estimate;
  }
}

/** True for {@link AdaptiveLimit} objects (vs a fixed number). @internal */
export function isAdaptiveLimit(value: unknown): value is AdaptiveLimit {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AdaptiveLimit).onSample === 'function'
  );
}
