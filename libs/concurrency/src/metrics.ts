import { emitWarning } from 'node:process';
import type { ErrorKind } from './errors';

/** Circuit breaker states. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Gauge value of one component. */
export interface GaugeEvent {
  /** The component's `name` option (a bounded label such as `itick-kline`). */
  readonly name: string;
  readonly value: number;
}

/** A component event without a value. */
export interface NameEvent {
  readonly name: string;
}

/** An item (batch) or call finished successfully. */
export interface SucceededEvent {
  readonly name: string;
  /** Attempts it took (1 = no retry). */
  readonly attempts: number;
}

/** An item (batch) finished with an error. */
export interface FailedEvent {
  readonly name: string;
  readonly attempts: number;
  /** Classification of the final error (`cancelled` for cancelled items). */
  readonly kind: ErrorKind;
}

/** Duration of a finished item (all attempts and waits included). */
export interface LatencyEvent {
  readonly name: string;
  readonly durationMs: number;
  readonly ok: boolean;
}

/** A failed attempt is going to be retried. */
export interface RetriedEvent {
  readonly name: string;
  /** The attempt that is about to start (2 = first retry). */
  readonly attempt: number;
  /** Backoff before it. */
  readonly delayMs: number;
  /** Classification of the error that caused the retry. */
  readonly kind: ErrorKind;
}

/** A retry was refused because the retry budget is spent. */
export interface RetryBudgetExhaustedEvent {
  readonly name: string;
  readonly kind: ErrorKind;
}

/** A component that reports to a listener was created (once per component). */
export interface RegisteredEvent {
  readonly name: string;
  readonly component: 'breaker' | 'retry';
}

/** A circuit breaker changed state. */
export interface BreakerStateEvent {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
}

/**
 * Observer of the engine, for metrics. Every method is optional and called synchronously, so keep
 * them cheap (increment a counter, set a gauge); an exception thrown by a method is reported as a
 * process warning and otherwise ignored, it never breaks the engine.
 *
 * Which component emits what (each reports to the listener given in its own options, with its
 * own `name`):
 *
 * | method | emitted by | suggested Prometheus metric |
 * |---|---|---|
 * | `inFlight` | batch runner (items running), rate limiter/token pool (leases out) | gauge `…_in_flight` |
 * | `queued` | batch runner (known items not started), rate limiter/token pool (waiters) | gauge `…_queued` |
 * | `started` | batch runner | counter `…_started_total` |
 * | `succeeded` / `failed` | batch runner (per item) | counter `…_completed_total{outcome}` / `…_failed_total{kind}` |
 * | `latency` | batch runner (per item) | histogram `…_duration_seconds` |
 * | `retried` | retry policy | counter `…_retries_total{kind}` |
 * | `retryBudgetExhausted` | retry policy | counter `…_retry_budget_exhausted_total` |
 * | `rejectedByBreaker` | circuit breaker | counter `…_breaker_rejected_total` |
 * | `breakerStateChanged` | circuit breaker | gauge `…_breaker_state{state}` |
 * | `limitChanged` | batch runner (its concurrency limit, fixed or adaptive) | gauge `…_concurrency_limit` |
 * | `registered` | circuit breaker, retry policy (at creation) | start its series at zero (a breaker is closed) |
 */
export interface ConcurrencyMetricsListener {
  inFlight?(event: GaugeEvent): void;
  queued?(event: GaugeEvent): void;
  started?(event: NameEvent): void;
  succeeded?(event: SucceededEvent): void;
  failed?(event: FailedEvent): void;
  latency?(event: LatencyEvent): void;
  retried?(event: RetriedEvent): void;
  retryBudgetExhausted?(event: RetryBudgetExhaustedEvent): void;
  rejectedByBreaker?(event: NameEvent): void;
  breakerStateChanged?(event: BreakerStateEvent): void;
  limitChanged?(event: GaugeEvent): void;
  registered?(event: RegisteredEvent): void;
}

/** Calls a listener method, turning an exception into a process warning. @internal */
export function emitMetric<K extends keyof ConcurrencyMetricsListener>(
  listener: ConcurrencyMetricsListener | undefined,
  method: K,
  event: Parameters<NonNullable<ConcurrencyMetricsListener[K]>>[0],
): void {
  const fn = listener?.[method] as ((e: typeof event) => void) | undefined;
  if (!fn) return;
  try {
    fn.call(listener, event);
  } catch (error) {
    reportListenerError(error);
  }
}

/** Reports an exception thrown by user callback code without breaking the engine. @internal */
export function reportListenerError(error: unknown): void {
  try {
    emitWarning(
      error instanceof Error ? error : new Error(String(error)),
      'ConcurrencyListenerWarning',
    );
  } catch {
    // Nothing sensible is left to do; the engine must keep going.
  }
}
