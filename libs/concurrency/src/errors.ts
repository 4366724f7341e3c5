/**
 * Typed errors of the engine, and the classification that the retry policy, circuit breaker,
 * adaptive limit and token pool use to decide what an error means.
 *
 * Throw {@link TransientError}, {@link RateLimitedError}, {@link PermanentError},
 * {@link AuthError} or {@link QuotaExhaustedError} from an adapter to say what happened; errors
 * the adapter does not wrap are classified by {@link classifyError} (HTTP status, Node network
 * codes).
 */

/** What an error means for the caller. */
export type ErrorKind =
  /** Worth retrying with backoff: 5xx, connection reset, DNS hiccup, unknown errors. */
  | 'transient'
  /** The call took too long (our timeout, HTTP 408, socket timeouts). Retried with backoff. */
  | 'timeout'
  /** The server asked us to slow down (HTTP 429, 503 with `Retry-After`). Retried after a delay. */
  | 'rate-limited'
  /** Will fail the same way again (4xx other than 408/429, validation). Never retried. */
  | 'permanent'
  /** The credential was rejected (401/403): retire it. Never retried with the same credential. */
  | 'auth'
  /** The credential's quota is used up: take it out of rotation until its quota is restored. */
  | 'quota'
  /** We gave up on the call ourselves (abort signal, batch cancelled or past its deadline). */
  | 'cancelled'
  /** A circuit breaker rejected the call without running it. */
  | 'circuit-open';

/** Result of classifying an error. */
export interface ErrorClassification {
  readonly kind: ErrorKind;
  /** Delay the server asked for (`Retry-After`), in milliseconds, when it gave one. */
  readonly retryAfterMs?: number;
}

/**
 * Decides what an error means. `nowMs` is the clock's time, used to turn an HTTP-date
 * `Retry-After` into a delay.
 */
export type ErrorClassifier = (error: unknown, nowMs: number) => ErrorClassification;

/** Base class of every error this library throws; `code` is stable and machine-readable. */
export class ConcurrencyError extends Error {
  /** Stable machine code, e.g. `TIMEOUT`, `CIRCUIT_OPEN`. */
  readonly code: string;
  /** Classification the default classifier gives this error. */
  readonly kind: ErrorKind;

  constructor(code: string, kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.kind = kind;
    this.name = new.target.name;
  }
}

/** A call (one attempt) ran longer than its timeout; the call's signal was aborted. */
export class TimeoutError extends ConcurrencyError {
  constructor(readonly timeoutMs: number) {
    super('TIMEOUT', 'timeout', `call timed out after ${timeoutMs} ms`);
  }
}

/** The circuit breaker is open (or half-open with all probes busy); the call did not run. */
export class BrokenCircuitError extends ConcurrencyError {
  /**
   * @param retryAfterMs time until the breaker lets a probe through (0 when it is half-open).
   */
  constructor(
    readonly breakerName: string,
    readonly retryAfterMs: number,
  ) {
    super('CIRCUIT_OPEN', 'circuit-open', `circuit breaker "${breakerName}" is open`);
  }
}

/** The retry budget is spent: the call failed and was not retried to protect the upstream. */
export class RetryBudgetExceededError extends ConcurrencyError {
  constructor(cause: unknown) {
    super('RETRY_BUDGET_EXCEEDED', 'transient', 'retry budget exceeded; not retried', { cause });
  }
}

/**
 * The work was cancelled before it finished: the batch's signal aborted, `cancel()` was called,
 * or the consumer stopped iterating. `cause` holds the abort reason when there was one.
 */
export class CancelledError extends ConcurrencyError {
  constructor(message = 'cancelled', options?: { cause?: unknown }) {
    super('CANCELLED', 'cancelled', message, options);
  }
}

/** The whole batch ran past its deadline (`deadlineMs`); unfinished items end with this error. */
export class DeadlineExceededError extends CancelledError {
  override readonly code = 'DEADLINE_EXCEEDED';

  constructor(readonly deadlineMs: number) {
    super(`batch deadline of ${deadlineMs} ms exceeded`);
  }
}

/** Throw from an adapter to mark a failure as worth retrying. */
export class TransientError extends ConcurrencyError {
  constructor(message = 'transient failure', options?: { cause?: unknown }) {
    super('TRANSIENT', 'transient', message, options);
  }
}

/** The server rate-limited the call (HTTP 429). `retryAfterMs` is the delay it asked for. */
export class RateLimitedError extends ConcurrencyError {
  constructor(
    readonly retryAfterMs?: number,
    message = 'rate limited by the server',
    options?: { cause?: unknown },
  ) {
    super('RATE_LIMITED', 'rate-limited', message, options);
  }
}

/** Throw from an adapter for failures that will not go away by retrying (bad input, 404). */
export class PermanentError extends ConcurrencyError {
  constructor(message = 'permanent failure', options?: { cause?: unknown }) {
    super('PERMANENT', 'permanent', message, options);
  }
}

/** The credential was rejected (revoked, unknown, expired). A token pool retires it. */
export class AuthError extends ConcurrencyError {
  constructor(message = 'credential rejected', options?: { cause?: unknown }) {
    super('AUTH', 'auth', message, options);
  }
}

/** The credential's quota is used up. A token pool marks it exhausted. */
export class QuotaExhaustedError extends ConcurrencyError {
  constructor(message = 'credential quota exhausted', options?: { cause?: unknown }) {
    super('QUOTA_EXHAUSTED', 'quota', message, options);
  }
}

/** A token pool has no credential left that could ever serve a lease (all retired/exhausted). */
export class NoCredentialAvailableError extends ConcurrencyError {
  constructor(poolName: string) {
    super('NO_CREDENTIAL', 'permanent', `token pool "${poolName}" has no usable credential`);
  }
}

/** A bounded waiting queue (rate limiter, token pool) is full: the request was shed. */
export class QueueFullError extends ConcurrencyError {
  constructor(what: string, maxQueued: number) {
    super('QUEUE_FULL', 'rate-limited', `${what}: more than ${maxQueued} waiting`);
  }
}

const TRANSIENT_NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENOBUFS',
  'EADDRNOTAVAIL',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
]);
const TIMEOUT_NET_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_HTTP2_STREAM_CANCEL',
]);
const PERMANENT_NET_CODES = new Set([
  'ENOTFOUND',
  'ERR_INVALID_URL',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_INVALID_RETURN_VALUE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const TRANSIENT: ErrorClassification = { kind: 'transient' };
const TIMEOUT: ErrorClassification = { kind: 'timeout' };
const PERMANENT: ErrorClassification = { kind: 'permanent' };
const AUTH: ErrorClassification = { kind: 'auth' };
const QUOTA: ErrorClassification = { kind: 'quota' };
const CANCELLED: ErrorClassification = { kind: 'cancelled' };
const CIRCUIT_OPEN: ErrorClassification = { kind: 'circuit-open' };
const RATE_LIMITED: ErrorClassification = { kind: 'rate-limited' };

/**
 * Parses an HTTP `Retry-After` value: delta-seconds (`"120"`, also fractional) or an HTTP-date
 * (`"Wed, 21 Oct 2015 07:28:00 GMT"`). Returns milliseconds from `nowMs` (never negative), or
 * `undefined` for a missing or malformed value.
 */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  // HTTP-date (IMF-fixdate, RFC 850 or asctime) always names the day: reject bare numbers.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function readHeader(headers: unknown, name: string): unknown {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as { get?: unknown } & Record<string, unknown>;
  if (typeof h.get === 'function') {
    // WHATWG Headers / Map-like
    const got = (h.get as (key: string) => unknown).call(headers, name);
    if (got !== undefined && got !== null) return got;
  }
  if (name in h) return h[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(h)) if (key.toLowerCase() === lower) return h[key];
  return undefined;
}

function statusOf(e: Record<string, unknown>): number | undefined {
  const candidates = [e.status, e.statusCode];
  const response = e.response as Record<string, unknown> | undefined;
  if (response && typeof response === 'object')
    candidates.push(response.status, response.statusCode);
  for (const c of candidates) {
    const n = typeof c === 'string' ? Number(c) : c;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599) return n;
  }
  return undefined;
}

function retryAfterOf(e: Record<string, unknown>, nowMs: number): number | undefined {
  if (typeof e.retryAfterMs === 'number' && e.retryAfterMs >= 0) return e.retryAfterMs;
  const response = e.response as Record<string, unknown> | undefined;
  const raw =
    readHeader(e.headers, 'retry-after') ??
    (response && typeof response === 'object'
      ? readHeader(response.headers, 'retry-after')
      : undefined) ??
    e.retryAfter;
  return parseRetryAfter(raw, nowMs);
}

/** Classification of an HTTP status code (no `Retry-After` known). */
export function classifyHttpStatus(status: number): ErrorKind | undefined {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate-limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 402) return 'quota';
  if (status === 501 || status === 505) return 'permanent';
  if (status >= 500) return 'transient';
  if (status >= 400) return 'permanent';
  return undefined;
}

/**
 * The default {@link ErrorClassifier}:
 * - this library's errors carry their own kind (`TimeoutError` → `timeout`, …);
 * - `AbortError` → `cancelled`; a DOM `TimeoutError` (`AbortSignal.timeout`) → `timeout`;
 * - objects with an HTTP `status`/`statusCode` (also under `response`): 408 → `timeout`,
 *   429 → `rate-limited`, 401/403 → `auth`, 402 → `quota`, 503 with `Retry-After` →
 *   `rate-limited`, other 5xx → `transient` (501/505 → `permanent`), other 4xx → `permanent`;
 *   the `Retry-After` header (seconds or HTTP-date, in `headers` or `response.headers`, plain
 *   object or `Headers`) or a `retryAfterMs` property gives `retryAfterMs`;
 * - Node/undici network codes: ECONNRESET, ECONNREFUSED, EPIPE, EAI_AGAIN, … → `transient`;
 *   ETIMEDOUT, UND_ERR_*_TIMEOUT → `timeout`; ENOTFOUND, invalid arguments → `permanent`;
 *   other `UND_ERR_*` → `transient`; `UND_ERR_ABORTED` → `cancelled`;
 * - otherwise the error's `cause` is classified (fetch wraps network errors that way);
 * - anything else → `transient`.
 */
export const classifyError: ErrorClassifier = (error, nowMs) => classifyAt(error, nowMs, 0);

function classifyAt(error: unknown, nowMs: number, depth: number): ErrorClassification {
  if (error instanceof ConcurrencyError) {
    if (error instanceof RetryBudgetExceededError && depth < 4)
      return classifyAt(error.cause, nowMs, depth + 1);
    if (error instanceof RateLimitedError) {
      return error.retryAfterMs === undefined
        ? RATE_LIMITED
        : { kind: 'rate-limited', retryAfterMs: error.retryAfterMs };
    }
    switch (error.kind) {
      case 'transient':
        return TRANSIENT;
      case 'timeout':
        return TIMEOUT;
      case 'permanent':
        return PERMANENT;
      case 'auth':
        return AUTH;
      case 'quota':
        return QUOTA;
      case 'cancelled':
        return CANCELLED;
      case 'circuit-open':
        return CIRCUIT_OPEN;
      case 'rate-limited':
        return RATE_LIMITED;
    }
  }
  if (error === null || typeof error !== 'object') return TRANSIENT;
  const e = error as Record<string, unknown>;
  const name = e.name;
  if (name === 'AbortError') return CANCELLED;
  if (name === 'TimeoutError') return TIMEOUT;

  const status = statusOf(e);
  if (status !== undefined) {
    const kind = classifyHttpStatus(status);
    if (kind !== undefined) {
      const retryAfterMs =
        kind === 'rate-limited' || status === 503 ? retryAfterOf(e, nowMs) : undefined;
      if (status === 503 && retryAfterMs !== undefined)
        return { kind: 'rate-limited', retryAfterMs };
      if (kind === 'rate-limited')
        return retryAfterMs === undefined ? RATE_LIMITED : { kind, retryAfterMs };
      return { kind };
    }
  }

  const code = e.code;
  if (typeof code === 'string') {
    if (TIMEOUT_NET_CODES.has(code)) return TIMEOUT;
    if (TRANSIENT_NET_CODES.has(code)) return TRANSIENT;
    if (PERMANENT_NET_CODES.has(code)) return PERMANENT;
    if (code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return CANCELLED;
    if (code.startsWith('UND_ERR_')) return TRANSIENT;
  }
  if (e.cause !== undefined && e.cause !== error && depth < 4)
    return classifyAt(e.cause, nowMs, depth + 1);
  return TRANSIENT;
}
