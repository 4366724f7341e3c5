import { setImmediate } from 'node:timers';
import { type Clock, type TimerHandle, systemClock } from './clock';
import { type CallContext, OwnScope, Scope, isThenable } from './context';
import { TimeoutError } from './errors';
import { nowOf } from './internal/dispatch';
import { BasePolicy, type Call } from './policy';

/** Options of {@link TimeoutPolicy}. */
export interface TimeoutOptions {
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
}

/** One attempt under a timeout: its own abort state plus a place in the deadline list. */
class TimedScope extends OwnScope {
  // Declared, then assigned in the constructor: see the note in `Scope`.
  declare deadline: number;
  /** Settled (value, error, timeout or abort); also means "not in the deadline list". */
  declare settled: boolean;
  declare prevDue: TimedScope | undefined;
  declare nextDue: TimedScope | undefined;
  declare reject: ((error: unknown) => void) | undefined;
  declare private readonly policy: TimeoutPolicy;

  constructor(parent: Scope, policy: TimeoutPolicy, deadline: number) {
    super(parent);
    this.policy = policy;
    this.deadline = deadline;
    this.settled = false;
    this.prevDue = undefined;
    this.nextDue = undefined;
    this.reject = undefined;
  }

  protected override handleAbort(reason: unknown): void {
    // The caller gave up (batch cancelled, caller's signal): stop waiting now.
    if (this.settled) return;
    const reject = this.reject;
    this.policy.settle(this);
    reject?.(reason);
  }
}

/**
 * Gives each call at most `timeoutMs`. When the time is up the call's `ctx.signal` aborts with a
 * {@link TimeoutError} and the policy rejects with it at once, even if the call ignores the
 * signal (the call is abandoned; its late result is dropped).
 *
 * No timer is created per call: all calls of one policy share one deadline list (deadlines of a
 * fixed timeout arrive in order) and one timer armed for the earliest deadline, and the
 * `AbortController` is only created if the call reads `ctx.signal`.
 *
 * ```ts
 * const withTimeout = timeout(5_000);
 * const body = await withTimeout.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 * ```
 */
export class TimeoutPolicy extends BasePolicy {
  readonly timeoutMs: number;
  private readonly clock: Clock;
  private head: TimedScope | undefined = undefined;
  private tail: TimedScope | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  private armedFor = 0;
  private readonly onTimer = (): void => this.fire();
  private idleCheck = false;
  private readonly onIdleCheck = (): void => {
    this.idleCheck = false;
    if (!this.head && this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  };

  constructor(timeoutMs: number, options: TimeoutOptions = {}) {
    super();
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(`timeoutMs must be a positive finite number, got ${timeoutMs}`);
    }
    this.timeoutMs = timeoutMs;
    this.clock = options.clock ?? systemClock;
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    const parent = Scope.from(ctx);
    if (parent.aborted) return Promise.reject(parent.reason);
    return new Promise<Awaited<R>>((resolve, reject) => {
      const scope = new TimedScope(parent, this, nowOf(this.clock) + this.timeoutMs);
      this.enqueue(scope);
      scope.reject = reject;
      let result: R | PromiseLike<R>;
      try {
        result = fn(scope);
      } catch (error) {
        this.settle(scope);
        reject(error);
        return;
      }
      if (isThenable<R>(result)) {
        result.then(
          (value) => {
            if (scope.settled) return;
            this.settle(scope);
            resolve(value as Awaited<R>);
          },
          (error: unknown) => {
            if (scope.settled) return;
            this.settle(scope);
            reject(error);
          },
        );
      } else {
        this.settle(scope);
        resolve(result as Awaited<R>);
      }
    });
  }

  /** @internal */
  settle(scope: TimedScope): void {
    this.dequeue(scope);
    scope.settled = true;
    scope.reject = undefined;
    scope.dispose();
  }

  private enqueue(scope: TimedScope): void {
    scope.prevDue = this.tail;
    if (this.tail) this.tail.nextDue = scope;
    else this.head = scope;
    this.tail = scope;
    if (this.timer === undefined) this.arm(scope.deadline);
  }

  private dequeue(scope: TimedScope): void {
    if (scope.settled) return;
    if (scope.prevDue) scope.prevDue.nextDue = scope.nextDue;
    else this.head = scope.nextDue;
    if (scope.nextDue) scope.nextDue.prevDue = scope.prevDue;
    else this.tail = scope.prevDue;
    scope.prevDue = scope.nextDue = undefined;
    if (!this.head && this.timer !== undefined && !this.idleCheck) {
      // Nothing left to time out: the armed timer must not keep the process alive for up to
      // `timeoutMs`. Clearing it here would re-create it for the next call, and with bursts of
      // short calls that is a timer per call, so check once the current burst is over.
      this.idleCheck = true;
      setImmediate(this.onIdleCheck);
    }
  }

  private arm(at: number): void {
    this.armedFor = at;
    this.timer = this.clock.setTimeout(this.onTimer, Math.max(0, at - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head && this.head.deadline <= now) this.expire(this.head);
    const head = this.head;
    if (!head) return;
    if (this.timer !== undefined && this.armedFor <= head.deadline) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.arm(head.deadline);
  }

  private expire(scope: TimedScope): void {
    const reject = scope.reject;
    this.settle(scope);
    const error = new TimeoutError(this.timeoutMs);
    scope.abort(error);
    reject?.(error);
  }
}

/** Shorthand for `new TimeoutPolicy(timeoutMs, options)`. */
export function timeout(timeoutMs: number, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(timeoutMs, options);
}
