import { fc, checkProperty } from '../test/property';
import { CircuitBreaker, type CircuitStateChange } from './circuit-breaker';
import { ManualClock } from './clock';
import {
  BrokenCircuitError,
  CancelledError,
  PermanentError,
  TimeoutError,
  TransientError,
} from './errors';
import type { BreakerStateEvent } from './metrics';

const ok = () => Promise.resolve('ok');
const fail = () => Promise.reject(new TransientError());

async function settle(p: Promise<unknown>): Promise<'ok' | string> {
  return p.then(
    () => 'ok',
    (e: Error) => e.name,
  );
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures and fails fast with BrokenCircuitError', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      consecutiveFailures: 3,
      recoveryTimeMs: 1_000,
      name: 'itick',
    });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    await settle(breaker.execute(ok)); // a success resets the count
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed');
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
    const fn = jest.fn(ok);
    clock.advance(400);
    const rejected = await breaker.execute(fn).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(BrokenCircuitError);
    expect((rejected as BrokenCircuitError).retryAfterMs).toBe(600);
    expect((rejected as BrokenCircuitError).breakerName).toBe('itick');
    expect(fn).not.toHaveBeenCalled();
  });

  it('goes HALF_OPEN after the recovery time, limits probes, and closes on success', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      consecutiveFailures: 1,
      recoveryTimeMs: 1_000,
      halfOpenProbes: 2,
    });
    await settle(breaker.execute(fail));
    clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const probe1 = breaker.execute(() => gate);
    const probe2 = breaker.execute(() => gate);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError); // probes busy
    release();
    await Promise.all([probe1, probe2]);
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it('re-opens when a probe fails, for a fresh recovery time', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, consecutiveFailures: 1, recoveryTimeMs: 500 });
    await settle(breaker.execute(fail));
    clock.advance(500);
    expect(await settle(breaker.execute(fail))).toBe('TransientError');
    expect(breaker.state).toBe('open');
    clock.advance(499);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('needs successesToClose successful probes', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      consecutiveFailures: 1,
      recoveryTimeMs: 10,
      successesToClose: 2,
    });
    await settle(breaker.execute(fail));
    clock.advance(10);
    await breaker.execute(ok);
    expect(breaker.state).toBe('half-open');
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
  });

  it('opens on the failure rate over the window once minimumCalls is reached', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      consecutiveFailures: Number.POSITIVE_INFINITY,
      failureRate: { threshold: 0.5, minimumCalls: 10, windowMs: 1_000 },
    });
    // 4 failures out of 9 calls: below the minimum number of calls.
    for (let i = 0; i < 9; i++) await settle(breaker.execute(i % 2 === 0 && i < 8 ? fail : ok));
    expect(breaker.state).toBe('closed');
    // The 10th call fails: 5/10 = 50 % ≥ threshold.
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
  });

  it('forgets failures that left the sliding window', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      consecutiveFailures: Number.POSITIVE_INFINITY,
      failureRate: { threshold: 0.5, minimumCalls: 4, windowMs: 1_000 },
    });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    clock.advance(1_100); // the three failures age out
    await settle(breaker.execute(ok));
    await settle(breaker.execute(ok));
    await settle(breaker.execute(ok));
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed'); // 1/4 in the window
  });

  it('does not count permanent errors or cancellations as upstream failures', async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock(), consecutiveFailures: 2 });
    for (let i = 0; i < 5; i++) {
      await settle(breaker.execute(() => Promise.reject(new PermanentError())));
      await settle(breaker.execute(() => Promise.reject(new CancelledError())));
      await settle(
        breaker.execute(() => Promise.reject(Object.assign(new Error('404'), { status: 404 }))),
      );
    }
    expect(breaker.state).toBe('closed');
    await settle(breaker.execute(() => Promise.reject(new TimeoutError(1))));
    await settle(
      breaker.execute(() => Promise.reject(Object.assign(new Error('502'), { status: 502 }))),
    );
    expect(breaker.state).toBe('open');
  });

  it('ignores results of calls that started before a state change', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, consecutiveFailures: 1, recoveryTimeMs: 100 });
    let releaseSlow!: () => void;
    const slow = breaker.execute(() => new Promise<void>((r) => (releaseSlow = r)));
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
    releaseSlow(); // a success from the CLOSED era must not close the breaker
    await slow;
    expect(breaker.state).toBe('open');
  });

  it('emits state changes as events and metrics; open() and reset() force states', async () => {
    const clock = new ManualClock(50);
    const metrics: BreakerStateEvent[] = [];
    const breaker = new CircuitBreaker({
      clock,
      consecutiveFailures: 1,
      recoveryTimeMs: 10,
      name: 'b',
      metrics: { breakerStateChanged: (e) => metrics.push(e) },
    });
    const changes: CircuitStateChange[] = [];
    const off = breaker.onStateChange((c) => changes.push(c));
    await settle(breaker.execute(fail));
    clock.advance(10);
    await breaker.execute(ok);
    breaker.open();
    breaker.reset();
    off();
    breaker.open();
    expect(changes).toEqual([
      { from: 'closed', to: 'open', at: 50 },
      { from: 'open', to: 'half-open', at: 60 },
      { from: 'half-open', to: 'closed', at: 60 },
      { from: 'closed', to: 'open', at: 60 },
      { from: 'open', to: 'closed', at: 60 },
    ]);
    expect(metrics).toHaveLength(6);
    expect(metrics[0]).toEqual({ name: 'b', from: 'closed', to: 'open' });
  });

  it('reports rejections to the metrics listener', async () => {
    const rejected = jest.fn();
    const breaker = new CircuitBreaker({
      clock: new ManualClock(),
      consecutiveFailures: 1,
      metrics: { rejectedByBreaker: rejected },
      name: 'x',
    });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(ok));
    await settle(breaker.execute(ok));
    expect(rejected).toHaveBeenCalledTimes(2);
    expect(rejected).toHaveBeenCalledWith({ name: 'x' });
  });

  it('validates options', () => {
    expect(() => new CircuitBreaker({ consecutiveFailures: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failureRate: { threshold: 1.5 } })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ halfOpenProbes: 0 })).toThrow(RangeError);
  });

  it('property: transitions follow the state machine', async () => {
    const allowed = new Set([
      'closed>open',
      'open>half-open',
      'half-open>closed',
      'half-open>open',
    ]);
    type Op = { kind: 'call'; fails: boolean; durationMs: number } | { kind: 'wait'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('call' as const),
        fails: fc.boolean(),
        durationMs: fc.integer({ min: 0, max: 50 }),
      }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 120 }) }),
    );
    await checkProperty(
      'breaker transitions',
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (ops, threshold, probes, useRate) => {
          const clock = new ManualClock();
          const recoveryTimeMs = 100;
          const breaker = new CircuitBreaker({
            clock,
            consecutiveFailures: threshold,
            recoveryTimeMs,
            halfOpenProbes: probes,
            failureRate: useRate ? { threshold: 0.5, minimumCalls: 4, windowMs: 200 } : undefined,
          });
          const changes: CircuitStateChange[] = [];
          breaker.onStateChange((c) => changes.push(c));
          let probesInFlight = 0;
          const pending: Promise<unknown>[] = [];
          for (const o of ops) {
            if (o.kind === 'wait') {
              await clock.advanceAsync(o.ms);
              continue;
            }
            const before = breaker.state;
            const generationChanges = changes.length;
            let ran = false;
            const p = breaker.execute(
              () =>
                new Promise((resolve, reject) => {
                  ran = true;
                  if (before === 'half-open') probesInFlight++;
                  clock.setTimeout(() => {
                    if (before === 'half-open') probesInFlight--;
                    if (o.fails) reject(new TransientError());
                    else resolve('ok');
                  }, o.durationMs);
                }),
            );
            pending.push(p.catch(() => undefined));
            // Admission never changes the state by itself.
            expect(changes.length).toBe(generationChanges);
            if (before === 'closed') expect(ran).toBe(true);
            if (before === 'open') expect(ran).toBe(false);
            if (before === 'half-open') expect(probesInFlight).toBeLessThanOrEqual(probes);
            if (!ran) await expect(p).rejects.toBeInstanceOf(BrokenCircuitError);
          }
          await clock.runAllAsync();
          await Promise.all(pending);
          let state = 'closed';
          let openedAt = -Infinity;
          for (const c of changes) {
            expect(c.from).toBe(state);
            expect(allowed.has(`${c.from}>${c.to}`)).toBe(true);
            if (c.to === 'half-open')
              expect(c.at - openedAt).toBeGreaterThanOrEqual(recoveryTimeMs);
            if (c.to === 'open') openedAt = c.at;
            state = c.to;
          }
          expect(
            breaker.state === state || (state === 'open' && breaker.state === 'half-open'),
          ).toBe(true);
        },
      ),
    );
  });
});
