import { performance } from 'node:perf_hooks';
import { setImmediate as nodeSetImmediate } from 'node:timers';

/** Opaque handle returned by {@link Clock.setTimeout}; only meaningful to the clock that made it. */
export type TimerHandle = unknown;

/**
 * The source of time for every piece of this library. Inject {@link ManualClock} in tests so they
 * run on virtual time; production code uses {@link systemClock} (the default everywhere).
 *
 * `now()` must be monotonic. It is also compared with HTTP dates (`Retry-After`), so it should be
 * close to the Unix epoch in milliseconds; {@link systemClock} is
 * `performance.timeOrigin + performance.now()`.
 */
export interface Clock {
  /** Current time in milliseconds (monotonic, ≈ Unix epoch). */
  now(): number;
  /** Calls `callback` once after `delayMs` milliseconds. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer made by this clock's `setTimeout`; a no-op for a fired or cancelled timer. */
  clearTimeout(handle: TimerHandle): void;
}

const timeOrigin = performance.timeOrigin;

/** The real clock: Node's monotonic `performance.now()` shifted to the epoch, and Node timers. */
export const systemClock: Clock = {
  now: () => timeOrigin + performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface ManualTimer {
  at: number;
  seq: number;
  callback: (() => void) | undefined;
}

/**
 * A virtual clock for tests: time only moves when the test calls {@link advance} or
 * {@link advanceAsync}, and due timers run in order of their due time (then of creation).
 *
 * ```ts
 * const clock = new ManualClock();
 * const run = runBatch(items, fn, { concurrency: 2, clock });
 * await clock.advanceAsync(5_000); // timers fire, promise callbacks run between them
 * const report = await run;
 * ```
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly heap: ManualTimer[] = [];
  private live = 0;

  /** @param startMs the initial `now()` (e.g. `Date.parse('2025-01-02T03:04:05Z')`); default 0. */
  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    const timer: ManualTimer = { at: this.current + delay, seq: this.seq++, callback };
    this.push(timer);
    this.live++;
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as ManualTimer | undefined;
    if (timer && timer.callback) {
      timer.callback = undefined;
      this.live--;
    }
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.live;
  }

  /** Due time of the next pending timer, or `undefined`. */
  nextTimerAt(): number | undefined {
    this.dropCancelled();
    return this.heap.length > 0 ? this.heap[0].at : undefined;
  }

  /**
   * Moves time forward by `ms`, synchronously running every timer that falls due (including
   * timers scheduled by those timers). Promise callbacks do not run in between; use
   * {@link advanceAsync} when the code under test awaits.
   * @returns how many timers fired.
   */
  advance(ms: number): number {
    const target = this.current + Math.max(0, ms);
    let fired = 0;
    for (;;) {
      const timer = this.popDue(target);
      if (!timer) break;
      this.fire(timer);
      fired++;
    }
    this.current = target;
    return fired;
  }

  /**
   * Moves time forward by `ms`, running due timers in order and letting all pending promise
   * callbacks (microtasks) settle before and after each timer, so async code behaves as it would
   * on real time.
   * @returns how many timers fired.
   */
  async advanceAsync(ms: number): Promise<number> {
    const target = this.current + Math.max(0, ms);
    let fired = 0;
    await flushMicrotasks();
    for (;;) {
      const timer = this.popDue(target);
      if (!timer) break;
      this.fire(timer);
      fired++;
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
    return fired;
  }

  /**
   * Runs timers (with microtasks settling in between) until none is left, moving time to each due
   * time. Throws after `maxTimers` timers, which catches code that re-arms timers forever.
   */
  async runAllAsync(maxTimers = 100_000): Promise<number> {
    let fired = 0;
    await flushMicrotasks();
    for (;;) {
      const next = this.nextTimerAt();
      if (next === undefined) return fired;
      if (fired >= maxTimers)
        throw new Error(`ManualClock.runAllAsync: more than ${maxTimers} timers`);
      fired += await this.advanceAsync(next - this.current);
    }
  }

  private fire(timer: ManualTimer): void {
    const callback = timer.callback;
    if (!callback) return;
    timer.callback = undefined;
    this.live--;
    if (timer.at > this.current) this.current = timer.at;
    callback();
  }

  private popDue(target: number): ManualTimer | undefined {
    this.dropCancelled();
    const heap = this.heap;
    if (heap.length === 0 || heap[0].at > target) return undefined;
    return this.pop();
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && !this.heap[0].callback) this.pop();
  }

  private push(timer: ManualTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): ManualTimer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: ManualTimer, b: ManualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Resolves after every microtask queued so far (and those they queue) has run. */
function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => nodeSetImmediate(resolve));
}
