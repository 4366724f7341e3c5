import { getEventListeners } from 'node:events';
import { ManualClock } from './clock';
import type { CallContext } from './context';
import { TimeoutError } from './errors';
import { timeout } from './timeout';

/** A call that settles after `ms` on `clock`, or rejects with the abort reason when its signal aborts. */
function slowCall<T>(clock: ManualClock, ms: number, value: T) {
  return ({ signal }: CallContext) =>
    new Promise<T>((resolve, reject) => {
      const handle = clock.setTimeout(() => resolve(value), ms);
      signal.addEventListener('abort', () => {
        clock.clearTimeout(handle);
        reject(signal.reason);
      });
    });
}

describe('TimeoutPolicy', () => {
  it('passes results through when the call is fast enough', async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock });
    const result = policy.execute(slowCall(clock, 60, 'ok'));
    await clock.advanceAsync(60);
    await expect(result).resolves.toBe('ok');
    expect(await policy.execute(() => 7)).toBe(7);
  });

  it('rejects with TimeoutError at the deadline and aborts the call signal', async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock });
    let seen: AbortSignal | undefined;
    const result = policy.execute((ctx) => {
      seen = ctx.signal;
      return slowCall(clock, 500, 'late')(ctx);
    });
    const settled = jest.fn();
    result.then(settled, settled);
    await clock.advanceAsync(99);
    expect(settled).not.toHaveBeenCalled();
    await clock.advanceAsync(1);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
    expect(clock.now()).toBe(100);
  });

  it('abandons a call that ignores its signal', async () => {
    const clock = new ManualClock();
    const policy = timeout(50, { clock });
    let finishedLate = false;
    const result = policy.execute(
      () =>
        new Promise<string>((resolve) =>
          clock.setTimeout(() => {
            finishedLate = true;
            resolve('ignored');
          }, 1_000),
        ),
    );
    await clock.advanceAsync(50);
    await expect(result).rejects.toThrow('call timed out after 50 ms');
    await clock.advanceAsync(1_000);
    expect(finishedLate).toBe(true); // it ran on, but its result was dropped
  });

  it('gives each call its own deadline with one shared timer', async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock });
    const outcomes: string[] = [];
    const start = (name: string, ms: number) =>
      policy.execute(slowCall(clock, ms, name)).then(
        (v) => outcomes.push(`${v}@${clock.now()}`),
        (e: Error) => outcomes.push(`${name}:${e.name}@${clock.now()}`),
      );
    const all = [start('a', 150)];
    await clock.advanceAsync(30);
    all.push(start('b', 50), start('c', 200));
    expect(clock.pendingTimers).toBe(4); // 3 calls + 1 timeout timer
    await clock.advanceAsync(300);
    await Promise.all(all);
    expect(outcomes).toEqual(['b@80', 'a:TimeoutError@100', 'c:TimeoutError@130']);
  });

  it('stops waiting at once when the caller aborts, with the caller reason', async () => {
    const clock = new ManualClock();
    const policy = timeout(1_000, { clock });
    const caller = new AbortController();
    const result = policy.execute(() => new Promise(() => undefined), caller.signal);
    await clock.advanceAsync(10);
    caller.abort(new Error('client went away'));
    await expect(result).rejects.toThrow('client went away');
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once when the caller signal is already aborted, without calling', async () => {
    const policy = timeout(1_000, { clock: new ManualClock() });
    const fn = jest.fn();
    await expect(policy.execute(fn, AbortSignal.abort('nope'))).rejects.toBe('nope');
    expect(fn).not.toHaveBeenCalled();
  });

  it('propagates synchronous throws and leaves no listener on a long-lived signal', async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock });
    const longLived = new AbortController().signal;
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }, longLived),
    ).rejects.toThrow('sync');
    for (let i = 0; i < 20; i++)
      await policy.execute(async ({ signal }) => signal.aborted, longLived);
    expect(getEventListeners(longLived, 'abort')).toHaveLength(0);
  });

  it('does not keep a timer armed once idle', async () => {
    const clock = new ManualClock();
    const policy = timeout(30_000, { clock });
    await policy.execute(async () => 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands out one signal per attempt, created lazily and stable', async () => {
    const policy = timeout(100, { clock: new ManualClock() });
    await policy.execute((ctx) => {
      expect(ctx.signal).toBe(ctx.signal);
      expect(ctx.signal.aborted).toBe(false);
      expect(ctx.attempt).toBe(1);
    });
  });

  it('validates its argument', () => {
    expect(() => timeout(0)).toThrow(RangeError);
    expect(() => timeout(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
