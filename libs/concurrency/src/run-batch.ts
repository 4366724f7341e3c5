import { type AdaptiveLimit, isAdaptiveLimit } from './adaptive-limit';
import { type Clock, type TimerHandle, systemClock } from './clock';
import { type CallContext, HostScope, type ItemContext, Scope, isThenable } from './context';
import {
  CancelledError,
  DeadlineExceededError,
  type ErrorClassifier,
  TimeoutError,
  classifyError,
} from './errors';
import { Deque } from './internal/deque';
import { ResultStore } from './internal/result-store';
import { dispatch, nowOf } from './internal/dispatch';
import { type ConcurrencyMetricsListener, emitMetric, reportListenerError } from './metrics';
import { type Policy, runPolicy } from './policy';

/** Input of a batch: an array (or any iterable), or an async iterable such as a DB cursor. */
export type BatchInput<T> = Iterable<T> | AsyncIterable<T>;

/** The function run for each item. Use `ctx.signal` for the outside call. */
export type ItemFn<T, R> = (item: T, ctx: ItemContext) => R | PromiseLike<R>;

/** An item that finished successfully. */
export interface ItemSuccess<T, R> {
  /** Position in the input (0-based). */
  readonly index: number;
  readonly item: T;
  readonly ok: true;
  readonly value: R;
  /** Attempts made (1 without retries). */
  readonly attempts: number;
  /**
   * Time from start to end, all attempts and waits included, in whole milliseconds (rounded; the
   * `latency` metric gets the exact value). An integer, so a result object holds it inline: a
   * fractional number would be a second heap object per result.
   */
  readonly durationMs: number;
}

/** An item that failed, or was cancelled (then `error` is a {@link CancelledError}). */
export interface ItemFailure<T> {
  readonly index: number;
  readonly item: T;
  readonly ok: false;
  readonly error: unknown;
  /** Attempts made (0 for an item cancelled before it started). */
  readonly attempts: number;
  /** Whole milliseconds, as {@link ItemSuccess.durationMs}. */
  readonly durationMs: number;
}

/** Outcome of one item. */
export type ItemResult<T, R> = ItemSuccess<T, R> | ItemFailure<T>;

/** Progress of a batch. */
export interface BatchProgress {
  /** Items finished (successfully or not). */
  readonly done: number;
  /** Number of items when known (arrays and other sized inputs), else `undefined`. */
  readonly total: number | undefined;
  readonly succeeded: number;
  /** Items that failed, cancelled ones included. */
  readonly failed: number;
  /** Items running now. */
  readonly inFlight: number;
}

/** Final report of a batch. */
export interface BatchReport<T, R> {
  /**
   * Every item's result, in input order. Only kept when the run is awaited without being
   * iterated; reading it on a streamed run throws (the results went to the iterator). Kept
   * compactly while the batch runs (5 bytes per item plus a pointer to the value); the objects
   * are built on first read.
   */
  readonly results: ReadonlyArray<ItemResult<T, R>>;
  /** Items that ended (each exactly once). */
  readonly total: number;
  readonly succeeded: number;
  /** Failed items, cancelled ones included. */
  readonly failed: number;
  /** Items that ended because the batch was cancelled or hit its deadline. */
  readonly cancelled: number;
  readonly durationMs: number;
  /** Why the batch was cancelled ({@link CancelledError} / {@link DeadlineExceededError}), if it was. */
  readonly cancelReason: CancelledError | undefined;
}

/** Options of {@link runBatch}. */
export interface BatchOptions {
  /** Calls in flight at most: a fixed number, or an {@link AdaptiveLimit} (`AimdLimit`, `GradientLimit`). */
  concurrency: number | AdaptiveLimit;
  /** Policy each item's call runs under (timeout, retry, breaker, rate limit, …). */
  policy?: Policy;
  /** Deadline for the whole batch, in ms from its start; unfinished items end with {@link DeadlineExceededError}. */
  deadlineMs?: number;
  /** Cancels the batch: no new item starts, running calls are aborted and abandoned. */
  signal?: AbortSignal;
  /** Called after each item ends (and once when the batch is cancelled). */
  onProgress?: (progress: BatchProgress) => void;
  metrics?: ConcurrencyMetricsListener;
  /** Label for metrics (default `batch`). */
  name?: string;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
  /** Error classification for metrics and adaptive-limit samples (default {@link classifyError}). */
  classify?: ErrorClassifier;
  /**
   * When streaming: finished results buffered before new items stop starting (back-pressure).
   * Default: twice the concurrency, at least 16.
   */
  highWaterMark?: number;
}

/**
 * A running batch: await it for the {@link BatchReport} (results in input order), or iterate it
 * with `for await` to receive each {@link ItemResult} as it finishes (completion order, bounded
 * memory, back-pressure). Decide in the same tick the batch is created: iterating switches the
 * run to streaming, and then results are not kept for the report.
 */
export interface BatchRun<T, R>
  extends PromiseLike<BatchReport<T, R>>,
    AsyncIterable<ItemResult<T, R>> {
  /** Live counters. */
  readonly progress: BatchProgress;
  /** Cancels the batch (see {@link BatchOptions.signal}). Idempotent; no-op once finished. */
  cancel(reason?: unknown): void;
}

/**
 * One item: its `ctx`, with abort state of its own (an `AbortController` only if the call reads
 * `ctx.signal`). While it runs it holds a slot of the batch (see `Batch.running`), which is all
 * that cancelling the batch has to visit; once it has ended nothing aborts it any more, so
 * listeners a call forgot to remove from its signal die with the item instead of piling up on a
 * batch-wide signal. Kept small (its start time is kept by slot), as one is made per item.
 */
class ItemScope<T> extends HostScope {
  declare readonly item: T;
  /** The batch slot it runs in; -1 once the item has ended. */
  declare slot: number;

  constructor(index: number, item: T) {
    super(undefined, 1, index);
    this.item = item;
    this.slot = -1;
  }
}

const NOT_STARTED = 0;
const RUNNING = 1;
const FINISHED = 2;

class Batch<T, R> implements BatchRun<T, Awaited<R>> {
  private readonly fn: ItemFn<T, R>;
  private readonly policy: Policy | undefined;
  private readonly fixedLimit: number;
  private readonly adaptive: AdaptiveLimit | undefined;
  private readonly clock: Clock;
  private readonly metrics: ConcurrencyMetricsListener | undefined;
  private readonly name: string;
  private readonly onProgress: ((progress: BatchProgress) => void) | undefined;
  private readonly classify: ErrorClassifier;
  private readonly deadlineMs: number | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly highWaterMark: number | undefined;

  // source
  private readonly input: BatchInput<T>;
  private array: ArrayLike<T> | undefined;
  private iter: Iterator<T> | undefined;
  private asyncIter: AsyncIterator<T> | undefined;
  private nextIndex = 0;
  private sourceDone = false;
  private sourceError: { error: unknown } | undefined;
  private pulling = false;
  private readonly total: number | undefined;

  // state
  private state = NOT_STARTED;
  private stopped = false;
  private pumping = false;
  /** Items running. */
  private active = 0;
  // Slots: a running item holds one; slots are reused, and there are never more than the most
  // items that ran at once. Each slot has its pair of settle callbacks, made once, so starting
  // an item allocates no closures; its start time is kept by slot too (no boxed number per item).
  /** The item in each slot (`undefined`: free). */
  private readonly running: (ItemScope<T> | undefined)[] = [];
  private startTimes = new Float64Array(16);
  private readonly onFulfilled: ((value: unknown) => void)[] = [];
  private readonly onRejected: ((error: unknown) => void)[] = [];
  private readonly freeSlots: number[] = [];
  private done = 0;
  private succeeded = 0;
  private failed = 0;
  private cancelled = 0;
  private startTime = 0;
  private endTime = 0;
  private cancelError: CancelledError | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private signalListener: (() => void) | undefined;
  private publishedLimit = -1;

  // output
  private streaming = false;
  private store: ResultStore<T> | undefined;
  private buffer: Deque<ItemResult<T, Awaited<R>>> | undefined;
  /** Streaming: unstarted array items `from … to - 1` ended by a cancel, not yet handed out. */
  private cancelledUnstarted = { from: 0, to: 0 };
  private consumer:
    | {
        resolve: (r: IteratorResult<ItemResult<T, Awaited<R>>>) => void;
        reject: (e: unknown) => void;
      }
    | undefined;
  private iteratorClosed = false;
  private sourceErrorDelivered = false;
  private report: BatchReport<T, Awaited<R>> | undefined;
  private deferred:
    | {
        promise: Promise<BatchReport<T, Awaited<R>>>;
        resolve: (r: BatchReport<T, Awaited<R>>) => void;
        reject: (e: unknown) => void;
      }
    | undefined;

  private readonly onPulled = (r: IteratorResult<T>): void => {
    this.pulling = false;
    if (this.stopped) return this.maybeFinish();
    if (r.done) {
      this.sourceDone = true;
      return this.maybeFinish();
    }
    this.startItem(r.value, this.nextIndex++, this.clock.now());
    this.pump();
  };

  /** The call as policies see it; the item is found through the item's scope (`ctx.top`). */
  private readonly invoke = (ctx: CallContext): R | PromiseLike<R> =>
    this.call(((ctx as Scope).top as ItemScope<T>).item, ctx);

  private readonly onPullFailed = (error: unknown): void => {
    this.pulling = false;
    this.failSource(error);
  };

  constructor(input: BatchInput<T>, fn: ItemFn<T, R>, options: BatchOptions) {
    if (input === null || typeof input !== 'object')
      throw new TypeError('runBatch: items must be an iterable or async iterable');
    if (typeof fn !== 'function') throw new TypeError('runBatch: fn must be a function');
    if (!options || typeof options !== 'object')
      throw new TypeError('runBatch: options with `concurrency` are required');
    const { concurrency } = options;
    if (isAdaptiveLimit(concurrency)) {
      this.adaptive = concurrency;
      this.fixedLimit = 0;
    } else if (
      typeof concurrency === 'number' &&
      Number.isInteger(concurrency) &&
      concurrency >= 1
    ) {
      this.fixedLimit = concurrency;
    } else {
      throw new RangeError(
        `runBatch: concurrency must be an integer ≥ 1 or an AdaptiveLimit, got ${String(concurrency)}`,
      );
    }
    if (options.deadlineMs !== undefined && !(options.deadlineMs >= 0))
      throw new RangeError('runBatch: deadlineMs must be ≥ 0');
    if (options.highWaterMark !== undefined && !(options.highWaterMark >= 1))
      throw new RangeError('runBatch: highWaterMark must be ≥ 1');
    this.input = input;
    this.fn = fn;
    this.policy = options.policy;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    this.name = options.name ?? 'batch';
    this.onProgress = options.onProgress;
    this.classify = options.classify ?? classifyError;
    this.deadlineMs = options.deadlineMs;
    this.signal = options.signal;
    this.highWaterMark = options.highWaterMark;
    if (isArrayLike<T>(input)) {
      this.array = input;
      this.total = input.length;
    } else if (!isAsyncIterable(input) && !isIterable(input)) {
      throw new TypeError('runBatch: items must be an iterable or async iterable');
    }
    queueMicrotask(() => this.start());
  }

  get progress(): BatchProgress {
    return {
      done: this.done,
      total: this.total,
      succeeded: this.succeeded,
      failed: this.failed,
      inFlight: this.active,
    };
  }

  then<A = BatchReport<T, Awaited<R>>, B = never>(
    onfulfilled?: ((value: BatchReport<T, Awaited<R>>) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.getDeferred().promise.then(onfulfilled, onrejected);
  }

  cancel(reason?: unknown): void {
    if (this.state === FINISHED || this.stopped) return;
    const error =
      reason instanceof CancelledError
        ? reason
        : new CancelledError(
            'batch cancelled',
            reason === undefined ? undefined : { cause: reason },
          );
    this.stopped = true;
    this.cancelError = error;
    if (this.state === NOT_STARTED) return; // start() sees `stopped` and ends every item
    this.abandonAll(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<ItemResult<T, Awaited<R>>> {
    if (this.streaming) throw new TypeError('runBatch: a run can be iterated only once');
    if (this.state !== NOT_STARTED) {
      throw new TypeError(
        'runBatch: iterate the run in the tick it is created (`for await (const r of runBatch(...))`); ' +
          'a run that already started collects its results: read them from `(await run).results`',
      );
    }
    this.streaming = true;
    const iterator: AsyncIterator<ItemResult<T, Awaited<R>>> &
      AsyncIterable<ItemResult<T, Awaited<R>>> = {
      next: () => this.nextResult(),
      return: (value?: unknown) => {
        if (!this.iteratorClosed) {
          this.iteratorClosed = true;
          this.cancel(new CancelledError('the consumer stopped iterating'));
        }
        return Promise.resolve({ done: true, value: value as ItemResult<T, Awaited<R>> });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  // ---------------------------------------------------------------------------------------------
  // Running

  private start(): void {
    this.state = RUNNING;
    this.startTime = this.clock.now();
    if (this.streaming) this.buffer = new Deque(16);
    else this.store = new ResultStore<T>(this.array, this.total);
    if (!this.array) {
      try {
        if (isAsyncIterable<T>(this.input)) this.asyncIter = this.input[Symbol.asyncIterator]();
        else this.iter = (this.input as Iterable<T>)[Symbol.iterator]();
      } catch (error) {
        this.failSource(error);
        return;
      }
    }
    if (this.stopped && this.cancelError) return this.abandonAll(this.cancelError);
    const signal = this.signal;
    if (signal) {
      if (signal.aborted) return this.cancel(signal.reason);
      this.signalListener = () => this.cancel(signal.reason);
      signal.addEventListener('abort', this.signalListener, { once: true });
    }
    if (this.deadlineMs !== undefined) {
      const deadlineMs = this.deadlineMs;
      this.deadlineTimer = this.clock.setTimeout(() => {
        this.deadlineTimer = undefined;
        this.cancel(new DeadlineExceededError(deadlineMs));
      }, deadlineMs);
    }
    this.publishLimit();
    this.pump();
  }

  private limitNow(): number {
    return this.adaptive ? this.adaptive.current : this.fixedLimit;
  }

  /**
   * Starts items while there is room (pull-based: items are taken from the source only here).
   * `now`, when given, is the current time, reused for the first start to save a clock read.
   */
  private pump(now?: number): void {
    if (this.pumping) return;
    this.pumping = true;
    const array = this.array;
    while (!this.stopped && !this.sourceDone) {
      const limit = this.adaptive ? this.adaptive.current : this.fixedLimit;
      if (this.active >= limit) break;
      if (
        this.streaming &&
        (this.buffer as Deque<unknown>).size >= (this.highWaterMark ?? Math.max(16, 2 * limit))
      )
        break;
      if (array) {
        const index = this.nextIndex;
        if (index >= array.length) {
          this.sourceDone = true;
          break;
        }
        this.nextIndex = index + 1;
        this.startItem(array[index], index, now ?? this.clock.now());
        now = undefined;
      } else if (this.iter) {
        let step: IteratorResult<T>;
        try {
          step = this.iter.next();
        } catch (error) {
          this.pumping = false;
          return this.failSource(error);
        }
        if (step.done) {
          this.sourceDone = true;
          break;
        }
        this.startItem(step.value, this.nextIndex++, now ?? this.clock.now());
        now = undefined;
      } else {
        if (this.pulling) break;
        this.pulling = true;
        let pulled: Promise<IteratorResult<T>>;
        try {
          pulled = (this.asyncIter as AsyncIterator<T>).next();
        } catch (error) {
          this.pulling = false;
          this.pumping = false;
          return this.failSource(error);
        }
        Promise.resolve(pulled).then(this.onPulled, this.onPullFailed);
        break;
      }
    }
    this.pumping = false;
    this.maybeFinish();
  }

  private startItem(item: T, index: number, now: number): void {
    const scope = new ItemScope(index, item);
    const slot = this.freeSlots.length > 0 ? (this.freeSlots.pop() as number) : this.addSlot();
    this.running[slot] = scope;
    this.startTimes[slot] = now;
    scope.slot = slot;
    this.active++;
    if (this.metrics) this.reportStart();
    let result: R | PromiseLike<R>;
    try {
      result =
        this.policy || this.adaptive ? this.dispatchCall(item, scope, now) : this.fn(item, scope);
    } catch (error) {
      this.finish(scope, false, error);
      return;
    }
    if (!thenable<R>(result)) {
      this.finish(scope, true, result);
    } else if (result.then === NATIVE_THEN) {
      // A native promise settles once: the slot's callbacks are safe, and cost no allocation.
      result.then(this.onFulfilled[slot], this.onRejected[slot]);
    } else {
      this.awaitForeign(scope, result);
    }
  }

  /**
   * Another thenable might call back twice, or late; these callbacks know their item. Out of
   * `startItem`, whose size decides whether the item's scope constructors are inlined into it.
   */
  private awaitForeign(scope: ItemScope<T>, result: PromiseLike<R>): void {
    result.then(
      (value) => this.finish(scope, true, value),
      (error: unknown) => this.finish(scope, false, error),
    );
  }

  /** A new slot (none is free), with its settle callbacks. */
  private addSlot(): number {
    const slot = this.running.length;
    this.running.push(undefined);
    if (slot === this.startTimes.length) {
      const times = new Float64Array(slot * 2);
      times.set(this.startTimes);
      this.startTimes = times;
    }
    // A late settle of an abandoned item finds its slot empty: no new item starts after a cancel.
    this.onFulfilled.push((value) => {
      const scope = this.running[slot];
      if (scope) this.finish(scope, true, value);
    });
    this.onRejected.push((error) => {
      const scope = this.running[slot];
      if (scope) this.finish(scope, false, error);
    });
    return slot;
  }

  /** Enters the policy (or the sampled call) with the start time published for it. */
  private dispatchCall(item: T, scope: ItemScope<T>, now: number): R | PromiseLike<R> {
    const outerClock = dispatch.clock;
    const outerNow = dispatch.now;
    dispatch.clock = this.clock;
    dispatch.now = now;
    try {
      return this.policy
        ? (runPolicy(this.policy, this.invoke, scope) as PromiseLike<R>)
        : this.call(item, scope);
    } finally {
      dispatch.clock = outerClock;
      dispatch.now = outerNow;
    }
  }

  /** Calls `fn` for one attempt; with an adaptive limit, also feeds it a sample. */
  private call(item: T, ctx: CallContext): R | PromiseLike<R> {
    if (!this.adaptive) return this.fn(item, ctx as ItemContext);
    const startedAt = nowOf(this.clock);
    const inFlight = this.active;
    let result: R | PromiseLike<R>;
    try {
      result = this.fn(item, ctx as ItemContext);
    } catch (error) {
      this.sample(startedAt, inFlight, false, error, ctx);
      throw error;
    }
    if (!isThenable<R>(result)) {
      this.sample(startedAt, inFlight, true, undefined, ctx);
      return result;
    }
    return Promise.resolve(result).then(
      (value) => {
        this.sample(startedAt, inFlight, true, undefined, ctx);
        return value;
      },
      (error: unknown) => {
        this.sample(startedAt, inFlight, false, error, ctx);
        throw error;
      },
    );
  }

  private sample(
    startedAt: number,
    inFlight: number,
    ok: boolean,
    error: unknown,
    ctx: CallContext,
  ): void {
    const adaptive = this.adaptive as AdaptiveLimit;
    const now = this.clock.now();
    let dropped = false;
    if (!ok) {
      const timedOut = ctx instanceof Scope && ctx.reason instanceof TimeoutError;
      const kind = timedOut ? 'timeout' : this.classify(error, now).kind;
      if (kind !== 'timeout' && kind !== 'rate-limited') return; // says nothing about load
      dropped = true;
    }
    try {
      adaptive.onSample({ startedAt, latencyMs: now - startedAt, inFlight, dropped, now });
    } catch (sampleError) {
      reportListenerError(sampleError);
    }
    if (this.publishLimit() && !this.stopped) this.pump();
  }

  /** Reports the limit when it changed; true when it grew. */
  private publishLimit(): boolean {
    const limit = this.limitNow();
    if (limit === this.publishedLimit) return false;
    const grew = limit > this.publishedLimit;
    this.publishedLimit = limit;
    emitMetric(this.metrics, 'limitChanged', { name: this.name, value: limit });
    return grew;
  }

  private finish(scope: ItemScope<T>, ok: boolean, value: unknown): void {
    const slot = scope.slot;
    if (slot < 0) return; // abandoned when the batch was cancelled
    const now = this.clock.now();
    const durationMs = now - this.startTimes[slot];
    this.running[slot] = undefined;
    this.freeSlots.push(slot);
    scope.slot = -1;
    this.active--;
    if (ok) this.succeeded++;
    else this.failed++;
    if (this.metrics) this.reportEnd(ok, value, scope.attempts, durationMs);
    this.deliver(scope.index, scope.item, ok, value, scope.attempts, wholeMs(durationMs));
    if (this.onProgress) this.emitProgress();
    if (this.stopped) this.maybeFinish();
    else this.pump(now);
  }

  /** Ends every running and unstarted item with `error`, aborts running calls, then finishes. */
  private abandonAll(error: CancelledError): void {
    const now = this.clock.now();
    let count = 0;
    for (let slot = 0; slot < this.running.length; slot++) {
      const scope = this.running[slot];
      if (!scope) continue;
      // Out of its slot before its call is aborted (abort listeners run user code).
      const durationMs = now - this.startTimes[slot];
      this.running[slot] = undefined;
      scope.slot = -1;
      this.active--;
      scope.abort(error);
      this.failed++;
      this.cancelled++;
      if (this.metrics) this.reportEnd(false, error, scope.attempts, durationMs);
      this.deliver(scope.index, scope.item, false, error, scope.attempts, wholeMs(durationMs));
      count++;
    }
    if (this.array && this.nextIndex < this.array.length) {
      // Items never started: they end here too, so every input item ends exactly once.
      const from = this.nextIndex;
      const to = this.array.length;
      this.nextIndex = to;
      const skipped = to - from;
      this.failed += skipped;
      this.cancelled += skipped;
      if (this.store) {
        for (let i = from; i < to; i++) this.store.set(i, this.array[i], false, error, 0, 0);
        this.done += skipped;
      } else {
        this.done += skipped;
        this.cancelledUnstarted = { from, to };
      }
      count += skipped;
    }
    if (count > 0 && this.metrics) this.reportGauges();
    if (this.onProgress) this.emitProgress();
    this.maybeFinish();
    this.feedConsumer();
  }

  private failSource(error: unknown): void {
    if (!this.sourceError) this.sourceError = { error };
    this.sourceDone = true;
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.state !== RUNNING || this.active > 0) return;
    if (!this.stopped && (!this.sourceDone || this.pulling)) return;
    this.state = FINISHED;
    this.endTime = this.clock.now();
    if (this.signal && this.signalListener) {
      this.signal.removeEventListener('abort', this.signalListener);
      this.signalListener = undefined;
    }
    if (this.deadlineTimer !== undefined) {
      this.clock.clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
    if (!this.sourceDone) this.closeSource();
    const report = this.buildReport();
    this.report = report;
    if (this.deferred) {
      if (this.sourceError) this.deferred.reject(this.sourceError.error);
      else this.deferred.resolve(report);
    }
    this.feedConsumer();
  }

  private closeSource(): void {
    try {
      const closing = this.asyncIter ? this.asyncIter.return?.() : this.iter?.return?.();
      if (isThenable(closing)) closing.then(undefined, () => undefined);
    } catch {
      // The source failed to close; the batch is over either way.
    }
  }

  private buildReport(): BatchReport<T, Awaited<R>> {
    return new Report<T, Awaited<R>>(
      this.store,
      this.done,
      this.succeeded,
      this.failed,
      this.cancelled,
      this.endTime - this.startTime,
      this.cancelError,
    );
  }

  private getDeferred(): NonNullable<Batch<T, R>['deferred']> {
    if (!this.deferred) {
      let resolve!: (r: BatchReport<T, Awaited<R>>) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<BatchReport<T, Awaited<R>>>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.deferred = { promise, resolve, reject };
      if (this.state === FINISHED && this.report) {
        if (this.sourceError) reject(this.sourceError.error);
        else resolve(this.report);
      }
    }
    return this.deferred;
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  private deliver(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    attempts: number,
    durationMs: number,
  ): void {
    this.done++;
    if (this.store) {
      this.store.set(index, item, ok, value, attempts, durationMs);
      return;
    }
    const result: ItemResult<T, Awaited<R>> = ok
      ? { index, item, ok: true, value: value as Awaited<R>, attempts, durationMs }
      : { index, item, ok: false, error: value, attempts, durationMs };
    const consumer = this.consumer;
    if (consumer) {
      this.consumer = undefined;
      consumer.resolve({ done: false, value: result });
    } else {
      (this.buffer as Deque<ItemResult<T, Awaited<R>>>).push(result);
    }
  }

  private nextResult(): Promise<IteratorResult<ItemResult<T, Awaited<R>>>> {
    if (this.consumer)
      return Promise.reject(
        new TypeError('runBatch: next() called before the previous one settled'),
      );
    const ready = this.takeReady();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.consumer = { resolve, reject };
    });
  }

  /** The next iterator result if one is available now. */
  private takeReady(): IteratorResult<ItemResult<T, Awaited<R>>> | undefined {
    const buffer = this.buffer;
    if (buffer && buffer.size > 0) {
      const value = buffer.shift() as ItemResult<T, Awaited<R>>;
      if (!this.stopped && this.state === RUNNING) this.pump();
      return { done: false, value };
    }
    const unstarted = this.cancelledUnstarted;
    if (unstarted.from < unstarted.to) {
      const i = unstarted.from++;
      const array = this.array as ArrayLike<T>;
      return {
        done: false,
        value: {
          index: i,
          item: array[i],
          ok: false,
          error: this.cancelError,
          attempts: 0,
          durationMs: 0,
        },
      };
    }
    if (this.state === FINISHED || this.iteratorClosed) {
      if (this.sourceError && !this.sourceErrorDelivered && !this.iteratorClosed) {
        this.sourceErrorDelivered = true;
        throw this.sourceError.error;
      }
      return { done: true, value: undefined };
    }
    return undefined;
  }

  /** Hands a waiting consumer whatever became available. */
  private feedConsumer(): void {
    const consumer = this.consumer;
    if (!consumer) return;
    // Detach first: taking a result may start items whose results must go to the buffer.
    this.consumer = undefined;
    let ready: IteratorResult<ItemResult<T, Awaited<R>>> | undefined;
    try {
      ready = this.takeReady();
    } catch (error) {
      consumer.reject(error);
      return;
    }
    if (ready) consumer.resolve(ready);
    else this.consumer = consumer;
  }

  // ---------------------------------------------------------------------------------------------
  // Observability

  private emitProgress(): void {
    try {
      (this.onProgress as (p: BatchProgress) => void)(this.progress);
    } catch (error) {
      reportListenerError(error);
    }
  }

  private reportStart(): void {
    emitMetric(this.metrics, 'started', { name: this.name });
    this.reportGauges();
  }

  private reportGauges(): void {
    emitMetric(this.metrics, 'inFlight', { name: this.name, value: this.active });
    if (this.total !== undefined)
      emitMetric(this.metrics, 'queued', {
        name: this.name,
        value: this.total - this.done - this.active,
      });
  }

  private reportEnd(ok: boolean, value: unknown, attempts: number, durationMs: number): void {
    const metrics = this.metrics as ConcurrencyMetricsListener;
    emitMetric(metrics, 'latency', { name: this.name, durationMs, ok });
    if (ok) {
      emitMetric(metrics, 'succeeded', { name: this.name, attempts });
    } else if (metrics.failed) {
      emitMetric(metrics, 'failed', {
        name: this.name,
        attempts,
        kind: this.classify(value, this.clock.now()).kind,
      });
    }
    emitMetric(metrics, 'inFlight', { name: this.name, value: this.active });
  }
}

/** The report of a finished batch; `results` are built from the columnar store on first read. */
class Report<T, R> implements BatchReport<T, R> {
  private materialized: ItemResult<T, R>[] | undefined = undefined;

  constructor(
    private readonly store: ResultStore<T> | undefined,
    readonly total: number,
    readonly succeeded: number,
    readonly failed: number,
    readonly cancelled: number,
    readonly durationMs: number,
    readonly cancelReason: CancelledError | undefined,
  ) {}

  get results(): ReadonlyArray<ItemResult<T, R>> {
    if (!this.store)
      throw new TypeError('runBatch: this run was streamed; its results went to the iterator');
    this.materialized ??= this.store.materialize<R>();
    return this.materialized;
  }
}

const NATIVE_THEN = Promise.prototype.then;

/**
 * An item's `durationMs`: rounded to a whole millisecond, so that V8 keeps it inline in the result
 * object (a fractional number is a heap object of its own per result: with it, building and
 * keeping 200,000 results cost ~80 ns per item more, most of `report.results`' cost).
 */
function wholeMs(ms: number): number {
  return ms > 0 ? Math.round(ms) : 0;
}

/** `isThenable`, module-local: a cross-module call on the per-item path costs a getter under SWC's CommonJS output. */
function thenable<T>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}

function isArrayLike<T>(value: unknown): value is ArrayLike<T> & Iterable<T> {
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof (value as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

function isIterable<T>(value: unknown): value is Iterable<T> {
  return typeof (value as Iterable<T>)[Symbol.iterator] === 'function';
}

/**
 * Runs `fn` over `items` with bounded concurrency. One item's failure never stops the others;
 * every item ends exactly once with an {@link ItemResult}.
 *
 * - Await the run for a {@link BatchReport} with every result in input order:
 *   ```ts
 *   const report = await runBatch(productIds, (id, { signal }) => marketplace.delist(id, { signal }), {
 *     concurrency: 8,
 *     policy: composePolicies(retry({ maxAttempts: 3 }), timeout(10_000)),
 *     deadlineMs: 120_000,
 *     onProgress: (p) => job.update(p),
 *   });
 *   const failed = report.results.filter((r) => !r.ok);
 *   ```
 * - Or iterate it to stream results as they finish, in bounded memory (the runner stops taking
 *   items while `highWaterMark` results wait for the consumer; breaking out of the loop cancels the
 *   batch):
 *   ```ts
 *   for await (const r of runBatch(cursor, generatePost, { concurrency: 2 })) res.write(JSON.stringify(r) + '\n');
 *   ```
 *
 * Items are taken from the source only when a slot is free, so a million-item async iterable runs
 * in memory proportional to the concurrency. Cancellation (`signal`, `deadlineMs`, `cancel()`)
 * stops starting items, aborts running calls' `ctx.signal` and ends them at once with a
 * {@link CancelledError}/{@link DeadlineExceededError}; items of an array input that never started
 * end with the same error (`attempts: 0`). The run rejects only if the input itself throws (after
 * the running items finish).
 */
export function runBatch<T, R>(
  items: BatchInput<T>,
  fn: ItemFn<T, R>,
  options: BatchOptions,
): BatchRun<T, Awaited<R>> {
  return new Batch<T, R>(items, fn, options);
}
