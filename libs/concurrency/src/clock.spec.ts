import { ManualClock, systemClock } from './clock';

describe('ManualClock', () => {
  it('runs due timers in due-time order, then creation order, and sets now() to each due time', () => {
    const clock = new ManualClock(1_000);
    const seen: Array<[string, number]> = [];
    clock.setTimeout(() => seen.push(['b', clock.now()]), 20);
    clock.setTimeout(() => seen.push(['a', clock.now()]), 10);
    clock.setTimeout(() => seen.push(['c', clock.now()]), 20);
    expect(clock.pendingTimers).toBe(3);
    expect(clock.advance(15)).toBe(1);
    expect(seen).toEqual([['a', 1_010]]);
    expect(clock.now()).toBe(1_015);
    clock.advance(100);
    expect(seen).toEqual([
      ['a', 1_010],
      ['b', 1_020],
      ['c', 1_020],
    ]);
    expect(clock.now()).toBe(1_115);
    expect(clock.pendingTimers).toBe(0);
  });

  it('cancels timers and runs timers scheduled by timers within the same advance', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const handle = clock.setTimeout(() => fired.push(1), 5);
    clock.clearTimeout(handle);
    clock.clearTimeout(handle); // idempotent
    clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 3), 4);
    expect(clock.nextTimerAt()).toBe(4);
    clock.advance(10);
    expect(fired).toEqual([7]);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it('advanceAsync lets promise callbacks run between timers', async () => {
    const clock = new ManualClock();
    const order: string[] = [];
    const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    const task = (async () => {
      await wait(10);
      order.push(`first@${clock.now()}`);
      await wait(10); // scheduled from a promise callback, due within the same advance
      order.push(`second@${clock.now()}`);
    })();
    await clock.advanceAsync(25);
    await task;
    expect(order).toEqual(['first@10', 'second@20']);
    expect(clock.now()).toBe(25);
  });

  it('runAllAsync runs until no timer is left and refuses endless timers', async () => {
    const clock = new ManualClock();
    let n = 0;
    const tick = () => {
      n++;
      if (n < 5) clock.setTimeout(tick, 100);
    };
    clock.setTimeout(tick, 100);
    expect(await clock.runAllAsync()).toBe(5);
    expect(clock.now()).toBe(500);
    const forever = () => clock.setTimeout(forever, 1);
    forever();
    await expect(clock.runAllAsync(50)).rejects.toThrow(/more than 50 timers/);
  });

  it('treats negative and non-finite delays as zero', () => {
    const clock = new ManualClock(5);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), -10);
    clock.setTimeout(() => fired.push(clock.now()), Number.NaN);
    clock.advance(0);
    expect(fired).toEqual([5, 5]);
  });
});

describe('systemClock', () => {
  it('is monotonic and close to the epoch', () => {
    const a = systemClock.now();
    const b = systemClock.now();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - Date.now())).toBeLessThan(1_000);
  });

  it('fires and cancels real timers', async () => {
    let cancelled = false;
    const h = systemClock.setTimeout(() => (cancelled = true), 1);
    systemClock.clearTimeout(h);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 2));
    expect(cancelled).toBe(false);
  });
});
