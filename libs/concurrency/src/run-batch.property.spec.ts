import { fc, checkProperty } from '../test/property';
import { ManualClock } from './clock';
import { CancelledError, DeadlineExceededError, TransientError } from './errors';
import { composePolicies } from './policy';
import { retry } from './retry';
import { type BatchInput, runBatch } from './run-batch';
import { timeout } from './timeout';

type Outcome = 'ok' | 'reject' | 'throw' | 'sync';
interface Spec {
  durationMs: number;
  outcome: Outcome;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  durationMs: fc.integer({ min: 0, max: 30 }),
  outcome: fc.constantFrom<Outcome>('ok', 'ok', 'reject', 'throw', 'sync'),
});
const inputKind = fc.constantFrom<'array' | 'iterable' | 'async'>('array', 'iterable', 'async');

/** The specs as the chosen kind of input; `pulled` counts items taken from it. */
function asInput(
  specs: Spec[],
  kind: 'array' | 'iterable' | 'async',
  counter: { pulled: number },
): BatchInput<Spec> {
  if (kind === 'array') return specs;
  if (kind === 'iterable') {
    return (function* () {
      for (const s of specs) {
        counter.pulled++;
        yield s;
      }
    })();
  }
  return (async function* () {
    for (const s of specs) {
      counter.pulled++;
      yield s;
    }
  })();
}

/** A call following its spec on the virtual clock; tracks what runs. */
function makeCall(
  clock: ManualClock,
  state: { running: number; peak: number; calls: Map<Spec, number> },
) {
  return (s: Spec, ctx: { signal: AbortSignal }): string | Promise<string> => {
    state.calls.set(s, (state.calls.get(s) ?? 0) + 1);
    if (s.outcome === 'throw') throw new Error('sync throw');
    if (s.outcome === 'sync') return 'sync';
    state.running++;
    state.peak = Math.max(state.peak, state.running);
    return new Promise<string>((resolve, reject) => {
      let done = false;
      const finish = () => {
        if (done) return false;
        done = true;
        state.running--;
        return true;
      };
      const handle = clock.setTimeout(() => {
        if (!finish()) return;
        if (s.outcome === 'ok') resolve('ok');
        else reject(new TransientError('failed'));
      }, s.durationMs);
      ctx.signal.addEventListener('abort', () => {
        // A well-behaved call stops at once when aborted.
        if (!finish()) return;
        clock.clearTimeout(handle);
        reject(ctx.signal.reason);
      });
    });
  };
}

describe('runBatch properties', () => {
  it('collected: in-flight ≤ limit, every item ends exactly once, results in input order', async () => {
    await checkProperty(
      'batch collected',
      fc.asyncProperty(
        fc.array(spec, { maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        inputKind,
        async (specs, concurrency, kind) => {
          const clock = new ManualClock();
          const state = { running: 0, peak: 0, calls: new Map<Spec, number>() };
          const call = makeCall(clock, state);
          let inFlight = 0;
          let peakInFlight = 0;
          const run = runBatch(
            asInput(specs, kind, { pulled: 0 }),
            async (s, ctx) => {
              peakInFlight = Math.max(peakInFlight, ++inFlight);
              try {
                return await call(s, ctx);
              } finally {
                inFlight--;
              }
            },
            { concurrency, clock },
          );
          await clock.runAllAsync();
          const report = await run;
          expect(peakInFlight).toBeLessThanOrEqual(concurrency);
          expect(report.total).toBe(specs.length);
          expect(report.results).toHaveLength(specs.length);
          specs.forEach((s, i) => {
            const r = report.results[i];
            expect(r.index).toBe(i);
            expect(r.item).toBe(s);
            expect(r.ok).toBe(s.outcome === 'ok' || s.outcome === 'sync');
            expect(r.attempts).toBe(1);
            // Measured from its own start (start times are kept by reused slot).
            expect(r.durationMs).toBe(
              s.outcome === 'sync' || s.outcome === 'throw' ? 0 : s.durationMs,
            );
            expect(state.calls.get(s)).toBe(1);
          });
          expect(report.succeeded + report.failed).toBe(specs.length);
          expect(state.running).toBe(0);
        },
      ),
    );
  });

  it('streamed: each item exactly once, in-flight ≤ limit, bounded read-ahead under a slow consumer', async () => {
    await checkProperty(
      'batch streamed',
      fc.asyncProperty(
        fc.array(spec, { maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 5 }),
        inputKind,
        async (specs, concurrency, highWaterMark, consumerDelays, kind) => {
          const clock = new ManualClock();
          const state = { running: 0, peak: 0, calls: new Map<Spec, number>() };
          const counter = { pulled: 0 };
          const seen = new Map<number, number>();
          let maxAhead = 0;
          const consume = (async () => {
            let k = 0;
            for await (const r of runBatch(asInput(specs, kind, counter), makeCall(clock, state), {
              concurrency,
              clock,
              highWaterMark,
            })) {
              seen.set(r.index, (seen.get(r.index) ?? 0) + 1);
              if (kind !== 'array') maxAhead = Math.max(maxAhead, counter.pulled - seen.size);
              const delay = consumerDelays[k++ % consumerDelays.length];
              if (delay > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
            }
          })();
          await clock.runAllAsync();
          await consume;
          expect(seen.size).toBe(specs.length);
          for (const count of seen.values()) expect(count).toBe(1);
          expect(state.peak).toBeLessThanOrEqual(concurrency);
          expect(maxAhead).toBeLessThanOrEqual(highWaterMark + concurrency);
          expect(state.running).toBe(0);
        },
      ),
    );
  });

  it('cancellation (signal or deadline) leaves nothing running and ends every item exactly once', async () => {
    await checkProperty(
      'batch cancellation',
      fc.asyncProperty(
        fc.array(spec, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom<'signal' | 'deadline' | 'cancel'>('signal', 'deadline', 'cancel'),
        fc.boolean(),
        async (specs, concurrency, stopAt, how, withPolicy) => {
          const clock = new ManualClock();
          const state = { running: 0, peak: 0, calls: new Map<Spec, number>() };
          const call = makeCall(clock, state);
          const ctrl = new AbortController();
          const startedAfterStop: number[] = [];
          let stopped = false;
          const policy = withPolicy
            ? composePolicies(
                retry({ clock, maxAttempts: 3, random: () => 0.5, backoff: { initialDelayMs: 7 } }),
                timeout(20, { clock }),
              )
            : undefined;
          const run = runBatch(
            specs,
            (s, ctx) => {
              if (stopped) startedAfterStop.push(ctx.index);
              return call(s, ctx);
            },
            {
              concurrency,
              clock,
              signal: how === 'signal' ? ctrl.signal : undefined,
              deadlineMs: how === 'deadline' ? stopAt : undefined,
              policy,
            },
          );
          clock.setTimeout(() => {
            stopped = true;
            if (how === 'signal') ctrl.abort();
            if (how === 'cancel') run.cancel();
          }, stopAt);
          await clock.runAllAsync();
          const report = await run;
          expect(state.running).toBe(0); // every call that was running got aborted
          expect(startedAfterStop).toEqual([]); // nothing started after the stop
          expect(report.results).toHaveLength(specs.length);
          report.results.forEach((r, i) => {
            expect(r.index).toBe(i);
            if (!r.ok && r.error instanceof CancelledError) {
              if (how === 'deadline') expect(r.error).toBeInstanceOf(DeadlineExceededError);
              if (r.attempts === 0) expect(state.calls.has(specs[i])).toBe(false);
            } else {
              expect(state.calls.has(specs[i])).toBe(true);
            }
          });
          expect(report.cancelled).toBe(
            report.results.filter((r) => !r.ok && r.error instanceof CancelledError).length,
          );
          expect(report.succeeded + report.failed).toBe(specs.length);
          if (report.cancelled > 0) expect(report.cancelReason).toBeInstanceOf(CancelledError);
        },
      ),
    );
  });
});
