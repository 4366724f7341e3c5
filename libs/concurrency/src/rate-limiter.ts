import { type Clock, type TimerHandle, systemClock } from './clock';
import { type CallContext, Scope } from './context';
import { QueueFullError } from './errors';
import { WaitQueue } from './internal/wait-queue';
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
  /**
   * Extra time before a permit is reused (default 1 % of `intervalMs`, at most 10 ms), a safety
   * margin for the delay between our start of a call and the moment the upstream counts it.
   */
  marginMs?: number;
  /** Waiters allowed in the queue; beyond it `acquire` rejects with {@link QueueFullError} (default unbounded). */
  maxQueued?: number;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
  /** Label for metrics (default `rate-limiter`). */
  name?: string;
  /** Receives the `queued` gauge (waiters). */
  metrics?: ConcurrencyMetricsListener;
}

/**
 * Token-bucket rate limiter with a strict window guarantee: never more than `limit` calls in any
 * window of `intervalMs` (a sliding log of the last `limit` grants backs the bucket), and at most
 * `burst` at once. Waiters are served strictly first-come first-served; an aborted waiter leaves
 * the queue at once.
 *
 * As a {@link Policy} (or through {@link execute}) it takes one permit per call and starts the
 * call synchronously with its grant, in grant order, and a permit is reused only `intervalMs +
 * marginMs` after its call actually started — so the guarantee holds for the moments calls start,
 * not just for grants. Put it inside `retry` so each attempt pays.
 *
 * ```ts
 * const limiter = new RateLimiter({ limit: 50, intervalMs: 250 });
 * await limiter.acquire(signal);            // wait for a permit
 * await limiter.execute(({ signal }) => api.call({ signal })); // or run a call under it
 * ```
 */
export class RateLimiter extends BasePolicy {
  private readonly gate: RateGate;
  private readonly waiters = new WaitQueue<number>(() => {
    this.reportQueue();
    this.serve();
  });
  private readonly clock: Clock;
  private readonly maxQueued: number;
  private readonly name: string;
  private readonly metrics: ConcurrencyMetricsListener | undefined;
  private timer: TimerHandle | undefined = undefined;
  private timerAt = 0;
  private serving = false;
  private serveAgain = false;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.serve();
  };

  constructor(options: RateLimiterOptions) {
    super();
    this.gate = new RateGate(
      options.limit,
      options.intervalMs,
      options.burst ?? options.limit,
      options.marginMs,
    );
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
    return this.waiters.size;
  }

  /** Takes a permit if one is free now and nobody is waiting (never queues). */
  tryAcquire(): boolean {
    return this.waiters.size === 0 && this.gate.tryTake(this.clock.now()) >= 0;
  }

  /**
   * Resolves when a permit is granted (first come, first served). Rejects with the signal's reason
   * if `signal` aborts first (the place in the queue is given up), or with {@link QueueFullError}.
   * The window guarantee applies to grant times here; run the call through {@link execute} (or
   * as a policy) to have it apply to the moments calls actually start.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    const root = signal ? Scope.root(signal) : undefined;
    return new Promise<void>((resolve, reject) => {
      this.wait(
        root,
        () => {
          root?.dispose();
          resolve();
        },
        (error) => {
          root?.dispose();
          reject(error);
        },
      );
    });
  }

  /** True when the limiter holds no state any more (used by the keyed limiter to evict). @internal */
  isIdle(now: number): boolean {
    return this.waiters.size === 0 && this.gate.idleAt(now);
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    const scope = Scope.from(ctx);
    if (this.waiters.size === 0 && !scope.aborted && this.gate.tryTake(nowOf(this.clock)) >= 0) {
      try {
        return Promise.resolve(fn(scope)) as Promise<Awaited<R>>;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<Awaited<R>>((resolve, reject) => {
      this.wait(
        scope,
        (ticket) => {
          // Started right here, synchronously with its grant, so calls start in grant order; the
          // grant is moved to the actual start in case earlier calls of this round took time.
          this.gate.started(ticket, this.clock.now());
          try {
            resolve(fn(scope) as Awaited<R>);
          } catch (error) {
            reject(error);
          }
        },
        reject,
      );
    });
  }

  /** Queues a waiter (or grants at once); `onGrant` runs synchronously with the grant. */
  private wait(
    scope: Scope | undefined,
    onGrant: (ticket: number) => void,
    onReject: (reason: unknown) => void,
  ): void {
    if (scope?.aborted) return onReject(scope.reason);
    if (this.waiters.size === 0) {
      const ticket = this.gate.tryTake(this.clock.now());
      if (ticket >= 0) return onGrant(ticket);
    }
    if (this.waiters.size >= this.maxQueued)
      return onReject(new QueueFullError(this.name, this.maxQueued));
    this.waiters.push(onGrant, onReject, scope);
    this.reportQueue();
    this.serve();
  }

  /** Grants permits to waiters at the head while the gate allows, then arms the timer. */
  private serve(): void {
    if (this.serving) {
      // A call started by this loop re-entered the limiter; the loop runs once more.
      this.serveAgain = true;
      return;
    }
    this.serving = true;
    let granted = 0;
    const takePermit = () => {
      const ticket = this.gate.tryTake(this.clock.now());
      return ticket < 0 ? undefined : ticket;
    };
    try {
      do {
        this.serveAgain = false;
        granted += this.waiters.serveWhile(takePermit, (ticket) => ticket);
      } while (this.serveAgain);
    } finally {
      this.serving = false;
    }
    if (granted > 0) this.reportQueue();
    if (this.waiters.size === 0) {
      if (this.timer !== undefined) {
        this.clock.clearTimeout(this.timer);
        this.timer = undefined;
      }
      return;
    }
    const now = this.clock.now();
    const at = this.gate.availableAt(now);
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.onTimer, at - now);
  }

  private reportQueue(): void {
    if (this.metrics)
      emitMetric(this.metrics, 'queued', { name: this.name, value: this.waiters.size });
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
    new RateGate(
      options.limit,
      options.intervalMs,
      options.burst ?? options.limit,
      options.marginMs,
    );
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
