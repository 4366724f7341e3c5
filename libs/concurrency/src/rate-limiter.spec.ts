import { getEventListeners } from 'node:events';
import { fc, checkProperty } from '../test/property';
import { ManualClock } from './clock';
import { QueueFullError } from './errors';
import { KeyedRateLimiter, RateLimiter } from './rate-limiter';
import { composePolicies } from './policy';
import { retry } from './retry';

/** Most grants seen in any half-open window [t, t + windowMs) starting at a grant. */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[j] + windowMs <= sorted[i]) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('RateLimiter', () => {
  it('grants a burst of `limit`, then one permit per freed slot of the window', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 3, intervalMs: 1_000, marginMs: 0, clock });
    const grants: number[] = [];
    const all = Array.from({ length: 7 }, () =>
      limiter.acquire().then(() => grants.push(clock.now())),
    );
    await clock.runAllAsync();
    await Promise.all(all);
    expect(grants).toEqual([0, 0, 0, 1_000, 1_000, 1_000, 2_000]);
  });

  it('spreads permits with a smaller burst', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 4, intervalMs: 1_000, marginMs: 0, burst: 1, clock });
    const grants: number[] = [];
    const all = Array.from({ length: 5 }, () =>
      limiter.acquire().then(() => grants.push(clock.now())),
    );
    await clock.runAllAsync();
    await Promise.all(all);
    expect(grants).toEqual([0, 250, 500, 750, 1_000]);
  });

  it('serves waiters first come, first served, and new callers queue behind them', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 100, marginMs: 0, clock });
    const order: string[] = [];
    const a = limiter.acquire().then(() => order.push('a'));
    const b = limiter.acquire().then(() => order.push('b'));
    await clock.advanceAsync(50);
    const c = limiter.acquire().then(() => order.push('c'));
    expect(limiter.tryAcquire()).toBe(false);
    expect(limiter.queued).toBe(2);
    await clock.runAllAsync();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('drops an aborted waiter at once and gives its turn to the next', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 100, marginMs: 0, clock });
    await limiter.acquire();
    const caller = new AbortController();
    const aborted = limiter.acquire(caller.signal);
    const next = limiter.acquire();
    caller.abort(new Error('gone'));
    await expect(aborted).rejects.toThrow('gone');
    expect(limiter.queued).toBe(1);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    await clock.advanceAsync(100);
    await expect(next).resolves.toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('sheds load beyond maxQueued', async () => {
    const limiter = new RateLimiter({
      limit: 1,
      intervalMs: 1_000,
      marginMs: 0,
      maxQueued: 1,
      clock: new ManualClock(),
    });
    await limiter.acquire();
    void limiter.acquire().catch(() => undefined);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(QueueFullError);
  });

  it('works as a policy, one permit per attempt', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 2, intervalMs: 1_000, marginMs: 0, clock });
    const policy = composePolicies(retry({ clock, random: () => 0, maxAttempts: 3 }), limiter);
    const starts: number[] = [];
    const result = policy.execute(({ attempt }) => {
      starts.push(clock.now());
      return attempt < 3 ? Promise.reject(new Error('flaky')) : Promise.resolve(attempt);
    });
    await clock.runAllAsync();
    await expect(result).resolves.toBe(3);
    expect(starts).toEqual([0, 0, 1_000]);
  });

  it('reports its queue to the metrics listener', async () => {
    const clock = new ManualClock();
    const queued = jest.fn();
    const limiter = new RateLimiter({
      limit: 1,
      intervalMs: 10,
      marginMs: 0,
      clock,
      name: 'rl',
      metrics: { queued },
    });
    await limiter.acquire();
    const p = limiter.acquire();
    expect(queued).toHaveBeenLastCalledWith({ name: 'rl', value: 1 });
    await clock.advanceAsync(10);
    await p;
    expect(queued).toHaveBeenLastCalledWith({ name: 'rl', value: 0 });
  });

  it('reuses a permit only after intervalMs plus a safety margin (1 % by default)', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 2, intervalMs: 1_000, clock });
    const grants: number[] = [];
    const all = Array.from({ length: 3 }, () =>
      limiter.acquire().then(() => grants.push(clock.now())),
    );
    await clock.runAllAsync();
    await Promise.all(all);
    expect(grants).toEqual([0, 0, 1_010]);
  });

  it('starts queued calls in grant order, counting the window from their actual start', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 2, intervalMs: 100, marginMs: 0, clock });
    const starts: Array<[number, number]> = [];
    const run = (id: number, busyMs: number) =>
      limiter.execute(() => {
        starts.push([id, clock.now()]);
        clock.advance(busyMs); // a call that keeps the event loop busy before yielding
        return id;
      });
    const all = [run(0, 0), run(1, 0), run(2, 30), run(3, 0), run(4, 0), run(5, 0)];
    await clock.runAllAsync();
    await Promise.all(all);
    // 2 and 3 are granted in one round at t=100, but 2 holds the loop for 30 ms, so 3 starts at
    // 130; 4 reuses 2's slot (100 + 100), 5 reuses 3's slot counted from its start (130 + 100).
    expect(starts.map(([id]) => id)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(starts.map(([, t]) => t)).toEqual([0, 0, 100, 130, 200, 230]);
  });

  it('validates options', () => {
    expect(() => new RateLimiter({ limit: 1, intervalMs: 10, marginMs: -1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ limit: 0, intervalMs: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ limit: 1, intervalMs: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter({ limit: 2, intervalMs: 1, marginMs: 0, burst: 0 })).toThrow(
      RangeError,
    );
  });

  it('property: never more than `limit` grants in any window, FIFO, every live waiter served', async () => {
    await checkProperty(
      'rate limiter window',
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 5, max: 500 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        // arrivals: [delay since previous arrival, aborted after ms (or never)]
        fc.array(
          fc.tuple(
            fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
            fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
          ),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        async (limit, intervalMs, burstOption, arrivals) => {
          const clock = new ManualClock();
          const burst = burstOption === undefined ? undefined : Math.min(burstOption, limit);
          const limiter = new RateLimiter({ limit, intervalMs, burst, clock });
          const grants: Array<{ id: number; at: number }> = [];
          const waits: Promise<unknown>[] = [];
          let aborts = 0;
          for (let id = 0; id < arrivals.length; id++) {
            const [delay, abortAfter] = arrivals[id];
            await clock.advanceAsync(delay);
            const ctrl = new AbortController();
            if (abortAfter !== undefined) clock.setTimeout(() => ctrl.abort(), abortAfter);
            waits.push(
              limiter.acquire(ctrl.signal).then(
                () => grants.push({ id, at: clock.now() }),
                () => aborts++,
              ),
            );
          }
          await clock.runAllAsync();
          await Promise.all(waits);
          expect(grants.length + aborts).toBe(arrivals.length);
          const times = grants.map((g) => g.at);
          expect(maxInWindow(times, intervalMs)).toBeLessThanOrEqual(limit);
          if (burst !== undefined && burst < limit) {
            // Token bucket: at most `burst` permits at the same instant.
            expect(maxInWindow(times, 1e-9)).toBeLessThanOrEqual(burst);
          }
          // FIFO: grants come in arrival order.
          const ids = grants.map((g) => g.id);
          expect(ids).toEqual([...ids].sort((a, b) => a - b));
          expect(limiter.queued).toBe(0);
        },
      ),
    );
  });
});

describe('KeyedRateLimiter', () => {
  it('limits each key on its own and forgets idle keys', async () => {
    const clock = new ManualClock();
    const keyed = new KeyedRateLimiter<string>({ limit: 1, intervalMs: 100, marginMs: 0, clock });
    expect(keyed.tryAcquire('a')).toBe(true);
    expect(keyed.tryAcquire('a')).toBe(false);
    expect(keyed.tryAcquire('b')).toBe(true);
    expect(keyed.size).toBe(2);
    const waited = keyed.acquire('a');
    await clock.advanceAsync(100);
    await waited;
    clock.advance(1_000);
    expect(keyed.tryAcquire('c')).toBe(true);
    expect(keyed.size).toBe(1); // a and b were idle and dropped
  });

  it('offers a policy per key', async () => {
    const clock = new ManualClock();
    const keyed = new KeyedRateLimiter<number>({ limit: 1, intervalMs: 50, marginMs: 0, clock });
    const starts: string[] = [];
    const run = (key: number) =>
      keyed.forKey(key).execute(() => starts.push(`${key}@${clock.now()}`));
    const all = [run(1), run(1), run(2)];
    await clock.runAllAsync();
    await Promise.all(all);
    expect(starts.sort()).toEqual(['1@0', '1@50', '2@0']);
    await expect(keyed.execute(3, () => 'x')).resolves.toBe('x');
  });
});
