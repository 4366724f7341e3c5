import { getEventListeners } from 'node:events';
import { CircuitBreaker } from './circuit-breaker';
import { ManualClock } from './clock';
import { type CallContext, sleep } from './context';
import { BrokenCircuitError, TimeoutError, TransientError } from './errors';
import { type Call, type Policy, composePolicies, noopPolicy } from './policy';
import { RateLimiter } from './rate-limiter';
import { retry } from './retry';
import { runBatch } from './run-batch';
import { timeout } from './timeout';

/** A policy from outside the library: it only implements `execute`. */
class TracingPolicy implements Policy {
  readonly log: string[] = [];
  constructor(private readonly label: string) {}
  async execute<R>(fn: Call<R>, signal?: AbortSignal): Promise<Awaited<R>> {
    this.log.push(`${this.label}:enter`);
    try {
      const inner = new AbortController();
      signal?.addEventListener('abort', () => inner.abort(signal.reason), { once: true });
      return await fn({ signal: inner.signal, attempt: 1 });
    } finally {
      this.log.push(`${this.label}:leave`);
    }
  }
}

describe('composePolicies', () => {
  it('runs policies outermost first and collapses trivial compositions', async () => {
    expect(composePolicies()).toBe(noopPolicy);
    const t = timeout(10);
    expect(composePolicies(noopPolicy, t)).toBe(t);
    const outer = new TracingPolicy('outer');
    const inner = new TracingPolicy('inner');
    await expect(composePolicies(outer, inner).execute(() => 'done')).resolves.toBe('done');
    expect(outer.log).toEqual(['outer:enter', 'outer:leave']);
    expect(inner.log).toEqual(['inner:enter', 'inner:leave']);
  });

  it('noopPolicy runs the call and turns sync throws into rejections', async () => {
    await expect(noopPolicy.execute(() => 3)).resolves.toBe(3);
    await expect(
      noopPolicy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('retry → breaker → timeout: each attempt timed out, the breaker opens, retries stop', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, consecutiveFailures: 2, recoveryTimeMs: 10_000 });
    const policy = composePolicies(
      retry({ clock, maxAttempts: 5, random: () => 0 }),
      breaker,
      timeout(50, { clock }),
    );
    const attempts: number[] = [];
    const result = policy.execute(({ attempt }) => {
      attempts.push(attempt);
      return new Promise(() => undefined);
    });
    const assertion = expect(result).rejects.toBeInstanceOf(BrokenCircuitError);
    await clock.runAllAsync();
    await assertion;
    // Two timeouts open the breaker; the third attempt is rejected without running.
    expect(attempts).toEqual([1, 2]);
    expect(breaker.state).toBe('open');
  });

  it('lets foreign policies take part, in a batch too', async () => {
    const clock = new ManualClock();
    const tracing = new TracingPolicy('t');
    const policy = composePolicies(
      retry({ clock, maxAttempts: 2, random: () => 0 }),
      tracing,
      timeout(100, { clock }),
    );
    const seen: Array<[number, number, boolean]> = [];
    const run = runBatch(
      ['a', 'b'],
      (item, ctx) => {
        seen.push([ctx.index, ctx.attempt, ctx.signal.aborted]);
        return item === 'b' && ctx.attempt === 1
          ? Promise.reject(new TransientError())
          : Promise.resolve(item);
      },
      { concurrency: 2, clock, policy },
    );
    await clock.runAllAsync();
    const report = await run;
    expect(report.results.map((r) => [r.ok, r.attempts])).toEqual([
      [true, 1],
      [true, 2],
    ]);
    expect(seen.sort()).toEqual([
      [0, 1, false],
      [1, 1, false],
      [1, 2, false],
    ]);
    expect(tracing.log.filter((l) => l.endsWith('enter'))).toHaveLength(3);
  });

  it('cancels through every layer: rate-limit wait, backoff and timeout', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 60_000, clock });
    const policy = composePolicies(
      retry({ clock, random: () => 0.99, backoff: { initialDelayMs: 1_000 } }),
      limiter,
      timeout(100, { clock }),
    );
    const caller = new AbortController();
    const first = policy.execute(() => Promise.reject(new TransientError()), caller.signal); // takes the permit, then backs off
    const second = policy.execute(() => 'never', caller.signal); // waits for a permit
    await clock.advanceAsync(10);
    expect(limiter.queued).toBe(1);
    caller.abort(new Error('stop'));
    await expect(first).rejects.toThrow('stop');
    await expect(second).rejects.toThrow('stop');
    expect(limiter.queued).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('passes a TimeoutError as the abort reason of the attempt signal', async () => {
    const clock = new ManualClock();
    let reason: unknown;
    const p = timeout(5, { clock }).execute(
      (ctx: CallContext) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(reason);
          }),
        ),
    );
    const assertion = expect(p).rejects.toBeInstanceOf(TimeoutError);
    await clock.advanceAsync(5);
    await assertion;
    expect(reason).toBeInstanceOf(TimeoutError);
  });
});

describe('sleep', () => {
  it('waits on the given clock and stops when the signal aborts', async () => {
    const clock = new ManualClock();
    const done = jest.fn();
    const p = sleep(100, { clock }).then(done);
    await clock.advanceAsync(99);
    expect(done).not.toHaveBeenCalled();
    await clock.advanceAsync(1);
    await p;
    expect(done).toHaveBeenCalled();
    const ctrl = new AbortController();
    const aborted = sleep(1_000, { clock, signal: ctrl.signal });
    ctrl.abort(new Error('woken'));
    await expect(aborted).rejects.toThrow('woken');
    expect(clock.pendingTimers).toBe(0);
    expect(getEventListeners(ctrl.signal, 'abort')).toHaveLength(0);
  });
});
