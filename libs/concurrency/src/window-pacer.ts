import { systemClock, type Clock } from './clock';
import { sleep } from './context';

/**
 * The shortest recent duration of a provider call: what a call costs when nothing delays it. Kept
 * over two alternating periods so it follows a network that gets slower.
 */
export class CallDurationFloor {
  private current = Infinity;
  private previous = Infinity;
  private periodStart: number;

  constructor(
    private readonly periodMs = 30_000,
    private readonly clock: Clock = systemClock,
  ) {
    this.periodStart = clock.now();
  }

  observe(durationMs: number): void {
    const now = this.clock.now();
    if (now - this.periodStart >= this.periodMs) {
      this.previous = this.current;
      this.current = Infinity;
      this.periodStart = now;
    }
    if (durationMs < this.current) this.current = durationMs;
  }

  /** The floor, or undefined before the first call. */
  get valueMs(): number | undefined {
    const floor = Math.min(this.current, this.previous);
    return Number.isFinite(floor) ? floor : undefined;
  }
}

export interface WindowPacerOptions {
  /** Calls the provider allows in any window. */
  limit: number;
  windowMs: number;
  /** Shared by the pacers of one provider. */
  durationFloor: CallDurationFloor;
  /** Added to every window (default 1 % of it). */
  marginMs?: number;
  /**
   * Most a late call may push its successor back (default: the window, i.e. all of it). A smaller
   * cap trades 429s for throughput when the provider's latency varies: a call counted later than
   * the cap lets its successor into the provider's window.
   */
  maxLatenessMs?: number;
  clock?: Clock;
}

/**
 * Paces the calls of one credential so that the provider never counts more than `limit` of them
 * in any `windowMs`, in first-come order.
 *
 * A provider counts a call when it reaches its rate limiter, some time after we start it; if that
 * delay grows for one call (a new connection, a busy event loop on either side), a successor
 * started a window after our start could still be counted inside the provider's window. So call
 * `k + limit` waits until a window after call `k` started plus call k's lateness — how much longer
 * it took than the provider's fastest recent call (an upper bound on how late it was counted) —
 * and, while call `k` has not answered, until it has. A successor is counted no sooner than the
 * fastest call takes, so this keeps the two a window apart however late call `k` was counted. The
 * price is the latency's spread: a provider whose latency varies costs, per window of calls, the
 * mean lateness (mean minus fastest call), e.g. 4 % for a log-normal latency of median 40 ms and
 * σ 0.6. Capping the lateness counted (`maxLatenessMs`) buys that back with 429s.
 *
 * Unlike {@link RateLimiter}, which guarantees the window for the moments calls start, this
 * accounts for the provider's view of time; no rate-limiting library we know of does.
 *
 * ```ts
 * const floor = new CallDurationFloor();            // shared by all credentials of one provider
 * const pacer = new WindowPacer({ limit: 5, windowMs: 1_000, durationFloor: floor });
 * const bars = await pacer.run(() => api.kline(code, { signal }), signal);
 * ```
 */
export class WindowPacer {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  /** Resolves when the call in that ring slot answers. */
  private readonly answered: Array<Promise<void> | undefined>;
  private calls = 0;
  private turn: Promise<void> = Promise.resolve();
  private readonly marginMs: number;
  private readonly maxLatenessMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: WindowPacerOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1)
      throw new RangeError(`limit must be an integer ≥ 1, got ${options.limit}`);
    if (!(options.windowMs > 0))
      throw new RangeError(`windowMs must be > 0, got ${options.windowMs}`);
    this.starts = new Float64Array(options.limit);
    this.ends = new Float64Array(options.limit);
    this.answered = new Array<Promise<void> | undefined>(options.limit);
    this.marginMs = options.marginMs ?? options.windowMs / 100;
    this.maxLatenessMs = options.maxLatenessMs ?? options.windowMs;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Runs `call` once the provider's window has room for it; calls start in the order they came.
   * `signal` aborts the wait at any point (behind earlier calls, or for an answer a window back).
   */
  async run<R>(call: () => Promise<R>, signal?: AbortSignal): Promise<R> {
    const myTurn = this.turn;
    let passTurn!: () => void;
    this.turn = new Promise<void>((resolve) => (passTurn = resolve));
    let slot: number;
    let markAnswered!: () => void;
    let hadTurn = false;
    try {
      await untilAborted(myTurn, signal);
      hadTurn = true;
      await this.waitForRoom(signal);
      slot = this.calls++ % this.options.limit;
      this.starts[slot] = this.clock.now();
      this.ends[slot] = NaN;
      this.answered[slot] = new Promise<void>((resolve) => (markAnswered = resolve));
    } finally {
      // A call that gives up before its turn hands the turn on only once its predecessor is done,
      // so the calls behind it still start one at a time, in order.
      if (hadTurn) passTurn();
      else void myTurn.then(passTurn);
    }
    try {
      return await call();
    } finally {
      const end = this.clock.now();
      this.ends[slot] = end;
      this.options.durationFloor.observe(end - this.starts[slot]);
      markAnswered();
    }
  }

  private async waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    const { limit, windowMs } = this.options;
    if (this.calls < limit) return;
    // The slot of the call `limit` places back, which the next call reuses.
    const slot = this.calls % limit;
    if (Number.isNaN(this.ends[slot])) await untilAborted(this.answered[slot], signal);
    const start = this.starts[slot];
    const floor = this.options.durationFloor.valueMs ?? 0;
    const lateness = Math.min(this.maxLatenessMs, Math.max(0, this.ends[slot] - start - floor));
    const waitMs = start + lateness + windowMs + this.marginMs - this.clock.now();
    if (waitMs > 0) await sleep(waitMs, { signal, clock: this.clock });
    else signal?.throwIfAborted();
  }
}

/** `promise`, unless `signal` aborts first: then a rejection with the signal's reason. */
function untilAborted<T>(promise: Promise<T> | undefined, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal || !promise) return Promise.resolve(promise);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
