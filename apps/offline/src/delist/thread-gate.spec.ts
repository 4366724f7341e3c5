import { ThreadGate } from './thread-gate';

describe('ThreadGate', () => {
  it('admits up to the limit, the rest in order as places free up', async () => {
    const gate = new ThreadGate(() => 2);
    const order: number[] = [];
    const first = await gate.acquire();
    const second = await gate.acquire();
    const waiting = [3, 4].map((n) => gate.acquire().then((release) => (order.push(n), release)));
    await Promise.resolve();
    expect(gate.inFlight).toBe(2);
    expect(order).toEqual([]);
    first();
    const third = await waiting[0];
    expect(order).toEqual([3]);
    second();
    (await waiting[1])?.();
    third?.();
    expect(order).toEqual([3, 4]);
    expect(gate.inFlight).toBe(0);
  });

  it('follows a changing limit: a raised one admits waiters, a lowered one admits nobody until under it', async () => {
    let limit = 1;
    const gate = new ThreadGate(() => limit);
    const held = await gate.acquire();
    let admitted = 0;
    const waiters = [gate.acquire(), gate.acquire()].map((p) => p.then((release) => (admitted++, release)));
    limit = 3;
    gate.admitWaiting();
    const releases = await Promise.all(waiters);
    expect(admitted).toBe(2);
    limit = 1;
    held();
    releases[0]?.();
    let late = false;
    const next = gate.acquire().then((release) => ((late = true), release));
    await Promise.resolve();
    expect(late).toBe(false);
    releases[1]?.();
    (await next)();
    expect(late).toBe(true);
  });

  it('lets an aborted waiter leave the line with the reason, and a release count once', async () => {
    const gate = new ThreadGate(() => 1);
    const held = await gate.acquire();
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    held();
    held();
    expect(gate.inFlight).toBe(0);
  });
});
