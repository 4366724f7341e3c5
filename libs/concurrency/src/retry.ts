import { type Clock, systemClock } from './clock';
import { type CallContext, Scope, sleepIn } from './context';
import {
  type ErrorClassification,
  type ErrorClassifier,
  type ErrorKind,
  RetryBudgetExceededError,
  classifyError,
} from './errors';
import { nowOf } from './internal/dispatch';
import { SlidingWindow } from './internal/sliding-window';
import { type ConcurrencyMetricsListener, emitMetric, reportListenerError } from './metrics';
import { BasePolicy, type Call } from './policy';

/** Options of {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries allowed per original call over the window (default 0.2: retries ≤ 20 % of calls). */
  ratio?: number;
  /** Length of the sliding window in ms (default 10 000). */
  windowMs?: number;
  /** Retries always allowed per window, so a quiet service can still retry (default 10). */
  minRetries?: number;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
}

/**
 * Caps retries to a share of the calls in a sliding window, so an outage cannot multiply the load
 * on the upstream ("retry storm"). Share one budget between every retry policy that calls the same
 * upstream.
 *
 * A retry is allowed while `retries + 1 ≤ minRetries + ratio × calls` over the last `windowMs`.
 *
 * ```ts
 * const budget = new RetryBudget({ ratio: 0.2, windowMs: 10_000 });
 * const policy = retry({ maxAttempts: 4, budget });
 * ```
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minRetries: number;
  private readonly window: SlidingWindow;
  private readonly clock: Clock;

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.2;
    this.minRetries = options.minRetries ?? 10;
    const windowMs = options.windowMs ?? 10_000;
    if (!(this.ratio >= 0) || !(this.minRetries >= 0) || !(windowMs > 0)) {
      throw new RangeError('RetryBudget: ratio and minRetries must be ≥ 0 and windowMs > 0');
    }
    this.window = new SlidingWindow(windowMs, 10);
    this.clock = options.clock ?? systemClock;
  }

  /** Records one original call (not a retry). */
  recordCall(): void {
    this.window.add(nowOf(this.clock), 1, 0);
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    const now = this.clock.now();
    const calls = this.window.calls(now);
    const retries = this.window.events(now);
    if (retries + 1 > this.minRetries + this.ratio * calls) return false;
    this.window.add(now, 0, 1);
    return true;
  }

  /** Retries still available in the current window. */
  get available(): number {
    const now = this.clock.now();
    return Math.max(
      0,
      Math.floor(this.minRetries + this.ratio * this.window.calls(now) - this.window.events(now)),
    );
  }
}

/** Exponential backoff with full jitter: delay = random(0, min(maxDelayMs, initialDelayMs × multiplier^(n-1))). */
export interface BackoffOptions {
  /** Base delay before the first retry (default 100 ms). */
  initialDelayMs?: number;
  /** Cap of the exponential part (default 30 000 ms). */
  maxDelayMs?: number;
  /** Growth per retry (default 2). */
  multiplier?: number;
}

/** Information passed to {@link RetryOptions.onRetry}. */
export interface RetryEvent {
  /** The attempt about to start (2 = first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
  readonly kind: ErrorKind;
}

/** Options of {@link RetryPolicy}. */
export interface RetryOptions {
  /** Total attempts including the first (default 3). 1 disables retries. */
  maxAttempts?: number;
  /** Backoff for `transient` and `timeout` errors. */
  backoff?: BackoffOptions;
  /** Delay for `rate-limited` errors without `Retry-After` (default 1 000 ms). */
  rateLimitDelayMs?: number;
  /** A `Retry-After` longer than this is not waited for: the error is returned (default 60 000 ms). */
  maxRetryAfterMs?: number;
  /** Kinds that are retried (default `transient`, `timeout`, `rate-limited`). */
  retryOn?: readonly ErrorKind[];
  /** Shared retry budget; without one, retries are only bounded by `maxAttempts`. */
  budget?: RetryBudget;
  /** Error classification (default {@link classifyError}). */
  classify?: ErrorClassifier;
  /** Called before each retry's wait. */
  onRetry?: (event: RetryEvent) => void;
  /** Random source in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
  /** Label for metrics (default `retry`). */
  name?: string;
  metrics?: ConcurrencyMetricsListener;
}

const DEFAULT_RETRY_ON: readonly ErrorKind[] = ['transient', 'timeout', 'rate-limited'];

/**
 * Retries failed calls by error class:
 * - `transient` and `timeout`: exponential backoff with full jitter, capped;
 * - `rate-limited`: the server's `Retry-After` (seconds or HTTP date), else `rateLimitDelayMs`;
 * - everything else (`permanent`, `auth`, `quota`, `cancelled`, `circuit-open`): not retried.
 *
 * Gives up after `maxAttempts` (rethrowing the last error), when the caller cancels (waits stop at
 * once), or when the budget is spent ({@link RetryBudgetExceededError}, with the last error as
 * `cause`).
 *
 * ```ts
 * const policy = retry({ maxAttempts: 4, backoff: { initialDelayMs: 200 }, budget });
 * await policy.execute(({ signal, attempt }) => client.get(url, { signal, headers: { 'x-attempt': String(attempt) } }));
 * ```
 */
export class RetryPolicy extends BasePolicy {
  readonly maxAttempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly multiplier: number;
  private readonly rateLimitDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly retryOn: ReadonlySet<ErrorKind>;
  private readonly budget: RetryBudget | undefined;
  private readonly classify: ErrorClassifier;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly name: string;
  private readonly metrics: ConcurrencyMetricsListener | undefined;

  constructor(options: RetryOptions = {}) {
    super();
    this.maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be an integer ≥ 1, got ${options.maxAttempts}`);
    }
    this.initialDelayMs = options.backoff?.initialDelayMs ?? 100;
    this.maxDelayMs = options.backoff?.maxDelayMs ?? 30_000;
    this.multiplier = options.backoff?.multiplier ?? 2;
    this.rateLimitDelayMs = options.rateLimitDelayMs ?? 1_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    for (const [key, value] of Object.entries({
      initialDelayMs: this.initialDelayMs,
      maxDelayMs: this.maxDelayMs,
      rateLimitDelayMs: this.rateLimitDelayMs,
      maxRetryAfterMs: this.maxRetryAfterMs,
    })) {
      if (!(value >= 0)) throw new RangeError(`${key} must be ≥ 0, got ${value}`);
    }
    if (!(this.multiplier >= 1))
      throw new RangeError(`multiplier must be ≥ 1, got ${this.multiplier}`);
    this.retryOn = new Set(options.retryOn ?? DEFAULT_RETRY_ON);
    this.budget = options.budget;
    this.classify = options.classify ?? classifyError;
    this.onRetry = options.onRetry;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.name = options.name ?? 'retry';
    this.metrics = options.metrics;
    emitMetric(this.metrics, 'registered', { name: this.name, component: 'retry' });
  }

  /**
   * The delay before attempt `failures + 1` after `failures` failures, or `undefined` when the
   * error must not be retried (wrong kind, `Retry-After` too long).
   */
  delayFor(classification: ErrorClassification, failures: number): number | undefined {
    if (!this.retryOn.has(classification.kind)) return undefined;
    if (classification.kind === 'rate-limited') {
      const wanted = classification.retryAfterMs ?? this.rateLimitDelayMs;
      return wanted > this.maxRetryAfterMs ? undefined : wanted;
    }
    const ceiling = Math.min(
      this.maxDelayMs,
      this.initialDelayMs * Math.pow(this.multiplier, failures - 1),
    );
    return this.random() * ceiling;
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    const parent = Scope.from(ctx);
    this.budget?.recordCall();
    // First attempt without an async frame: the happy path is one `then`.
    let first: R | PromiseLike<R>;
    try {
      first = fn(parent);
    } catch (error) {
      return this.retryAfter(fn, parent, error);
    }
    return Promise.resolve(first).then(undefined, (error: unknown) =>
      this.retryAfter(fn, parent, error),
    ) as Promise<Awaited<R>>;
  }

  /** Handles the failure of attempt 1 and runs the remaining attempts. */
  private async retryAfter<R>(
    fn: Call<R>,
    parent: Scope,
    firstError: unknown,
  ): Promise<Awaited<R>> {
    let error = firstError;
    for (let attempt = 1; ; attempt++) {
      if (parent.aborted || attempt >= this.maxAttempts) throw error;
      const classification = this.classify(error, this.clock.now());
      const delayMs = this.delayFor(classification, attempt);
      if (delayMs === undefined) throw error;
      if (this.budget && !this.budget.tryRetry()) {
        emitMetric(this.metrics, 'retryBudgetExhausted', {
          name: this.name,
          kind: classification.kind,
        });
        throw new RetryBudgetExceededError(error);
      }
      emitMetric(this.metrics, 'retried', {
        name: this.name,
        attempt: attempt + 1,
        delayMs,
        kind: classification.kind,
      });
      if (this.onRetry) {
        try {
          this.onRetry({ attempt: attempt + 1, delayMs, error, kind: classification.kind });
        } catch (listenerError) {
          reportListenerError(listenerError);
        }
      }
      if (delayMs > 0) await sleepIn(this.clock, delayMs, parent);
      else if (parent.aborted) throw parent.reason;
      parent.recordAttempt(attempt + 1);
      try {
        return await fn(Scope.forAttempt(parent, attempt + 1));
      } catch (next) {
        error = next;
      }
    }
  }
}

/** Shorthand for `new RetryPolicy(options)`. */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
