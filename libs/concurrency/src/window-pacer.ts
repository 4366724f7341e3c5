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

/** Answered calls the mean lateness of {@link WindowPacer.nextStartAt} is averaged over (roughly). */
const LATENESS_AVERAGE_CALLS = 16;

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
 * started a window after our start could still be counted inside the provider's window. So each
 * call holds one of the `limit` places of the window until a window after it started plus its
 * lateness — how much longer it took than the provider's fastest recent call (an upper bound on
 * how late it was counted) — and, while it has not answered, until it has; a call starts when a
 * place is free. A successor is counted no sooner than the fastest call takes, so no window of the
 * provider's can hold more than `limit` of them however late each was counted. The price is the
 * latency's spread: a provider whose latency varies costs, per window of calls, the mean lateness
 * (mean minus fastest call), e.g. 4 % for a log-normal latency of median 40 ms and σ 0.6.
 * Capping the lateness counted (`maxLatenessMs`) buys that back with 429s.
 *
 * A slow call holds only its own place: the calls behind it start in the places the others free
 * (pairing call `k + limit` with call `k` instead stopped every call of the credential behind one
 * slow answer).
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
  /** Calls that may still hold a place: running (`end` NaN), or answered less than a window ago. */
  private recent: Array<{ start: number; end: number }> = [];
  /** Resolves at the next answer of a running call. */
  private nextAnswer: Promise<void>;
  private answeredNow!: () => void;
  /** Mean lateness of recent answered calls (an exponential average), for {@link nextStartAt}. */
  private meanLatenessMs = 0;
  private turn: Promise<void> = Promise.resolve();
  private readonly marginMs: number;
  private readonly maxLatenessMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: WindowPacerOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1)
      throw new RangeError(`limit must be an integer ≥ 1, got ${options.limit}`);
    if (!(options.windowMs > 0))
      throw new RangeError(`windowMs must be > 0, got ${options.windowMs}`);
    this.marginMs = options.marginMs ?? options.windowMs / 100;
    this.maxLatenessMs = options.maxLatenessMs ?? options.windowMs;
    this.clock = options.clock ?? systemClock;
    this.nextAnswer = this.newAnswer();
  }

  /**
   * Runs `call` once the provider's window has room for it; calls start in the order they came.
   * `signal` aborts the wait at any point (behind earlier calls, or for an answer).
   */
  async run<R>(call: () => Promise<R>, signal?: AbortSignal): Promise<R> {
    const myTurn = this.turn;
    let passTurn!: () => void;
    this.turn = new Promise<void>((resolve) => (passTurn = resolve));
    let hadTurn = false;
    const record = { start: NaN, end: NaN };
    try {
      await untilAborted(myTurn, signal);
      hadTurn = true;
      await this.waitForRoom(signal);
      record.start = this.clock.now();
      this.recent.push(record);
    } finally {
      // A call that gives up before its turn hands the turn on only once its predecessor is done,
      // so the calls behind it still start one at a time, in order.
      if (hadTurn) passTurn();
      else void myTurn.then(passTurn);
    }
    try {
      return await call();
    } finally {
      record.end = this.clock.now();
      this.options.durationFloor.observe(record.end - record.start);
      this.meanLatenessMs += (this.latenessOf(record) - this.meanLatenessMs) / LATENESS_AVERAGE_CALLS;
      const answered = this.answeredNow;
      this.nextAnswer = this.newAnswer();
      answered();
    }
  }

  /**
   * The earliest a call run at `now` would start, behind `ahead` calls that are waiting for their
   * turn already: an estimate for choosing among credentials (whose window opens first). A call
   * still running is taken to be as late as it has been so far or as calls are on average,
   * whichever is more; a call not started yet as late as the average.
   */
  nextStartAt(ahead = 0, now = this.clock.now()): number {
    const floor = this.options.durationFloor.valueMs ?? 0;
    const frees = this.heldPlaces(now).map((call) =>
      Number.isNaN(call.end)
        ? this.freedAt(call.start, Math.min(this.maxLatenessMs, Math.max(now - call.start - floor, this.meanLatenessMs)))
        : this.freedAt(call.start, this.latenessOf(call)),
    );
    let at = now;
    for (let n = 0; n <= ahead; n++) {
      at = Math.max(at, this.placeFreeAt(frees));
      frees.push(this.freedAt(at, this.meanLatenessMs));
    }
    return at;
  }

  private async waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const held = this.heldPlaces(now);
      const running = held.filter((call) => Number.isNaN(call.end)).length;
      if (running >= this.options.limit) {
        // Every place is held by a call that has not answered: one must answer first.
        await untilAborted(this.nextAnswer, signal);
        continue;
      }
      // An answer meanwhile turns a running call into one that frees its place after this time.
      const freeAt = this.placeFreeAt(held.filter((call) => !Number.isNaN(call.end)).map((call) => this.freedAt(call.start, this.latenessOf(call))), running);
      if (freeAt <= now) return signal?.throwIfAborted();
      if (running === 0) await sleep(freeAt - now, { signal, clock: this.clock });
      else await this.sleepUntilAnswer(freeAt - now, signal);
    }
  }

  /** Sleeps `ms`, or less when a running call answers first (its place may be free sooner). */
  private async sleepUntilAnswer(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const wake = new AbortController();
    const onAbort = () => wake.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([sleep(ms, { signal: wake.signal, clock: this.clock }).catch(() => undefined), this.nextAnswer]);
    } finally {
      wake.abort();
      signal?.removeEventListener('abort', onAbort);
    }
    signal?.throwIfAborted();
  }

  /**
   * When a place of the window is free, given when the held places free up (`frees`) and `running`
   * more held until an answer (counted as never): the time at which fewer than `limit` are held.
   */
  private placeFreeAt(frees: number[], running = 0): number {
    const free = this.options.limit - 1 - running;
    if (frees.length <= free) return -Infinity;
    return [...frees].sort((a, b) => b - a)[free] ?? -Infinity;
  }

  /** The calls holding a place at `now`; answered calls whose place is free again are forgotten. */
  private heldPlaces(now: number): Array<{ start: number; end: number }> {
    this.recent = this.recent.filter((call) => Number.isNaN(call.end) || this.freedAt(call.start, this.latenessOf(call)) > now);
    return this.recent;
  }

  /** When a call started at `start` frees its place, counted `lateness` late. */
  private freedAt(start: number, lateness: number): number {
    return start + lateness + this.options.windowMs + this.marginMs;
  }

  /** How late the answered call may have been counted (capped at `maxLatenessMs`). */
  private latenessOf(call: { start: number; end: number }): number {
    const floor = this.options.durationFloor.valueMs ?? 0;
    return Math.min(this.maxLatenessMs, Math.max(0, call.end - call.start - floor));
  }

  private newAnswer(): Promise<void> {
    return new Promise<void>((resolve) => (this.answeredNow = resolve));
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
