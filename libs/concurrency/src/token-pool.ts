import { type Clock, type TimerHandle, systemClock } from './clock';
import { Scope } from './context';
import {
  type ErrorClassifier,
  NoCredentialAvailableError,
  QueueFullError,
  classifyError,
} from './errors';
import { WaitQueue } from './internal/wait-queue';
import { Listeners, type Unsubscribe } from './internal/listeners';
import { RateGate } from './internal/rate-gate';
import { type ConcurrencyMetricsListener, emitMetric } from './metrics';

/** A credential given to a {@link TokenPool}. */
export interface CredentialSpec<T> {
  /** Stable id (e.g. the token's database id). Never the secret: ids appear in events and logs. */
  readonly id: string;
  /** What a lease hands out (the secret, or an object holding it). */
  readonly value: T;
  /** The credential's own rate limit (e.g. `{ limit: 10, intervalMs: 1_000 }`). */
  readonly rate?: {
    readonly limit: number;
    readonly intervalMs: number;
    readonly burst?: number;
    readonly marginMs?: number;
  };
  /** Calls left (e.g. `daily_limit - daily_used`); omitted = unlimited. 0 = exhausted. */
  readonly quota?: number;
  /** Leases of this credential out at once (default: the pool's `maxInFlightPerCredential`). */
  readonly maxInFlight?: number;
  /**
   * When a call with this credential leased at `now` could start at the earliest (the pool's clock),
   * with `leased` leases of it out already (calls running, or waiting to start ahead of this one),
   * e.g. from the provider's window as the caller paces the credential's calls. A lease takes,
   * among the credentials with capacity, the one whose call could start soonest (the least
   * recently leased on a tie), so work goes to whichever credential's window opens first instead
   * of queueing behind a slower one. Omitted: now.
   */
  readonly nextCallAt?: (now: number, leased: number) => number;
}

/** Where a credential stands. */
export type CredentialStatus = 'active' | 'exhausted' | 'retired';

/** Snapshot of a credential (no secret). */
export interface CredentialInfo {
  readonly id: string;
  readonly status: CredentialStatus;
  readonly inFlight: number;
  /** Calls left (`Infinity` when unlimited). */
  readonly remainingQuota: number;
  /** Leases granted so far. */
  readonly leases: number;
  /** Why it was retired. */
  readonly retiredReason: string | undefined;
}

/** Events of a {@link TokenPool}. */
export interface TokenPoolEvents {
  /** A credential was retired (auth error, or by hand); it is never leased again. */
  retired: { readonly id: string; readonly reason: string; readonly error?: unknown };
  /** A credential's quota ran out (counted down to 0, or the server said so). */
  exhausted: { readonly id: string };
  /** An exhausted credential got quota again ({@link TokenPool.setQuota}), or one was added. */
  restored: { readonly id: string };
  /** No credential can serve a lease any more (all retired or exhausted). */
  drained: { readonly name: string };
}

/** Options of {@link TokenPool}. */
export interface TokenPoolOptions<T> {
  credentials: Iterable<CredentialSpec<T>>;
  /** Label for errors and metrics (default `token-pool`). */
  name?: string;
  /** Default leases per credential at once (default 1: a lease is exclusive, as in the seed). */
  maxInFlightPerCredential?: number;
  /** Waiting `lease()` calls allowed; beyond it they reject with {@link QueueFullError} (default unbounded). */
  maxQueued?: number;
  /** Pause for a credential that got a 429 without `Retry-After`, in {@link TokenPool.use} (default 1 000 ms). */
  rateLimitCooldownMs?: number;
  /** Error classification for {@link TokenPool.use} (default {@link classifyError}). */
  classify?: ErrorClassifier;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
  /** Receives `inFlight` (leases out) and `queued` (waiting leases). */
  metrics?: ConcurrencyMetricsListener;
}

/** A leased credential. Settle it exactly once; later calls are ignored. */
export interface Lease<T> {
  readonly id: string;
  readonly value: T;
  /** Gives the credential back. `cooldownMs` keeps it out of rotation for a while (e.g. after a 429). */
  release(options?: { cooldownMs?: number }): void;
  /** Takes the credential out of the pool for good (auth error). */
  retire(reason?: string, error?: unknown): void;
  /** Marks the credential's quota as used up (the server said so). */
  exhaust(): void;
}

/** A lease as the pool keeps it. */
interface InternalLease<T> extends Lease<T> {
  /** The call under this lease starts now (counts for the credential's rate window from here). */
  started(): void;
}

interface Credential<T> {
  readonly id: string;
  readonly value: T;
  readonly gate: RateGate | undefined;
  readonly maxInFlight: number;
  readonly nextCallAt: ((now: number, leased: number) => number) | undefined;
  status: CredentialStatus;
  remaining: number;
  inFlight: number;
  leases: number;
  lastLease: number;
  cooldownUntil: number;
  retiredReason: string | undefined;
}

/** One lane of the seed's static split: a pool of its own credentials and its share of the items. */
export interface StaticLane<T, I> {
  readonly pool: TokenPool<T>;
  readonly items: I[];
}

/**
 * Checks that `value` is an integer ≥ `min`.
 * @internal
 */
function requireInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
}

/**
 * The seed's thread count: `clamp(floor(tokenCount / tokensPerThread), 1, maxThreads)`.
 * With 6 tokens per thread and at most 10 threads: 5 tokens → 1, 12 → 2, 100 → 10.
 */
export function calculateThreadCount(
  tokenCount: number,
  tokensPerThread = 6,
  maxThreads = 10,
): number {
  requireInt('tokenCount', tokenCount, 0);
  requireInt('tokensPerThread', tokensPerThread, 1);
  requireInt('maxThreads', maxThreads, 1);
  return Math.max(1, Math.min(Math.floor(tokenCount / tokensPerThread), maxThreads));
}

/**
 * The seed's token split: each thread gets `floor(n / threadCount)` consecutive tokens and the
 * first `n % threadCount` threads one more: 12 over 2 → [6, 6], 14 over 2 → [7, 7],
 * 20 over 3 → [7, 7, 6].
 */
export function distributeTokens<T>(tokens: readonly T[], threadCount: number): T[][] {
  requireInt('threadCount', threadCount, 1);
  const base = Math.floor(tokens.length / threadCount);
  const extra = tokens.length % threadCount;
  const lanes: T[][] = [];
  let next = 0;
  for (let i = 0; i < threadCount; i++) {
    const size = base + (i < extra ? 1 : 0);
    lanes.push(tokens.slice(next, next + size));
    next += size;
  }
  return lanes;
}

/** The seed's stock split, round robin: item `i` goes to thread `i % threadCount` (10 over 3 → [4, 3, 3]). */
export function distributeStocks<S>(stocks: readonly S[], threadCount: number): S[][] {
  requireInt('threadCount', threadCount, 1);
  const lanes: S[][] = Array.from({ length: threadCount }, () => []);
  for (let i = 0; i < stocks.length; i++) lanes[i % threadCount].push(stocks[i]);
  return lanes;
}

/**
 * A pool of credentials (API tokens) shared by workers. Each call leases one credential: the
 * least recently used among those that have capacity now (active, under their own rate limit,
 * quota left, fewer than `maxInFlight` leases out), or the one whose call could start soonest when
 * credentials say when that is (`nextCallAt`). When none has capacity, `lease()` waits in
 * FIFO order. A credential that fails for auth reasons is retired, one whose quota is used up is
 * marked exhausted; both are never leased again (until {@link setQuota} restores an exhausted
 * one), and both are announced as events.
 *
 * Two strategies:
 * - dynamic (recommended): one pool shared by the whole batch; `runBatch(stocks, (s) =>
 *   pool.use((token) => pull(s, token)), { concurrency: pool.size })`;
 * - the seed's static split: {@link TokenPool.staticSplit} gives each "thread" its own pool and
 *   its round-robin share of the items.
 *
 * ```ts
 * const pool = new TokenPool({
 *   credentials: tokens.map((t) => ({ id: String(t.id), value: t.secret, rate: { limit: 10, intervalMs: 1_000 }, quota: t.dailyLimit - t.dailyUsed })),
 * });
 * pool.on('retired', ({ id, reason }) => tokenManager.retire(id, reason));
 * const bars = await pool.use((secret) => itick.kline(code, { token: secret, signal }), signal);
 * ```
 */
export class TokenPool<T> {
  /** See {@link calculateThreadCount}. */
  static readonly calculateThreadCount = calculateThreadCount;
  /** See {@link distributeTokens}. */
  static readonly distributeTokens = distributeTokens;
  /** See {@link distributeStocks}. */
  static readonly distributeStocks = distributeStocks;

  /**
   * The seed's static split as a strategy: `calculateThreadCount(credentials.length,
   * tokensPerThread, maxThreads)` lanes, credentials split with {@link distributeTokens}, items
   * with {@link distributeStocks}; each lane gets a pool of its own credentials. Run each lane
   * with concurrency 1 to reproduce the seed exactly.
   */
  static staticSplit<T, I>(
    credentials: readonly CredentialSpec<T>[],
    items: readonly I[],
    options: { tokensPerThread?: number; maxThreads?: number } & Omit<
      TokenPoolOptions<T>,
      'credentials'
    > = {},
  ): StaticLane<T, I>[] {
    const { tokensPerThread = 6, maxThreads = 10, ...poolOptions } = options;
    const threads = calculateThreadCount(credentials.length, tokensPerThread, maxThreads);
    const tokenLanes = distributeTokens(credentials, threads);
    const itemLanes = distributeStocks(items, threads);
    const name = poolOptions.name ?? 'token-pool';
    return tokenLanes.map((lane, i) => ({
      pool: new TokenPool<T>({ ...poolOptions, name: `${name}-${i}`, credentials: lane }),
      items: itemLanes[i],
    }));
  }

  readonly name: string;
  private readonly credentialsList: Credential<T>[] = [];
  private readonly byId = new Map<string, Credential<T>>();
  private readonly waiters = new WaitQueue<Lease<T>>(() => this.reportGauges());
  private leased = 0;
  private usable = 0;
  private sequence = 0;
  private drainedAnnounced = false;
  private readonly defaultMaxInFlight: number;
  private readonly maxQueued: number;
  private readonly rateLimitCooldownMs: number;
  private readonly classify: ErrorClassifier;
  private readonly clock: Clock;
  private readonly metrics: ConcurrencyMetricsListener | undefined;
  private readonly events = new Listeners<TokenPoolEvents>();
  private timer: TimerHandle | undefined = undefined;
  private timerAt = 0;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.serve();
  };

  constructor(options: TokenPoolOptions<T>) {
    this.name = options.name ?? 'token-pool';
    this.defaultMaxInFlight = options.maxInFlightPerCredential ?? 1;
    requireInt('maxInFlightPerCredential', this.defaultMaxInFlight, 1);
    this.maxQueued = options.maxQueued ?? Infinity;
    this.rateLimitCooldownMs = options.rateLimitCooldownMs ?? 1_000;
    this.classify = options.classify ?? classifyError;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    for (const spec of options.credentials) this.insert(spec);
  }

  /** Credentials that can still serve leases (active). */
  get size(): number {
    return this.usable;
  }

  /** Counters of the pool. */
  stats(): { active: number; exhausted: number; retired: number; leased: number; waiting: number } {
    let exhausted = 0;
    let retired = 0;
    for (const c of this.credentialsList) {
      if (c.status === 'exhausted') exhausted++;
      else if (c.status === 'retired') retired++;
    }
    return {
      active: this.usable,
      exhausted,
      retired,
      leased: this.leased,
      waiting: this.waiters.size,
    };
  }

  /** Snapshot of every credential (without secrets). */
  credentials(): CredentialInfo[] {
    return this.credentialsList.map((c) => ({
      id: c.id,
      status: c.status,
      inFlight: c.inFlight,
      remainingQuota: c.remaining,
      leases: c.leases,
      retiredReason: c.retiredReason,
    }));
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof TokenPoolEvents>(
    event: K,
    listener: (payload: TokenPoolEvents[K]) => void,
  ): Unsubscribe {
    return this.events.on(event, listener);
  }

  /** Adds a credential (ids must be unique). */
  add(spec: CredentialSpec<T>): void {
    const credential = this.insert(spec);
    if (credential.status === 'active') {
      this.drainedAnnounced = false;
      this.events.emit('restored', { id: credential.id });
    }
    this.serve();
  }

  /** Sets a credential's remaining quota (daily reset); restores an exhausted credential. */
  setQuota(id: string, remaining: number): void {
    const c = this.require(id);
    if (!(remaining >= 0)) throw new RangeError(`quota must be ≥ 0, got ${remaining}`);
    if (c.status === 'retired') return;
    c.remaining = remaining;
    if (remaining === 0 && c.status === 'active') this.markExhausted(c);
    else if (remaining > 0 && c.status === 'exhausted') {
      c.status = 'active';
      this.usable++;
      this.drainedAnnounced = false;
      this.events.emit('restored', { id });
      this.serve();
    }
  }

  /** Retires a credential by id (e.g. an admin revoked it). */
  retire(id: string, reason = 'retired', error?: unknown): void {
    this.markRetired(this.require(id), reason, error);
  }

  /** A lease if a credential has capacity right now and nobody is waiting; never waits. */
  tryLease(): Lease<T> | undefined {
    if (this.waiters.size > 0) return undefined;
    const credential = this.pick(this.clock.now());
    return credential ? this.grant(credential) : undefined;
  }

  /**
   * Leases a credential, waiting (FIFO) until one has capacity. Rejects with
   * {@link NoCredentialAvailableError} when no credential is left that could ever serve, with the
   * signal's reason when `signal` aborts, or with {@link QueueFullError}.
   */
  lease(signal?: AbortSignal): Promise<Lease<T>> {
    if (!signal) return this.leaseIn(undefined);
    const root = Scope.root(signal);
    return this.leaseIn(root).finally(() => root.dispose());
  }

  /**
   * Leases a credential, runs `fn` with it and settles the lease from the outcome: an `auth`
   * error retires the credential, a `quota` error marks it exhausted, a `rate-limited` error gives
   * it back with a cooldown (`Retry-After`, else `rateLimitCooldownMs`), anything else gives it
   * back. The error is rethrown, so a retry policy around `use` gets another credential.
   */
  async use<R>(
    fn: (value: T, lease: Lease<T>) => R | PromiseLike<R>,
    signal?: AbortSignal,
  ): Promise<Awaited<R>> {
    const lease = (await this.lease(signal)) as InternalLease<T>;
    try {
      lease.started();
      const value = await fn(lease.value, lease);
      lease.release();
      return value;
    } catch (error) {
      const c = this.classify(error, this.clock.now());
      if (c.kind === 'auth') lease.retire('auth', error);
      else if (c.kind === 'quota') lease.exhaust();
      else if (c.kind === 'rate-limited')
        lease.release({ cooldownMs: c.retryAfterMs ?? this.rateLimitCooldownMs });
      else lease.release();
      throw error;
    }
  }

  private leaseIn(scope: Scope | undefined): Promise<Lease<T>> {
    if (scope?.aborted) return Promise.reject(scope.reason);
    if (this.usable === 0) return Promise.reject(new NoCredentialAvailableError(this.name));
    if (this.waiters.size === 0) {
      const credential = this.pick(this.clock.now());
      if (credential) return Promise.resolve(this.grant(credential));
    }
    if (this.waiters.size >= this.maxQueued)
      return Promise.reject(new QueueFullError(this.name, this.maxQueued));
    return new Promise<Lease<T>>((resolve, reject) => {
      this.waiters.push(resolve, reject, scope);
      this.reportGauges();
      this.serve();
    });
  }

  /** The credential with capacity at `now` whose call could start soonest; the least recently leased on a tie. */
  private pick(now: number): Credential<T> | undefined {
    let best: Credential<T> | undefined;
    let bestAt = Infinity;
    for (const c of this.credentialsList) {
      if (c.status !== 'active' || c.inFlight >= c.maxInFlight || c.cooldownUntil > now) continue;
      if (c.gate && c.gate.availableAt(now) > now) continue;
      const at = c.nextCallAt ? Math.max(now, c.nextCallAt(now, c.inFlight)) : now;
      if (!best || at < bestAt || (at === bestAt && c.lastLease < best.lastLease)) {
        best = c;
        bestAt = at;
      }
    }
    return best;
  }

  private grant(c: Credential<T>): Lease<T> {
    const now = this.clock.now();
    const ticket = c.gate ? c.gate.take(now) : -1;
    c.inFlight++;
    c.leases++;
    c.lastLease = ++this.sequence;
    this.leased++;
    if (c.remaining !== Infinity) c.remaining--;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      c.inFlight--;
      this.leased--;
      return true;
    };
    const lease: InternalLease<T> = {
      id: c.id,
      value: c.value,
      started: () => c.gate?.started(ticket, this.clock.now()),
      release: (options) => {
        if (!settle()) return;
        const cooldown = options?.cooldownMs ?? 0;
        if (cooldown > 0) c.cooldownUntil = Math.max(c.cooldownUntil, this.clock.now() + cooldown);
        this.reportGauges();
        this.serve();
      },
      retire: (reason = 'retired', error) => {
        if (!settle()) return;
        this.markRetired(c, reason, error);
        this.reportGauges();
      },
      exhaust: () => {
        if (!settle()) return;
        c.remaining = 0;
        if (c.status === 'active') this.markExhausted(c);
        this.reportGauges();
        this.serve();
      },
    };
    // Counted down to zero: take it out of rotation now (the lease itself is still valid).
    if (c.remaining === 0 && c.status === 'active') this.markExhausted(c);
    this.reportGauges();
    return lease;
  }

  private markExhausted(c: Credential<T>): void {
    c.status = 'exhausted';
    this.usable--;
    this.events.emit('exhausted', { id: c.id });
    this.checkDrained();
  }

  private markRetired(c: Credential<T>, reason: string, error: unknown): void {
    if (c.status === 'retired') return;
    if (c.status === 'active') this.usable--;
    c.status = 'retired';
    c.retiredReason = reason;
    this.events.emit(
      'retired',
      error === undefined ? { id: c.id, reason } : { id: c.id, reason, error },
    );
    this.checkDrained();
    this.serve();
  }

  private checkDrained(): void {
    if (this.usable > 0 || this.drainedAnnounced) return;
    this.drainedAnnounced = true;
    this.events.emit('drained', { name: this.name });
    this.serve();
  }

  /** Grants leases to waiters in order while credentials have capacity; arms the timer. */
  private serve(): void {
    if (this.waiters.size === 0) return this.disarm();
    if (this.usable === 0) {
      // Nothing will ever serve them: fail fast instead of waiting forever.
      this.waiters.rejectAll(new NoCredentialAvailableError(this.name));
      this.reportGauges();
      return this.disarm();
    }
    const now = this.clock.now();
    this.waiters.serveWhile(
      () => this.pick(now),
      (credential) => this.grant(credential),
    );
    if (this.waiters.size === 0) return this.disarm();
    // Wake up when the earliest credential regains capacity (releases wake us on their own).
    let at = Infinity;
    for (const c of this.credentialsList) {
      if (c.status !== 'active' || c.inFlight >= c.maxInFlight) continue;
      const ready = Math.max(c.cooldownUntil, c.gate ? c.gate.availableAt(now) : now);
      if (ready < at) at = ready;
    }
    if (at === Infinity) return this.disarm();
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.onTimer, Math.max(0, at - now));
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private insert(spec: CredentialSpec<T>): Credential<T> {
    if (!spec || typeof spec.id !== 'string' || spec.id === '')
      throw new TypeError('credential id must be a non-empty string');
    if (this.byId.has(spec.id)) throw new RangeError(`duplicate credential id "${spec.id}"`);
    const quota = spec.quota ?? Infinity;
    if (!(quota >= 0)) throw new RangeError(`quota of "${spec.id}" must be ≥ 0`);
    const maxInFlight = spec.maxInFlight ?? this.defaultMaxInFlight;
    requireInt('maxInFlight', maxInFlight, 1);
    const credential: Credential<T> = {
      id: spec.id,
      value: spec.value,
      gate: spec.rate
        ? new RateGate(
            spec.rate.limit,
            spec.rate.intervalMs,
            spec.rate.burst ?? spec.rate.limit,
            spec.rate.marginMs,
          )
        : undefined,
      maxInFlight,
      nextCallAt: spec.nextCallAt,
      status: quota === 0 ? 'exhausted' : 'active',
      remaining: quota,
      inFlight: 0,
      leases: 0,
      lastLease: 0,
      cooldownUntil: -Infinity,
      retiredReason: undefined,
    };
    this.credentialsList.push(credential);
    this.byId.set(spec.id, credential);
    if (credential.status === 'active') this.usable++;
    return credential;
  }

  private require(id: string): Credential<T> {
    const c = this.byId.get(id);
    if (!c) throw new RangeError(`unknown credential id "${id}"`);
    return c;
  }

  private reportGauges(): void {
    if (!this.metrics) return;
    emitMetric(this.metrics, 'inFlight', { name: this.name, value: this.leased });
    emitMetric(this.metrics, 'queued', { name: this.name, value: this.waiters.size });
  }
}
