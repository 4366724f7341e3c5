import { ManualClock } from './clock';
import {
  AuthError,
  CancelledError,
  PermanentError,
  RateLimitedError,
  RetryBudgetExceededError,
  TimeoutError,
  TransientError,
} from './errors';
import type { ConcurrencyMetricsListener, RetriedEvent } from './metrics';
import { composePolicies } from './policy';
import { RetryBudget, retry } from './retry';
import { timeout } from './timeout';

/** A call that fails with the given errors in turn, then returns 'ok'. */
function flaky(errors: unknown[]) {
  const attempts: number[] = [];
  const fn = jest.fn(({ attempt }: { attempt: number }) => {
    attempts.push(attempt);
    const error = errors.shift();
    return error === undefined ? Promise.resolve('ok') : Promise.reject(error);
  });
  return { fn, attempts };
}

describe('RetryPolicy', () => {
  it('retries transient errors with capped exponential backoff and full jitter', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const policy = retry({
      clock,
      maxAttempts: 5,
      backoff: { initialDelayMs: 100, multiplier: 2, maxDelayMs: 300 },
      random: () => 0.5,
      onRetry: (e) => delays.push(e.delayMs),
    });
    const { fn, attempts } = flaky([
      new TransientError(),
      new TransientError(),
      new TransientError(),
      new TransientError(),
    ]);
    const result = policy.execute(fn);
    await clock.runAllAsync();
    await expect(result).resolves.toBe('ok');
    // 0.5 × min(300, 100·2^(n-1)): 50, 100, 150, 150
    expect(delays).toEqual([50, 100, 150, 150]);
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    expect(clock.now()).toBe(450);
  });

  it('draws each delay uniformly below the exponential ceiling', () => {
    const values = [0, 0.999, 0.25];
    const policy = retry({
      backoff: { initialDelayMs: 1_000, maxDelayMs: 60_000 },
      random: () => values.shift() ?? 0,
    });
    expect(policy.delayFor({ kind: 'transient' }, 1)).toBe(0);
    expect(policy.delayFor({ kind: 'timeout' }, 3)).toBeCloseTo(3_996);
    expect(policy.delayFor({ kind: 'transient' }, 10)).toBe(15_000);
  });

  it('waits Retry-After (or the fixed delay) for rate limits, and gives up when it is too long', async () => {
    const clock = new ManualClock();
    const policy = retry({
      clock,
      maxAttempts: 4,
      rateLimitDelayMs: 700,
      maxRetryAfterMs: 5_000,
      random: () => 0,
    });
    const { fn } = flaky([new RateLimitedError(2_000), new RateLimitedError()]);
    const result = policy.execute(fn);
    await clock.advanceAsync(1_999);
    expect(fn).toHaveBeenCalledTimes(1);
    await clock.advanceAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    await clock.advanceAsync(700);
    await expect(result).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(3);

    const tooLong = new RateLimitedError(60_000);
    await expect(
      retry({ clock, maxRetryAfterMs: 5_000 }).execute(() => Promise.reject(tooLong)),
    ).rejects.toBe(tooLong);
  });

  it('honours an HTTP 429 with a Retry-After header from the default classifier', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock });
    const tooMany = Object.assign(new Error('429'), {
      status: 429,
      headers: { 'retry-after': '3' },
    });
    const { fn } = flaky([tooMany]);
    const result = policy.execute(fn);
    await clock.advanceAsync(3_000);
    await expect(result).resolves.toBe('ok');
    expect(clock.now()).toBe(3_000);
  });

  it.each([
    ['permanent', new PermanentError()],
    ['HTTP 400', Object.assign(new Error('bad'), { status: 400 })],
    ['auth', new AuthError()],
    ['cancelled', new CancelledError()],
  ])('does not retry %s errors', async (_, error) => {
    const policy = retry({ clock: new ManualClock() });
    const { fn } = flaky([error]);
    await expect(policy.execute(fn)).rejects.toBe(error);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('rethrows the last error after maxAttempts', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, maxAttempts: 3, random: () => 0 });
    const last = new TransientError('third');
    const { fn } = flaky([
      new TransientError('first'),
      new TransientError('second'),
      last,
      new TransientError('never'),
    ]);
    const assertion = expect(policy.execute(fn)).rejects.toBe(last);
    await clock.runAllAsync();
    await assertion;
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('retries timeouts of the inner policy, each attempt with its own timeout', async () => {
    const clock = new ManualClock();
    const policy = composePolicies(
      retry({ clock, maxAttempts: 3, random: () => 0 }),
      timeout(100, { clock }),
    );
    let calls = 0;
    const result = policy.execute(({ attempt }) => {
      calls++;
      return attempt < 3 ? new Promise(() => undefined) : Promise.resolve(`done on ${attempt}`);
    });
    await clock.advanceAsync(250);
    await expect(result).resolves.toBe('done on 3');
    expect(calls).toBe(3);
    expect(clock.now()).toBe(250);
  });

  it('stops a backoff wait at once when the caller aborts', async () => {
    const clock = new ManualClock();
    const policy = retry({
      clock,
      backoff: { initialDelayMs: 10_000 },
      random: () => 1 - Number.EPSILON,
    });
    const caller = new AbortController();
    const { fn } = flaky([new TransientError(), new TransientError()]);
    const result = policy.execute(fn, caller.signal);
    await clock.advanceAsync(100);
    caller.abort(new CancelledError('shutting down'));
    await expect(result).rejects.toThrow('shutting down');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses retries beyond the budget and reports it', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ clock, ratio: 0.1, minRetries: 1, windowMs: 1_000 });
    const exhausted = jest.fn();
    const retried = jest.fn();
    const metrics: ConcurrencyMetricsListener = { retryBudgetExhausted: exhausted, retried };
    const policy = retry({
      clock,
      budget,
      metrics,
      name: 'itick',
      maxAttempts: 2,
      random: () => 0,
    });
    // 10 calls that succeed build up a budget of 1 + 0.1 × calls.
    for (let i = 0; i < 10; i++) await policy.execute(() => 'fine');
    const failing = () => Promise.reject(new TransientError('down'));
    const outcomes = await Promise.allSettled([
      policy.execute(failing),
      policy.execute(failing),
      policy.execute(failing),
    ]);
    await clock.runAllAsync();
    const errors = outcomes.map((o) =>
      o.status === 'rejected' ? (o.reason as Error).name : 'fulfilled',
    );
    // budget = 1 + 0.1 × 13 = 2.3 → the first two failures are retried (and fail again: that was
    // their last attempt), the third is refused.
    expect(retried).toHaveBeenCalledTimes(2);
    expect(exhausted).toHaveBeenCalledTimes(1);
    expect(exhausted).toHaveBeenCalledWith({ name: 'itick', kind: 'transient' });
    expect(errors).toEqual(['TransientError', 'TransientError', 'RetryBudgetExceededError']);
    const refused = outcomes.find(
      (o) => o.status === 'rejected' && o.reason instanceof RetryBudgetExceededError,
    ) as PromiseRejectedResult;
    expect((refused.reason as RetryBudgetExceededError).cause).toBeInstanceOf(TransientError);
  });

  it('emits retried metrics with the next attempt number and the error kind', async () => {
    const clock = new ManualClock();
    const events: RetriedEvent[] = [];
    const policy = retry({
      clock,
      metrics: { retried: (e) => events.push(e) },
      random: () => 0,
      name: 'openai',
    });
    const { fn } = flaky([new TimeoutError(5), new RateLimitedError(50)]);
    const result = policy.execute(fn);
    await clock.runAllAsync();
    await result;
    expect(events).toEqual([
      { name: 'openai', attempt: 2, delayMs: 0, kind: 'timeout' },
      { name: 'openai', attempt: 3, delayMs: 50, kind: 'rate-limited' },
    ]);
  });

  it('validates options', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => retry({ backoff: { multiplier: 0.5 } })).toThrow(RangeError);
    expect(() => retry({ rateLimitDelayMs: -1 })).toThrow(RangeError);
    expect(() => new RetryBudget({ ratio: -1 })).toThrow(RangeError);
  });
});

describe('RetryBudget', () => {
  it('allows minRetries plus ratio × calls over the sliding window', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ clock, ratio: 0.2, minRetries: 2, windowMs: 10_000 });
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.available).toBe(4);
    const granted = Array.from({ length: 6 }, () => budget.tryRetry());
    expect(granted).toEqual([true, true, true, true, false, false]);
    // Calls and retries age out of the window.
    clock.advance(10_001);
    expect(budget.available).toBe(2);
    expect(budget.tryRetry()).toBe(true);
  });
});
