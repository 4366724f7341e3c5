import { type Clock, type TimerHandle, systemClock } from './clock';
import { type CallContext, OwnScope, Scope } from './context';
import { QueueFullError } from './errors';
import { Deque } from './internal/deque';
import { nowOf } from './internal/dispatch';
import { RateGate } from './internal/rate-gate';
import { type ConcurrencyMetricsListener, emitMetric } from './metrics';
import { BasePolicy, type Call, type Policy } from './policy';

/** Options of {@link RateLimiter} and {@link KeyedRateLimiter}. */
export interface RateLimiterOptions {
  /** Permits per `intervalMs` (e.g. 50). */
  limit: number;
  /** Window length in ms (e.g. 1 000). */
  intervalMs: number;
  /**
   * Permits that may be taken at once (default `limit`). Lower it to spread calls evenly:
   * `burst: 1` grants one permit every `intervalMs / limit`.
   */
  burst?: number;
  /** Waiters allowed in the queue; beyond it `acquire` rejects with {@link QueueFullError} (default unbounded). */
  maxQueued?: number;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
  /** Label for metrics (default `rate-limiter`). */
  name?: string;
  /** Receives the `queued` gauge (waiters). */
  metrics?: ConcurrencyMetricsListener;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  watcher: OwnScope | undefined;
  done: boolean;
}

const RESOLVED = Promise.resolve();

/**
 * Token-bucket rate limiter with a strict window guarantee: never more than `limit` permits in
 * any window of `intervalMs` (a sliding log backs the bucket), and at most `burst` at once.
 * Waiters are served strictly first-come first-served; an aborted waiter leaves the queue at once.
 *
 * As a {@link Policy} it takes one permit per call (put it inside `retry` so each attempt pays).
 *
 * ```ts
 * const limiter = new RateLimiter({ limit: 50, intervalMs: 250 });
 * await limiter.acquire(signal);            // wait for a permit
 * await limiter.execute(({ signal }) => api.call({ signal })); // or run a call under it
 * ```
 */
export class RateLimiter extends BasePolicy {
  private readonly gate: RateGate;
  private readonly waiters = new Deque<Waiter>();
  private live = 0;
  private readonly clock: Clock;
  private readonly maxQueued: number;
  private readonly name: string;
  private readonly metrics: ConcurrencyMetricsListener | undefined;
  private timer: TimerHandle | undefined = undefined;
  private timerAt = 0;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.serve();
  };

  constructor(options: RateLimiterOptions) {
    super();
    this.gate = new RateGate(options.limit, options.intervalMs, options.burst ?? options.limit);
    this.clock = options.clock ?? systemClock;
    this.maxQueued = options.maxQueued ?? Infinity;
    if (!(this.maxQueued >= 0)) throw new RangeError('maxQueued must be ≥ 0');
    this.name = options.name ?? 'rate-limiter';
    this.metrics = options.metrics;
  }

  /** Permits per window. */
  get limit(): number {
    return this.gate.limit;
  }

  /** Window length in ms. */
  get intervalMs(): number {
    return this.gate.intervalMs;
  }

  /** Callers waiting for a permit. */
  get queued(): number {
    return this.live;
  }

  /** Takes a permit if one is free now and nobody is waiting (never queues). */
  tryAcquire(): boolean {
    return this.live === 0 && this.gate.tryTake(this.clock.now());
  }

  /**
   * Resolves when a permit is granted (first come, first served). Rejects with the signal's reason
   * if `signal` aborts first (the place in the queue is given up), or with {@link QueueFullError}.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    if (!signal) return this.acquireIn(undefined);
    const root = Scope.root(signal);
    return this.acquireIn(root).finally(() => root.dispose());
  }

  /** True when the limiter holds no state any more (used by the keyed limiter to evict). @internal */
  isIdle(now: number): boolean {
    return this.live === 0 && this.gate.idleAt(now);
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    const scope = Scope.from(ctx);
    if (this.live === 0 && !scope.aborted && this.gate.tryTake(nowOf(this.clock))) {
      try {
        return Promise.resolve(fn(scope)) as Promise<Awaited<R>>;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.acquireIn(scope).then(() => fn(scope)) as Promise<Awaited<R>>;
  }

  private acquireIn(scope: Scope | undefined): Promise<void> {
    if (scope?.aborted) return Promise.reject(scope.reason);
    const now = this.clock.now();
    if (this.live === 0 && this.gate.tryTake(now)) return RESOLVED;
    if (this.live >= this.maxQueued) return Promise.reject(new QueueFullError(this.name, this.maxQueued));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, watcher: undefined, done: false };
      if (scope) {
        const watcher = new OwnScope(scope, false);
        waiter.watcher = watcher;
        watcher.onAbort = (reason) => {
          if (waiter.done) return;
          waiter.done = true;
          watcher.dispose();
          this.live--;
          this.reportQueue();
          reject(reason);
          this.serve();
        };
      }
      this.waiters.push(waiter);
      this.live++;
      this.reportQueue();
      this.serve();
    });
  }

  /** Grants permits to waiters at the head while the gate allows, then arms the timer. */
  private serve(): void {
    const now = this.clock.now();
    let granted = false;
    for (;;) {
      const head = this.waiters.peek();
      if (!head) break;
      if (head.done) {
        this.waiters.shift();
        continue;
      }
      if (!this.gate.tryTake(now)) break;
      this.waiters.shift();
      head.done = true;
      head.watcher?.dispose();
      this.live--;
      granted = true;
      head.resolve();
    }
    if (granted) this.reportQueue();
    if (this.live === 0) {
      if (this.timer !== undefined) {
        this.clock.clearTimeout(this.timer);
        this.timer = undefined;
      }
      return;
    }
    const at = this.gate.availableAt(now);
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.onTimer, at - now);
  }

  private reportQueue(): void {
    if (this.metrics) emitMetric(this.metrics, 'queued', { name: this.name, value: this.live });
  }
}

/** Options of {@link KeyedRateLimiter}: one limit applied per key. */
export type KeyedRateLimiterOptions = RateLimiterOptions;

/**
 * One {@link RateLimiter} per key (per API token, per user, per host), created on first use and
 * dropped again once idle, so memory follows the active keys.
 *
 * ```ts
 * const perUser = new KeyedRateLimiter<string>({ limit: 30, intervalMs: 60_000 });
 * if (!perUser.tryAcquire(userId)) throw new TooManyRequests();
 * await perUser.forKey(tokenId).execute(({ signal }) => api.call(token, { signal }));
 * ```
 */
export class KeyedRateLimiter<K = string> {
  private readonly limiters = new Map<K, RateLimiter>();
  private readonly clock: Clock;
  private lastSweep = -Infinity;

  constructor(private readonly options: KeyedRateLimiterOptions) {
    // Validate eagerly, not on the first key.
    new RateGate(options.limit, options.intervalMs, options.burst ?? options.limit);
    this.clock = options.clock ?? systemClock;
  }

  /** Number of keys currently tracked. */
  get size(): number {
    return this.limiters.size;
  }

  /** See {@link RateLimiter.tryAcquire}. */
  tryAcquire(key: K): boolean {
    return this.get(key).tryAcquire();
  }

  /** See {@link RateLimiter.acquire}. */
  acquire(key: K, signal?: AbortSignal): Promise<void> {
    return this.get(key).acquire(signal);
  }

  /** Runs `fn` under the key's limit. */
  execute<R>(key: K, fn: Call<R>, signal?: AbortSignal): Promise<Awaited<R>> {
    return this.get(key).execute(fn, signal);
  }

  /** The key's limiter as a {@link Policy}, for `composePolicies`. */
  forKey(key: K): Policy {
    return new KeyPolicy(this, key);
  }

  /** @internal */
  get(key: K): RateLimiter {
    this.sweep();
    let limiter = this.limiters.get(key);
    if (!limiter) {
      limiter = new RateLimiter(this.options);
      this.limiters.set(key, limiter);
    }
    return limiter;
  }

  private sweep(): void {
    const now = this.clock.now();
    if (now - this.lastSweep < this.options.intervalMs) return;
    this.lastSweep = now;
    for (const [key, limiter] of this.limiters) if (limiter.isIdle(now)) this.limiters.delete(key);
  }
}

class KeyPolicy<K> extends BasePolicy {
  constructor(
    private readonly keyed: KeyedRateLimiter<K>,
    private readonly key: K,
  ) {
    super();
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    return this.keyed.get(this.key)._run(fn, ctx);
  }
}
