import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AuthError,
  BrokenCircuitError,
  CancelledError,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  ConcurrencyError,
  classifyError,
  classifyHttpStatus,
  type ErrorClassification,
  parseRetryAfter,
  PermanentError,
  QuotaExhaustedError,
  RateLimitedError,
  sleep,
  systemClock,
  TimeoutError,
  TransientError,
} from '@batchgate/concurrency';
import { Counter, Histogram, type Registry } from 'prom-client';
import { Pool, type Dispatcher } from 'undici';
import { currentRequestContext } from '../context';
import { prometheusConcurrencyListener } from '../observability';

const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Options of {@link UpstreamClient}. */
export interface UpstreamClientOptions {
  /** The outside system (`itick`, `marketplace`): metrics label, breaker name, error messages. */
  name: string;
  /** Scheme, host, port and an optional path prefix; from the service's configuration. */
  baseUrl: string;
  /** Longest time one request may take, headers and body; its request is aborted then. */
  timeoutMs: number;
  /** Keep-alive connections to the upstream (default 128). */
  connections?: number;
  /**
   * Largest response body read (default 8 MiB): a bigger one is aborted as it arrives and fails
   * the call as permanent (repeating it would read as much again), instead of filling the memory.
   */
  maxResponseBytes?: number;
  /** The upstream's circuit breaker (defaults: open after 5 failures in a row, probe after 2 s). */
  breaker?: Pick<CircuitBreakerOptions, 'consecutiveFailures' | 'failureRate' | 'recoveryTimeMs' | 'halfOpenProbes'>;
  /** Headers of every request (e.g. `user-agent`). */
  headers?: Record<string, string>;
  /** Where the RED metrics go; none without one. */
  registry?: Registry;
}

/** One request of an {@link UpstreamClient}. */
export interface UpstreamRequest {
  /** What the request does, as the metrics label it (`kline`, `invoke-tool`): a fixed, small set. */
  operation: string;
  method?: Dispatcher.HttpMethod;
  /** Path under the base URL. */
  path: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /** Sent as `application/json`. */
  json?: unknown;
  /**
   * Sent as `Idempotency-Key`: give every call with a side effect (publish, de-list, notify) a key
   * derived from the item it is for, so a retry or a redelivery after a crash is not a second effect.
   */
  idempotencyKey?: string;
  /** Shorter timeout for this request than the client's. */
  timeoutMs?: number;
  /** The caller's cancellation (a job's item signal); the request context's signal applies as well. */
  signal?: AbortSignal;
}

/** A 2xx answer, or (on an error's `response`) the answer that became the error. */
export interface UpstreamResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the upstream said `application/json`, otherwise the text. */
  body: T;
}

/** Options of {@link UpstreamClient.run}. */
export interface UpstreamRunOptions {
  signal?: AbortSignal;
  /**
   * While the upstream is down (its breaker open, or it said `503` + `Retry-After`), wait for it
   * instead of failing — for durable work that should finish later rather than fail. A call that
   * failed because the upstream went down is run again once it is back. Gives up (rethrowing the
   * last error) after this many milliseconds of waiting in total; the signal stops the wait.
   */
  waitWhileDownMs?: number;
  /**
   * Ends a wait for the upstream (rethrowing the outage's error) without aborting work in flight:
   * a worker's shutdown hands its item back instead of waiting out an outage.
   */
  stopWaiting?: AbortSignal;
}

/** What ends a {@link UpstreamClient.run} wait: the caller's signal, or `stopWaiting`. */
function waitSignal({ signal, stopWaiting }: UpstreamRunOptions): AbortSignal | undefined {
  // Only while an outage is waited out, so the combined signal is rare.
  return signal && stopWaiting ? AbortSignal.any([signal, stopWaiting]) : (signal ?? stopWaiting);
}

/** The answer an upstream error came from (status, headers, body), when there was one. */
export function upstreamResponseOf(error: unknown): UpstreamResponse | undefined {
  return error instanceof ConcurrencyError ? (error as { response?: UpstreamResponse }).response : undefined;
}

/** Metric label of a request that got no answer. */
type NoAnswer = 'timeout' | 'network' | 'cancelled';

const DEFAULT_BREAKER = { consecutiveFailures: 5, recoveryTimeMs: 2_000 };
/** Spread of the waits of callers held by an open breaker, so they do not all come back at once. */
const WAIT_JITTER_MS = 100;
/** Shortest wait of a caller held while a probe runs. */
const MIN_WAIT_MS = 50;

/**
 * An outside system over HTTP: the one way services call them (see the module head, `index.ts`).
 *
 * One undici `Pool` of keep-alive connections per upstream (undici's `request` rather than the
 * global `fetch`: at a few hundred calls per second the WHATWG wrapping of `fetch` was a sizeable
 * share of a replica's CPU).
 */
export class UpstreamClient {
  readonly name: string;
  /** Stops calls while the upstream fails; also opened by a `503` + `Retry-After`. */
  readonly breaker: CircuitBreaker;
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly metrics: UpstreamMetrics | undefined;
  /** Epoch ms before which the upstream asked not to be called (`503` + `Retry-After`). */
  private unavailableUntil = 0;
  private breakerOpenedAt = 0;
  private readonly recoveryTimeMs: number;
  /** Set inside {@link run}: the state of the breaker when it admitted the work. */
  private readonly admission = new AsyncLocalStorage<{ admittedIn: CircuitState }>();

  constructor(options: UpstreamClientOptions) {
    this.name = options.name;
    const base = new URL(options.baseUrl);
    this.pool = new Pool(base.origin, {
      connections: options.connections ?? 128,
      keepAliveTimeout: 30_000,
      maxResponseSize: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    });
    this.pathPrefix = base.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
    this.headers = options.headers ?? {};
    this.metrics = options.registry ? upstreamMetrics(options.registry) : undefined;
    const breaker = { ...DEFAULT_BREAKER, ...options.breaker };
    this.recoveryTimeMs = breaker.recoveryTimeMs;
    this.breaker = new CircuitBreaker({
      ...breaker,
      name: `${options.name}-upstream`,
      isFailure: (error, classification) => isUpstreamFailure(error, classification),
      ...(options.registry ? { metrics: prometheusConcurrencyListener(options.registry) } : {}),
    });
    this.breaker.onStateChange(({ to, at }) => {
      if (to === 'open') this.breakerOpenedAt = at;
    });
  }

  /**
   * Makes one request. A 2xx answer is returned; anything else is thrown as the engine's error
   * class, with the answer on `response` ({@link upstreamResponseOf}):
   * 429 → `RateLimitedError` (its `Retry-After`), 503 with `Retry-After` → `RateLimitedError`
   * (and the whole upstream is paused until then), other 5xx and network errors →
   * `TransientError`, 401/403 → `AuthError`, 402 → `QuotaExhaustedError`, our timeout and 408 →
   * `TimeoutError`, other 4xx and 3xx → `PermanentError`; the caller's cancellation rethrows its
   * reason. Outside {@link run} the request goes through the upstream's circuit breaker itself.
   */
  request<T = unknown>(request: UpstreamRequest): Promise<UpstreamResponse<T>> {
    const admission = this.admission.getStore();
    if (!admission) return this.admit(() => this.send<T>(request));
    // Admitted before the upstream went down (the work waited for a credential or a slot): not
    // sent now, the caller's run waits for the upstream instead. A probe is sent.
    if (admission.admittedIn === 'closed' && !this.available()) return Promise.reject(this.downError());
    return this.send<T>(request);
  }

  /**
   * Runs `fn`, work that makes requests of this upstream (lease a credential, wait for its rate
   * slot, then {@link request}), under the upstream's circuit breaker: while it is open the work
   * is refused (`BrokenCircuitError`) before it spends a credential, a quota unit or a slot.
   * With `waitWhileDownMs` it waits for the upstream instead.
   */
  async run<R>(fn: () => Promise<R>, options: UpstreamRunOptions = {}): Promise<R> {
    let waitedMs = 0;
    for (;;) {
      try {
        return await this.admit(fn);
      } catch (error) {
        const waitMs = this.waitFor(error);
        if (options.waitWhileDownMs === undefined || waitMs === undefined || waitedMs + waitMs > options.waitWhileDownMs) throw error;
        if (options.stopWaiting?.aborted) throw error;
        const jitteredMs = waitMs + Math.random() * WAIT_JITTER_MS;
        await sleep(jitteredMs, { signal: waitSignal(options) }).catch((reason: unknown) => {
          throw options.stopWaiting?.aborted ? error : reason;
        });
        waitedMs += jitteredMs;
      }
    }
  }

  /** Closes the connections (after the calls in flight). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private admit<R>(fn: () => Promise<R>): Promise<R> {
    if (Date.now() < this.unavailableUntil) return Promise.reject(this.downError());
    const admittedIn = this.breaker.state;
    return this.breaker.execute(() => this.admission.run({ admittedIn }, fn));
  }

  private available(): boolean {
    return Date.now() >= this.unavailableUntil && this.breaker.state === 'closed';
  }

  private downError(): BrokenCircuitError {
    const heldMs = Math.max(0, this.unavailableUntil - Date.now());
    if (heldMs > 0) return new BrokenCircuitError(this.breaker.name, heldMs);
    // Open: until its first probe; half-open: a probe is running, ask again shortly.
    const state = this.breaker.state;
    return new BrokenCircuitError(this.breaker.name, state === 'open' ? this.timeUntilProbe() : 0);
  }

  /** Time until the open breaker lets a probe through. */
  private timeUntilProbe(): number {
    return Math.max(0, this.breakerOpenedAt + this.recoveryTimeMs - systemClock.now());
  }

  /**
   * How long a caller of {@link run} waits before trying again after `error`: refused by this
   * upstream's breaker or pause, or failed as the upstream went down. Undefined: not an outage.
   */
  private waitFor(error: unknown): number | undefined {
    if (error instanceof BrokenCircuitError && error.breakerName === this.breaker.name) return Math.max(MIN_WAIT_MS, error.retryAfterMs);
    if (this.available() || !isUpstreamFailure(error, classifyError(error, Date.now()))) return undefined;
    return Math.max(MIN_WAIT_MS, this.downError().retryAfterMs);
  }

  private async send<T>(request: UpstreamRequest): Promise<UpstreamResponse<T>> {
    const context = currentRequestContext();
    const deadlineLeftMs = context?.deadline === undefined ? Number.POSITIVE_INFINITY : context.deadline - Date.now();
    const timeoutMs = Math.min(request.timeoutMs ?? this.timeoutMs, deadlineLeftMs);
    const callerSignals = [request.signal, context?.signal].filter((s): s is AbortSignal => s !== undefined);
    const startedAt = performance.now();
    const observe = (status: number | NoAnswer, outcome: string) =>
      this.metrics?.observe(this.name, request.operation, String(status), outcome, (performance.now() - startedAt) / 1000);

    const cancelled = callerSignals.find((s) => s.aborted);
    if (cancelled || timeoutMs <= 0) {
      observe('cancelled', 'cancelled');
      throw cancelled ? cancelled.reason : new CancelledError(`${this.name}: the caller's deadline has passed`);
    }
    const controller = new AbortController();
    const abort = (reason: unknown) => controller.abort(reason);
    // Made when the timer fires, not per request: an error captures its stack when it is made.
    let timeout: TimeoutError | undefined;
    const timer = setTimeout(() => abort((timeout = new TimeoutError(timeoutMs))), timeoutMs);
    const onCallerAbort = function (this: AbortSignal) {
      abort(this.reason);
    };
    for (const signal of callerSignals) signal.addEventListener('abort', onCallerAbort, { once: true });
    let answer: UpstreamResponse<T>;
    try {
      const { statusCode, headers, body } = await this.pool.request({
        method: request.method ?? 'GET',
        path: this.pathOf(request),
        headers: this.headersOf(request),
        body: request.json === undefined ? null : JSON.stringify(request.json),
        signal: controller.signal,
      });
      // Read every body, even of an error, so the connection goes back to the pool.
      const text = await body.text();
      answer = { status: statusCode, headers, body: parseBody(headers, text, statusCode) as T };
    } catch (error) {
      if (controller.signal.aborted) {
        const reason: unknown = controller.signal.reason;
        observe(reason === timeout ? 'timeout' : 'cancelled', reason === timeout ? 'timeout' : 'cancelled');
        throw reason;
      }
      const failure = networkError(this.name, error);
      observe('network', failure.kind);
      throw failure;
    } finally {
      clearTimeout(timer);
      for (const signal of callerSignals) signal.removeEventListener('abort', onCallerAbort);
    }
    const error = this.errorOf(answer, timeoutMs);
    observe(answer.status, error?.kind ?? 'success');
    if (error) throw error;
    return answer;
  }

  private pathOf(request: UpstreamRequest): string {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) query.set(key, String(value));
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return `${this.pathPrefix}${request.path.startsWith('/') ? '' : '/'}${request.path}${search}`;
  }

  private headersOf(request: UpstreamRequest): Record<string, string> {
    return {
      accept: 'application/json',
      ...this.headers,
      ...(request.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(request.idempotencyKey === undefined ? {} : { 'idempotency-key': request.idempotencyKey }),
      ...request.headers,
    };
  }

  /** The engine error of a non-2xx answer (undefined for 2xx); a 503 + `Retry-After` pauses the upstream. */
  private errorOf(answer: UpstreamResponse, timeoutMs: number): ConcurrencyError | undefined {
    const { status } = answer;
    if (status >= 200 && status < 300) return undefined;
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], Date.now());
    const message = `${this.name}: HTTP ${status}`;
    let error: ConcurrencyError;
    if (status === 503 && retryAfterMs !== undefined) {
      this.unavailableUntil = Math.max(this.unavailableUntil, Date.now() + retryAfterMs);
      if (this.breaker.state !== 'open') this.breaker.open();
      error = new RateLimitedError(retryAfterMs, `${message} (unavailable for ${Math.ceil(retryAfterMs / 1000)} s)`);
    } else {
      switch (classifyHttpStatus(status)) {
        case 'rate-limited':
          error = new RateLimitedError(retryAfterMs, message);
          break;
        case 'timeout':
          error = new TimeoutError(timeoutMs);
          break;
        case 'auth':
          error = new AuthError(message);
          break;
        case 'quota':
          error = new QuotaExhaustedError(message);
          break;
        case 'transient':
          error = new TransientError(message);
          break;
        default:
          error = new PermanentError(status < 400 ? `${message} (unexpected)` : message);
      }
    }
    return Object.assign(error, { response: answer });
  }
}

/** What counts against the upstream in its breaker: no answer, a timeout, or a 5xx (with or without `Retry-After`). */
function isUpstreamFailure(error: unknown, classification: ErrorClassification): boolean {
  if (classification.kind === 'transient' || classification.kind === 'timeout') return true;
  return (upstreamResponseOf(error)?.status ?? 0) >= 500;
}

function networkError(upstream: string, error: unknown): ConcurrencyError {
  const message = `${upstream}: request failed: ${(error as Error).message}`;
  const tooLarge = (error as { code?: string }).code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
  return tooLarge || classifyError(error, Date.now()).kind === 'permanent'
    ? new PermanentError(message, { cause: error })
    : new TransientError(message, { cause: error });
}

function parseBody(headers: UpstreamResponse['headers'], text: string, status: number): unknown {
  const type = headers['content-type'];
  if (!String(type ?? '').includes('json')) return text;
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch (error) {
    // A success that claims JSON and is not: a broken answer, worth another try.
    if (status >= 200 && status < 300) throw new TransientError(`malformed JSON answer (HTTP ${status})`, { cause: error });
    return text;
  }
}

interface UpstreamMetrics {
  observe: (upstream: string, operation: string, status: string, outcome: string, seconds: number) => void;
}

const metricsByRegistry = new WeakMap<Registry, UpstreamMetrics>();

/**
 * RED metrics of outside calls, one set per registry shared by every upstream of the process:
 * `upstream_requests_total` and `upstream_request_duration_seconds`, labelled by upstream,
 * operation, HTTP status (or `timeout` / `network` / `cancelled`) and outcome (`success` or the
 * engine's error kind). The breaker is `concurrency_breaker_state{name="<upstream>-upstream"}`.
 */
function upstreamMetrics(registry: Registry): UpstreamMetrics {
  const existing = metricsByRegistry.get(registry);
  if (existing) return existing;
  const labelNames = ['upstream', 'operation', 'status', 'outcome'] as const;
  const requests = new Counter({ name: 'upstream_requests_total', help: 'Requests to outside systems, by answer', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Duration of requests to outside systems, by answer',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const metrics: UpstreamMetrics = {
    observe: (upstream, operation, status, outcome, seconds) => {
      const labels = { upstream, operation, status, outcome };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
  metricsByRegistry.set(registry, metrics);
  return metrics;
}
