import { type Clock, systemClock } from './clock';
import { type CallContext, isThenable } from './context';
import {
  BrokenCircuitError,
  type ErrorClassification,
  type ErrorClassifier,
  classifyError,
} from './errors';
import { nowOf } from './internal/dispatch';
import { Listeners, type Unsubscribe } from './internal/listeners';
import { SlidingWindow } from './internal/sliding-window';
import { type CircuitState, type ConcurrencyMetricsListener, emitMetric } from './metrics';
import { BasePolicy, type Call } from './policy';

export type { CircuitState } from './metrics';

/** A state change of a {@link CircuitBreaker}. */
export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Clock time of the change. */
  readonly at: number;
}

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Label for errors, metrics and logs (default `breaker`). */
  name?: string;
  /** Open after this many failures in a row (default 5; `Infinity` to rely on `failureRate` only). */
  consecutiveFailures?: number;
  /**
   * Also open when, over the last `windowMs` (default 10 000), at least `minimumCalls` (default 20)
   * calls finished and the share of failures reached `threshold` (0..1).
   */
  failureRate?: { threshold: number; windowMs?: number; minimumCalls?: number };
  /** Time spent OPEN before probes are let through (default 30 000 ms). */
  recoveryTimeMs?: number;
  /** Probe calls allowed at the same time while HALF_OPEN (default 1). */
  halfOpenProbes?: number;
  /** Successful probes needed to close again (default 1). */
  successesToClose?: number;
  /**
   * Which errors count as failures of the upstream (default: kinds `transient` and `timeout`).
   * Other errors count as successes (the upstream answered), except `cancelled`, which is ignored.
   */
  isFailure?: (error: unknown, classification: ErrorClassification) => boolean;
  /** Error classification (default {@link classifyError}). */
  classify?: ErrorClassifier;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
  metrics?: ConcurrencyMetricsListener;
}

const defaultIsFailure = (_: unknown, c: ErrorClassification): boolean =>
  c.kind === 'transient' || c.kind === 'timeout';

const OUTCOME_SUCCESS = 0;
const OUTCOME_FAILURE = 1;
const OUTCOME_IGNORE = 2;
const REJECTED = -1;

/**
 * Circuit breaker: stops calling an upstream that keeps failing, and lets a few probes through
 * after a pause to see whether it recovered.
 *
 * - CLOSED → OPEN after `consecutiveFailures` failures in a row, or a failure rate of at least
 *   `failureRate.threshold` over a sliding window with at least `failureRate.minimumCalls` calls;
 * - OPEN: calls fail fast with {@link BrokenCircuitError}; after `recoveryTimeMs` → HALF_OPEN;
 * - HALF_OPEN: up to `halfOpenProbes` calls at a time run as probes (the rest fail fast);
 *   `successesToClose` successful probes → CLOSED, a failed probe → OPEN again.
 *
 * Results of calls that started before a state change are ignored. State changes are events
 * ({@link onStateChange}) and metrics (`breakerStateChanged`).
 *
 * ```ts
 * const breaker = new CircuitBreaker({ name: 'itick', consecutiveFailures: 5, recoveryTimeMs: 30_000 });
 * breaker.onStateChange(({ from, to }) => logger.warn({ from, to }, 'itick breaker'));
 * const bars = await breaker.execute(({ signal }) => itick.kline(code, { signal }));
 * ```
 */
export class CircuitBreaker extends BasePolicy {
  readonly name: string;
  private current: CircuitState = 'closed';
  private generation = 0;
  private consecutive = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  private readonly threshold: number;
  private readonly rate:
    | { threshold: number; minimumCalls: number; window: SlidingWindow }
    | undefined;
  private readonly recoveryTimeMs: number;
  private readonly halfOpenProbes: number;
  private readonly successesToClose: number;
  private readonly isFailure: (error: unknown, classification: ErrorClassification) => boolean;
  private readonly classify: ErrorClassifier;
  private readonly clock: Clock;
  private readonly metrics: ConcurrencyMetricsListener | undefined;
  private readonly events = new Listeners<{ change: CircuitStateChange }>();

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    this.name = options.name ?? 'breaker';
    this.threshold = options.consecutiveFailures ?? 5;
    if (!(this.threshold >= 1)) throw new RangeError('consecutiveFailures must be ≥ 1');
    if (options.failureRate) {
      const { threshold, windowMs = 10_000, minimumCalls = 20 } = options.failureRate;
      if (!(threshold > 0 && threshold <= 1))
        throw new RangeError('failureRate.threshold must be in (0, 1]');
      if (!(minimumCalls >= 1) || !(windowMs > 0))
        throw new RangeError('failureRate needs minimumCalls ≥ 1, windowMs > 0');
      this.rate = { threshold, minimumCalls, window: new SlidingWindow(windowMs, 10) };
    }
    this.recoveryTimeMs = options.recoveryTimeMs ?? 30_000;
    this.halfOpenProbes = options.halfOpenProbes ?? 1;
    this.successesToClose = options.successesToClose ?? 1;
    if (!(this.recoveryTimeMs >= 0)) throw new RangeError('recoveryTimeMs must be ≥ 0');
    if (!Number.isInteger(this.halfOpenProbes) || this.halfOpenProbes < 1)
      throw new RangeError('halfOpenProbes must be an integer ≥ 1');
    if (!Number.isInteger(this.successesToClose) || this.successesToClose < 1)
      throw new RangeError('successesToClose must be an integer ≥ 1');
    this.isFailure = options.isFailure ?? defaultIsFailure;
    this.classify = options.classify ?? classifyError;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    emitMetric(this.metrics, 'registered', { name: this.name, component: 'breaker' });
  }

  /** Current state (an OPEN breaker whose recovery time has passed reports HALF_OPEN). */
  get state(): CircuitState {
    if (this.current === 'open' && nowOf(this.clock) >= this.openedAt + this.recoveryTimeMs) {
      this.transition('half-open');
    }
    return this.current;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: (change: CircuitStateChange) => void): Unsubscribe {
    return this.events.on('change', listener);
  }

  /** Forces the breaker OPEN (e.g. an operator isolates an upstream); it recovers as usual. */
  open(): void {
    this.transition('open');
  }

  /** Forces the breaker CLOSED and clears its failure history. */
  reset(): void {
    this.transition('closed');
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    const generation = this.enter();
    if (generation === REJECTED) {
      emitMetric(this.metrics, 'rejectedByBreaker', { name: this.name });
      const retryAfterMs =
        this.current === 'open'
          ? Math.max(0, this.openedAt + this.recoveryTimeMs - this.clock.now())
          : 0;
      return Promise.reject(new BrokenCircuitError(this.name, retryAfterMs));
    }
    let result: R | PromiseLike<R>;
    try {
      result = fn(ctx);
    } catch (error) {
      this.leave(generation, this.outcomeOf(error));
      return Promise.reject(error);
    }
    if (!isThenable<R>(result)) {
      this.leave(generation, OUTCOME_SUCCESS);
      return Promise.resolve(result as Awaited<R>);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.leave(generation, OUTCOME_SUCCESS);
        return value as Awaited<R>;
      },
      (error: unknown) => {
        this.leave(generation, this.outcomeOf(error));
        throw error;
      },
    );
  }

  private outcomeOf(error: unknown): number {
    const classification = this.classify(error, this.clock.now());
    if (classification.kind === 'cancelled') return OUTCOME_IGNORE;
    return this.isFailure(error, classification) ? OUTCOME_FAILURE : OUTCOME_SUCCESS;
  }

  /** Admits a call; returns the generation it runs in, or REJECTED. */
  private enter(): number {
    const state = this.current === 'closed' ? 'closed' : this.state;
    if (state === 'closed') return this.generation;
    if (state === 'half-open' && this.probesInFlight < this.halfOpenProbes) {
      this.probesInFlight++;
      return this.generation;
    }
    return REJECTED;
  }

  private leave(generation: number, outcome: number): void {
    if (generation !== this.generation) return; // started before a state change: stale
    if (this.current === 'closed') {
      if (outcome === OUTCOME_IGNORE) return;
      const failed = outcome === OUTCOME_FAILURE;
      this.consecutive = failed ? this.consecutive + 1 : 0;
      let open = this.consecutive >= this.threshold;
      if (this.rate) {
        const now = this.clock.now();
        this.rate.window.add(now, 1, failed ? 1 : 0);
        if (failed && !open) {
          const calls = this.rate.window.calls(now);
          open =
            calls >= this.rate.minimumCalls &&
            this.rate.window.events(now) >= this.rate.threshold * calls;
        }
      }
      if (open) this.transition('open');
      return;
    }
    if (this.current === 'half-open') {
      this.probesInFlight--;
      if (outcome === OUTCOME_FAILURE) this.transition('open');
      else if (outcome === OUTCOME_SUCCESS && ++this.probeSuccesses >= this.successesToClose)
        this.transition('closed');
    }
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    const now = this.clock.now();
    this.current = to;
    this.generation++;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    if (to === 'open') this.openedAt = now;
    if (to === 'closed') {
      this.consecutive = 0;
      this.rate?.window.reset();
    }
    if (from === to) return;
    emitMetric(this.metrics, 'breakerStateChanged', { name: this.name, from, to });
    this.events.emit('change', { from, to, at: now });
  }
}
