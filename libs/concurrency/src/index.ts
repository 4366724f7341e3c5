/**
 * `@batchgate/concurrency`: the engine under every service. Framework-free, Node built-ins only.
 *
 * - {@link runBatch}: run a function over N items with bounded (fixed or adaptive) concurrency.
 * - Policies: {@link timeout}, {@link retry} (+ {@link RetryBudget}), {@link CircuitBreaker},
 *   {@link RateLimiter} / {@link KeyedRateLimiter}, combined with {@link composePolicies}.
 * - {@link WindowPacer}: one credential's calls kept inside the provider's window as it counts them.
 * - {@link TokenPool}: credentials with their own rate limits and quotas, leased per call.
 * - {@link AimdLimit} / {@link GradientLimit}: adaptive concurrency limits.
 * - {@link ConcurrencyMetricsListener}: metrics hooks; {@link Clock} / {@link ManualClock}: time.
 *
 * @packageDocumentation
 */
export { type Clock, type TimerHandle, ManualClock, systemClock } from './clock';
export { type CallContext, type ItemContext, sleep } from './context';
export { CallDurationFloor, WindowPacer, type WindowPacerOptions } from './window-pacer';
export {
  AuthError,
  BrokenCircuitError,
  CancelledError,
  ConcurrencyError,
  DeadlineExceededError,
  type ErrorClassification,
  type ErrorClassifier,
  type ErrorKind,
  NoCredentialAvailableError,
  PermanentError,
  QueueFullError,
  QuotaExhaustedError,
  RateLimitedError,
  RetryBudgetExceededError,
  TimeoutError,
  TransientError,
  classifyError,
  classifyHttpStatus,
  parseRetryAfter,
} from './errors';
export type { Unsubscribe } from './internal/listeners';
export type {
  BreakerStateEvent,
  CircuitState,
  ConcurrencyMetricsListener,
  FailedEvent,
  GaugeEvent,
  LatencyEvent,
  NameEvent,
  RegisteredEvent,
  RetriedEvent,
  RetryBudgetExhaustedEvent,
  SucceededEvent,
} from './metrics';
export { type Call, type Policy, composePolicies, noopPolicy } from './policy';
export { type TimeoutOptions, TimeoutPolicy, timeout } from './timeout';
export {
  type BackoffOptions,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryEvent,
  type RetryOptions,
  RetryPolicy,
  retry,
} from './retry';
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitStateChange,
} from './circuit-breaker';
export {
  KeyedRateLimiter,
  type KeyedRateLimiterOptions,
  RateLimiter,
  type RateLimiterOptions,
} from './rate-limiter';
export {
  type AdaptiveLimit,
  type AdaptiveLimitOptions,
  AimdLimit,
  type AimdLimitOptions,
  GradientLimit,
  type GradientLimitOptions,
  type LimitSample,
} from './adaptive-limit';
export {
  type BatchInput,
  type BatchOptions,
  type BatchProgress,
  type BatchReport,
  type BatchRun,
  type ItemFailure,
  type ItemFn,
  type ItemResult,
  type ItemSuccess,
  runBatch,
} from './run-batch';
export {
  type CredentialInfo,
  type CredentialSpec,
  type CredentialStatus,
  type Lease,
  type StaticLane,
  TokenPool,
  type TokenPoolEvents,
  type TokenPoolOptions,
  calculateThreadCount,
  distributeStocks,
  distributeTokens,
} from './token-pool';
