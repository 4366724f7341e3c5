import { getEventListeners } from 'node:events';
import { ManualClock } from './clock';
import { sleep } from './context';
import { CallDurationFloor, WindowPacer } from './window-pacer';

describe('WindowPacer', () => {
  const setup = (durations: number[]) => {
    const clock = new ManualClock();
    const floor = new CallDurationFloor(30_000, clock);
    const pacer = new WindowPacer({
      limit: 2,
      windowMs: 1_000,
      durationFloor: floor,
      marginMs: 10,
      maxLatenessMs: 50,
      clock,
    });
    const starts: number[] = [];
    /** A call that takes `ms` of the manual clock's time (advanced by the test, not waited for). */
    const runCall = (ms: number) =>
      pacer.run(async () => {
        starts.push(clock.now());
        await sleep(ms, { clock });
      });
    return { clock, pacer, starts, runCall, done: Promise.all(durations.map(runCall)) };
  };

  it('starts at most `limit` calls per window, a window plus the margin after the call they follow', async () => {
    const { clock, starts, done } = setup([20, 20, 20, 20, 20]);
    await clock.runAllAsync();
    await done;
    expect(starts).toEqual([0, 0, 1_010, 1_010, 2_020]);
  });

  it('frees a call\'s place a window after it started plus how much longer it took than the fastest call, up to the cap', async () => {
    // Call 0 took 45 ms where the fastest took 20: it may have been counted 25 ms late. Call 2
    // takes call 1's place (free at 1 010 ms), call 3 call 0's (at 1 035).
    const late = setup([45, 20, 20, 20]);
    await late.clock.runAllAsync();
    await late.done;
    expect(late.starts).toEqual([0, 0, 1_010, 1_035]);

    // Call 0 took 500 ms: counted as 50 ms late (the cap).
    const slow = setup([500, 20, 20, 20]);
    await slow.clock.runAllAsync();
    await slow.done;
    expect(slow.starts).toEqual([0, 0, 1_010, 1_060]);
  });

  it('counts all of a late call\'s lateness by default: the call in its place is counted a window after it, whatever the latency', async () => {
    const clock = new ManualClock();
    const floor = new CallDurationFloor(30_000, clock);
    const pacer = new WindowPacer({ limit: 2, windowMs: 1_000, durationFloor: floor, marginMs: 10, clock });
    const starts: number[] = [];
    // Call 0 took 300 ms where the fastest took 20: counted up to 280 ms late.
    const done = Promise.all(
      [300, 20, 20, 20].map((ms) =>
        pacer.run(async () => {
          starts.push(clock.now());
          await sleep(ms, { clock });
        }),
      ),
    );
    await clock.runAllAsync();
    await done;
    expect(starts).toEqual([0, 0, 1_010, 1_290]);
  });

  it('lets the calls behind a slow call use the other places: it holds only its own until it answers', async () => {
    const { clock, starts, done } = setup([1_500, 20, 20, 20, 20]);
    await clock.runAllAsync();
    await done;
    // Call 0 holds its place until its answer at 1 500 ms (then 50 ms more, the cap, which has
    // passed by then); calls 2 and 4 take call 1's place a window apart, call 3 call 0's after
    // its answer, a window after call 2 would have been too late to wait for.
    expect(starts).toEqual([0, 0, 1_010, 1_500, 2_020]);
  });

  it('waits for an answer when every place is held by a call that has not answered', async () => {
    const { clock, starts, done } = setup([1_500, 1_500, 20]);
    await clock.runAllAsync();
    await done;
    expect(starts).toEqual([0, 0, 1_500]);
  });

  it('tells when a call would start, behind the calls waiting already', async () => {
    const { clock, starts, done, pacer, runCall } = setup([45, 20]);
    await clock.advanceAsync(100);
    await done;
    // Places free at 1 010 (call 1) and 1 035 ms (call 0, 25 ms late).
    expect(pacer.nextStartAt(0)).toBe(1_010);
    expect(pacer.nextStartAt(1)).toBe(1_035);
    const next = [runCall(20), runCall(20)];
    await clock.runAllAsync();
    await Promise.all(next);
    expect(starts).toEqual([0, 0, 1_010, 1_035]);
  });

  it('gives the turn to the next call when a waiting call is cancelled', async () => {
    const clock = new ManualClock();
    const pacer = new WindowPacer({
      limit: 1,
      windowMs: 1_000,
      durationFloor: new CallDurationFloor(30_000, clock),
      marginMs: 0,
      clock,
    });
    await pacer.run(async () => undefined);
    const controller = new AbortController();
    const cancelled = pacer.run(async () => 'cancelled', controller.signal);
    const next = pacer.run(async () => clock.now());
    controller.abort(new Error('stop'));
    await expect(cancelled).rejects.toThrow('stop');
    await clock.runAllAsync();
    await expect(next).resolves.toBe(1_000);
  });

  it('aborts a call waiting for the answer of the call a window back, or behind it; the calls after keep order and window', async () => {
    const clock = new ManualClock();
    const pacer = new WindowPacer({ limit: 1, windowMs: 1_000, durationFloor: new CallDurationFloor(30_000, clock), marginMs: 0, clock });
    const starts: Array<[string, number]> = [];
    const call = (name: string, ms: number) => async () => {
      starts.push([name, clock.now()]);
      await sleep(ms, { clock });
    };
    const first = pacer.run(call('first', 5_000)); // still running when the next calls want room
    const waitingForAnswer = new AbortController();
    const waitingForTurn = new AbortController();
    const second = pacer.run(call('second', 10), waitingForAnswer.signal);
    const third = pacer.run(call('third', 10), waitingForTurn.signal);
    const fourth = pacer.run(call('fourth', 10));
    const fifth = pacer.run(call('fifth', 10));
    await clock.advanceAsync(100);
    waitingForTurn.abort(new Error('third gives up'));
    await expect(third).rejects.toThrow('third gives up');
    waitingForAnswer.abort(new Error('second gives up'));
    await expect(second).rejects.toThrow('second gives up');
    expect(getEventListeners(waitingForAnswer.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(waitingForTurn.signal, 'abort')).toHaveLength(0);
    await clock.runAllAsync();
    await Promise.all([first, fourth, fifth]);
    // Nothing started before the first call answered (5 000 ms); then one call per window.
    expect(starts).toEqual([
      ['first', 0],
      ['fourth', 5_000],
      ['fifth', 6_000],
    ]);
  });
});
