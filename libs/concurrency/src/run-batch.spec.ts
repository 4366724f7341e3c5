import { getEventListeners } from 'node:events';
import { ManualClock } from './clock';
import type { ItemContext } from './context';
import {
  CancelledError,
  DeadlineExceededError,
  PermanentError,
  TimeoutError,
  TransientError,
} from './errors';
import type { ConcurrencyMetricsListener } from './metrics';
import { composePolicies } from './policy';
import { retry } from './retry';
import { type BatchProgress, type ItemResult, runBatch } from './run-batch';
import { timeout } from './timeout';

/** Resolves `value` after `ms` of virtual time, or rejects with the abort reason. */
function after<T>(clock: ManualClock, ms: number, value: T, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const handle = clock.setTimeout(() => resolve(value), ms);
    signal?.addEventListener(
      'abort',
      () => {
        clock.clearTimeout(handle);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function runAll<T>(clock: ManualClock, run: PromiseLike<T>): Promise<T> {
  await clock.runAllAsync();
  return run;
}

describe('runBatch', () => {
  it('returns every result in input order, with attempts and durations', async () => {
    const clock = new ManualClock();
    const durations = [30, 10, 20, 5];
    const report = await runAll(
      clock,
      runBatch(durations, (ms, ctx) => after(clock, ms, `v${ctx.index}`), {
        concurrency: 2,
        clock,
      }),
    );
    expect(report.results).toEqual([
      { index: 0, item: 30, ok: true, value: 'v0', attempts: 1, durationMs: 30 },
      { index: 1, item: 10, ok: true, value: 'v1', attempts: 1, durationMs: 10 },
      { index: 2, item: 20, ok: true, value: 'v2', attempts: 1, durationMs: 20 },
      { index: 3, item: 5, ok: true, value: 'v3', attempts: 1, durationMs: 5 },
    ]);
    expect(report).toMatchObject({
      total: 4,
      succeeded: 4,
      failed: 0,
      cancelled: 0,
      durationMs: 35,
      cancelReason: undefined,
    });
  });

  it('isolates failures: sync throws, rejections and non-promise values', async () => {
    const report = await runBatch(
      [1, 2, 3, 4, 5],
      (n) => {
        if (n === 2) throw new PermanentError('bad input');
        if (n === 4) return Promise.reject(new TransientError('flaky'));
        return n % 2 === 0 ? Promise.resolve(n * 10) : n * 10;
      },
      { concurrency: 2 },
    );
    expect(report.results.map((r) => (r.ok ? r.value : (r.error as Error).message))).toEqual([
      10,
      'bad input',
      30,
      'flaky',
      50,
    ]);
    expect(report.succeeded).toBe(3);
    expect(report.failed).toBe(2);
  });

  it('never has more than `concurrency` calls in flight and keeps them all busy', async () => {
    const clock = new ManualClock();
    let inFlight = 0;
    let peak = 0;
    const run = runBatch(
      Array.from({ length: 50 }, (_, i) => i),
      async (i) => {
        peak = Math.max(peak, ++inFlight);
        await after(clock, 1 + (i % 7), i);
        inFlight--;
      },
      { concurrency: 5, clock },
    );
    await clock.advanceAsync(1);
    expect(inFlight).toBe(5);
    await runAll(clock, run);
    expect(peak).toBe(5);
  });

  it('streams results as they finish with `for await`, each exactly once', async () => {
    const clock = new ManualClock();
    const seen: Array<[number, number]> = [];
    const consume = (async () => {
      for await (const r of runBatch([40, 10, 30, 20], (ms) => after(clock, ms, ms), {
        concurrency: 4,
        clock,
      })) {
        seen.push([r.index, clock.now()]);
      }
    })();
    await clock.runAllAsync();
    await consume;
    expect(seen).toEqual([
      [1, 10],
      [3, 20],
      [2, 30],
      [0, 40],
    ]);
  });

  it('reports a streamed run without keeping its results', async () => {
    const run = runBatch([1, 2, 3], (n) => n, { concurrency: 1 });
    let count = 0;
    for await (const r of run) if (r.ok) count++;
    const report = await run;
    expect(count).toBe(3);
    expect(report.total).toBe(3);
    expect(() => report.results).toThrow(/streamed/);
  });

  it('refuses to be iterated after it started collecting', async () => {
    const run = runBatch([1], (n) => n, { concurrency: 1 });
    await run;
    expect(() => run[Symbol.asyncIterator]()).toThrow(/tick it is created/);
  });

  it('reports progress after each item', async () => {
    const clock = new ManualClock();
    const progress: BatchProgress[] = [];
    const run = runBatch(
      [5, 1, 3],
      (ms) => (ms === 3 ? Promise.reject(new Error('x')) : after(clock, ms, ms)),
      {
        concurrency: 2,
        clock,
        onProgress: (p) => progress.push(p),
      },
    );
    await runAll(clock, run);
    // t=1: item 1 ends (item 2 starts only now and fails at once), t=5: item 0 ends.
    expect(progress).toEqual([
      { done: 1, total: 3, succeeded: 1, failed: 0, inFlight: 1 },
      { done: 2, total: 3, succeeded: 1, failed: 1, inFlight: 1 },
      { done: 3, total: 3, succeeded: 2, failed: 1, inFlight: 0 },
    ]);
    expect(run.progress).toEqual({ done: 3, total: 3, succeeded: 2, failed: 1, inFlight: 0 });
  });

  it('ends the batch at its deadline: running calls aborted, unstarted items cancelled', async () => {
    const clock = new ManualClock();
    const signals: AbortSignal[] = [];
    const run = runBatch(
      [10, 100, 100, 100],
      (ms, ctx) => {
        signals.push(ctx.signal);
        return after(clock, ms, ms, ctx.signal);
      },
      { concurrency: 2, clock, deadlineMs: 50 },
    );
    const report = await runAll(clock, run);
    expect(clock.now()).toBe(50);
    expect(report.results.map((r) => (r.ok ? 'ok' : (r.error as Error).name))).toEqual([
      'ok',
      'DeadlineExceededError',
      'DeadlineExceededError',
      'DeadlineExceededError',
    ]);
    expect(report.results[1]).toMatchObject({ attempts: 1, durationMs: 50 });
    expect(report.results[2]).toMatchObject({ attempts: 1, durationMs: 40 });
    expect(report.results[3]).toMatchObject({ attempts: 0, durationMs: 0 });
    expect(report.cancelReason).toBeInstanceOf(DeadlineExceededError);
    expect(report).toMatchObject({ succeeded: 1, failed: 3, cancelled: 3 });
    // The running calls were aborted; the one that had finished was left alone.
    expect(signals.map((s) => s.aborted)).toEqual([false, true, true]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops on an AbortSignal and leaves no listener on it', async () => {
    const clock = new ManualClock();
    const ctrl = new AbortController();
    const started: number[] = [];
    const run = runBatch(
      [1, 2, 3, 4, 5, 6],
      (n, ctx) => {
        started.push(n);
        return after(clock, 10, n, ctx.signal);
      },
      { concurrency: 2, clock, signal: ctrl.signal },
    );
    await clock.advanceAsync(15);
    expect(getEventListeners(ctrl.signal, 'abort')).toHaveLength(1);
    ctrl.abort(new Error('user pressed cancel'));
    const report = await run;
    expect(started).toEqual([1, 2, 3, 4]);
    expect(report.results.map((r) => r.ok)).toEqual([true, true, false, false, false, false]);
    const error = (report.results[2] as { error: CancelledError }).error;
    expect(error).toBeInstanceOf(CancelledError);
    expect((error.cause as Error).message).toBe('user pressed cancel');
    expect(getEventListeners(ctrl.signal, 'abort')).toHaveLength(0);
  });

  it('does not start anything when the signal is already aborted', async () => {
    const fn = jest.fn();
    const report = await runBatch([1, 2], fn, { concurrency: 1, signal: AbortSignal.abort() });
    expect(fn).not.toHaveBeenCalled();
    expect(report.cancelled).toBe(2);
  });

  it('can be cancelled with cancel(), also before it starts', async () => {
    const fn = jest.fn((n: number) => n);
    const run = runBatch([1, 2, 3], fn, { concurrency: 1 });
    run.cancel('not needed');
    const report = await run;
    expect(fn).not.toHaveBeenCalled();
    expect(report.cancelled).toBe(3);
    expect(report.cancelReason?.cause).toBe('not needed');
  });

  it('measures each item from its own start while slots are reused out of order', async () => {
    const clock = new ManualClock();
    const durations = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 23));
    const report = await runAll(
      clock,
      runBatch(durations, (ms) => after(clock, ms, ms), { concurrency: 40, clock }),
    );
    expect(report.results.map((r) => r.durationMs)).toEqual(durations);
    expect(report.results.map((r) => r.ok && r.value)).toEqual(durations);
  });

  it('reports durationMs in whole milliseconds (rounded) and the latency metric exactly', async () => {
    const clock = new ManualClock();
    const latencies: number[] = [];
    const metrics: ConcurrencyMetricsListener = { latency: (e) => latencies.push(e.durationMs) };
    const durations = [0.4, 0.5, 2.25, 7.75];
    const collected = await runAll(
      clock,
      runBatch(durations, (ms) => after(clock, ms, ms), { concurrency: 4, clock, metrics }),
    );
    expect(collected.results.map((r) => r.durationMs)).toEqual([0, 1, 2, 8]);
    expect(latencies.sort((a, b) => a - b)).toEqual(durations);
    const streamed: number[] = [];
    const consume = (async () => {
      for await (const r of runBatch(durations, (ms) => after(clock, ms, ms), {
        concurrency: 4,
        clock,
      }))
        streamed[r.index] = r.durationMs;
    })();
    await clock.runAllAsync();
    await consume;
    expect(streamed).toEqual([0, 1, 2, 8]);
  });

  it('ends an item once when a foreign thenable calls back twice or late', async () => {
    const clock = new ManualClock();
    let callBack: ((value: string) => void) | undefined;
    const twice = {
      then(onOk: (v: string) => void, onErr: (e: unknown) => void) {
        onOk('first');
        onErr(new Error('second'));
        callBack = onOk;
      },
    } as unknown as PromiseLike<string>;
    const run = runBatch(
      ['twice', 'slow', 'next'],
      (kind) => (kind === 'twice' ? twice : after(clock, 10, kind)),
      { concurrency: 2, clock },
    );
    await clock.advanceAsync(5);
    callBack?.('late'); // 'next' runs in the slot 'twice' had
    const report = await runAll(clock, run);
    expect(report.results.map((r) => (r.ok ? r.value : r.error))).toEqual([
      'first',
      'slow',
      'next',
    ]);
    expect(report).toMatchObject({ total: 3, succeeded: 3, failed: 0 });
  });

  it('abandons calls that ignore the abort and drops their late results', async () => {
    const clock = new ManualClock();
    const run = runBatch([1, 2], () => after(clock, 1_000, 'late'), { concurrency: 2, clock });
    await clock.advanceAsync(10);
    run.cancel();
    const report = await run;
    expect(report.results.every((r) => !r.ok && r.error instanceof CancelledError)).toBe(true);
    await clock.advanceAsync(2_000);
    expect(report.succeeded).toBe(0);
  });

  it('cancels the batch when the consumer breaks out of the loop', async () => {
    const clock = new ManualClock();
    const started: number[] = [];
    const aborted: number[] = [];
    const run = runBatch(
      [5, 50, 50, 50, 50],
      (ms, ctx) => {
        started.push(ms);
        ctx.signal.addEventListener('abort', () => aborted.push(ctx.index));
        return after(clock, ms, ms, ctx.signal);
      },
      { concurrency: 2, clock },
    );
    const consume = (async () => {
      for await (const r of run) {
        if (r.index === 0) break;
      }
    })();
    await clock.advanceAsync(5);
    await consume;
    const report = await run;
    // Item 2 may or may not have taken item 0's slot before the consumer broke out: both are
    // correct. Whatever was running is aborted, and everything but item 0 ends cancelled.
    expect(started.slice(0, 2)).toEqual([5, 50]);
    expect(started.length).toBeLessThanOrEqual(3);
    expect(aborted.sort()).toEqual(started.length === 3 ? [1, 2] : [1]);
    expect(report.cancelled).toBe(4);
  });

  it('runs an async iterable pulled on demand, and results keep input order', async () => {
    const clock = new ManualClock();
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield i;
      }
    }
    const run = runBatch(source(), (i) => after(clock, 10 - i, i * 2), { concurrency: 3, clock });
    await clock.advanceAsync(0);
    expect(pulled).toBeLessThanOrEqual(4);
    const report = await runAll(clock, run);
    expect(report.results.map((r) => r.ok && r.value)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(run.progress.total).toBeUndefined();
  });

  it('runs a sync iterable (generator, Set)', async () => {
    function* gen() {
      yield 'a';
      yield 'b';
    }
    expect(
      (await runBatch(gen(), (s) => s.toUpperCase(), { concurrency: 4 })).results.map(
        (r) => r.ok && r.value,
      ),
    ).toEqual(['A', 'B']);
    expect((await runBatch(new Set([1, 2]), (n) => n + 1, { concurrency: 4 })).succeeded).toBe(2);
  });

  it('rejects when the input itself fails, after the running items finish', async () => {
    const clock = new ManualClock();
    let finished = 0;
    async function* source() {
      yield 1;
      yield 2;
      throw new Error('cursor lost');
    }
    const run = runBatch(source(), () => after(clock, 10, 0).then(() => finished++), {
      concurrency: 5,
      clock,
    });
    const assertion = expect(run).rejects.toThrow('cursor lost');
    await clock.runAllAsync();
    await assertion;
    expect(finished).toBe(2);

    async function* failing() {
      yield 1;
      throw new Error('stream broke');
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of runBatch(failing(), (n) => n, { concurrency: 1 })) seen.push(r.index);
      })(),
    ).rejects.toThrow('stream broke');
    expect(seen).toEqual([0]);
  });

  it('streams a 1,000,000-item async iterable in bounded memory (back-pressure)', async () => {
    const N = 1_000_000;
    let pulled = 0;
    let consumed = 0;
    let maxAhead = 0;
    async function* source() {
      for (let i = 0; i < N; i++) {
        pulled++;
        yield i;
      }
    }
    const before = process.memoryUsage().heapUsed;
    let heapPeak = 0;
    let sum = 0;
    for await (const r of runBatch(source(), (i) => i, { concurrency: 8, highWaterMark: 32 })) {
      consumed++;
      if (r.ok) sum += r.value;
      maxAhead = Math.max(maxAhead, pulled - consumed);
      if ((consumed & 0xffff) === 0)
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed - before);
    }
    expect(consumed).toBe(N);
    expect(sum).toBe((N * (N - 1)) / 2);
    // Never more than the buffer plus the running items ahead of the consumer.
    expect(maxAhead).toBeLessThanOrEqual(32 + 8 + 1);
    expect(heapPeak).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);

  it('passes index, attempt and a lazily created signal of its own to each call', async () => {
    const contexts: ItemContext[] = [];
    const run = runBatch(['a', 'b'], (_, ctx) => void contexts.push(ctx), { concurrency: 2 });
    await run;
    expect(contexts.map((c) => [c.index, c.attempt])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(contexts[0].signal).toBe(contexts[0].signal);
    expect(contexts[0].signal).not.toBe(contexts[1].signal);
    // An item that ended is never aborted afterwards, even if the batch is.
    run.cancel();
    expect(contexts[0].signal.aborted).toBe(false);
  });

  it('runs each item under the policy and reports its attempts', async () => {
    const clock = new ManualClock();
    const seen: Array<[number, number]> = [];
    const policy = composePolicies(
      retry({ clock, maxAttempts: 3, random: () => 0 }),
      timeout(100, { clock }),
    );
    const run = runBatch(
      ['ok', 'flaky', 'hangs'],
      (kind, ctx) => {
        seen.push([ctx.index, ctx.attempt]);
        if (kind === 'flaky' && ctx.attempt < 3) return Promise.reject(new TransientError());
        if (kind === 'hangs') return new Promise(() => undefined);
        return Promise.resolve(kind);
      },
      { concurrency: 3, clock, policy },
    );
    const report = await runAll(clock, run);
    expect(report.results.map((r) => [r.ok, r.attempts])).toEqual([
      [true, 1],
      [true, 3],
      [false, 3],
    ]);
    expect((report.results[2] as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(seen.filter(([i]) => i === 2).map(([, a]) => a)).toEqual([1, 2, 3]);
  });

  it('emits metrics: gauges, counters, latency and the limit', async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const metrics: ConcurrencyMetricsListener = {
      started: (e) => log.push(`started ${e.name}`),
      inFlight: (e) => log.push(`inFlight ${e.value}`),
      queued: (e) => log.push(`queued ${e.value}`),
      succeeded: (e) => log.push(`succeeded ${e.attempts}`),
      failed: (e) => log.push(`failed ${e.kind}`),
      latency: (e) => log.push(`latency ${e.durationMs} ${e.ok}`),
      limitChanged: (e) => log.push(`limit ${e.value}`),
    };
    const run = runBatch(
      [10, -1],
      (ms) => (ms < 0 ? Promise.reject(new PermanentError()) : after(clock, ms, ms)),
      {
        concurrency: 1,
        clock,
        metrics,
        name: 'kline',
      },
    );
    await runAll(clock, run);
    expect(log).toEqual([
      'limit 1',
      'started kline',
      'inFlight 1',
      'queued 1',
      'latency 10 true',
      'succeeded 1',
      'inFlight 0',
      'started kline',
      'inFlight 1',
      'queued 0',
      'latency 0 false',
      'failed permanent',
      'inFlight 0',
    ]);
  });

  it('survives a listener that throws', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const report = await runBatch([1, 2], (n) => n, {
      concurrency: 1,
      metrics: {
        started: () => {
          throw new Error('metrics bug');
        },
      },
      onProgress: () => {
        throw new Error('progress bug');
      },
    });
    expect(report.succeeded).toBe(2);
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });

  it('leaves no listener on a long-lived AbortSignal after many batches', async () => {
    const clock = new ManualClock();
    const appShutdown = new AbortController(); // lives as long as the process
    const policy = composePolicies(retry({ clock, random: () => 0 }), timeout(1_000, { clock }));
    for (let b = 0; b < 20; b++) {
      const run = runBatch(
        Array.from({ length: 10 }, (_, i) => i),
        (i, ctx) => {
          // Calls that use their signal the way fetch does.
          const onAbort = () => undefined;
          ctx.signal.addEventListener('abort', onAbort);
          return after(clock, i % 3, i).finally(() =>
            ctx.signal.removeEventListener('abort', onAbort),
          );
        },
        { concurrency: 4, clock, signal: appShutdown.signal, policy, deadlineMs: 10_000 },
      );
      await runAll(clock, run);
      expect((await run).succeeded).toBe(10);
    }
    // A cancelled batch too.
    const cancelled = runBatch([1, 2, 3], (_, ctx) => after(clock, 100, 0, ctx.signal), {
      concurrency: 1,
      clock,
      signal: appShutdown.signal,
      policy,
    });
    await clock.advanceAsync(10);
    cancelled.cancel();
    await cancelled;
    expect(getEventListeners(appShutdown.signal, 'abort')).toHaveLength(0);
    expect(appShutdown.signal.aborted).toBe(false);
  });

  it('validates its arguments synchronously', () => {
    const fn = (n: number) => n;
    expect(() => runBatch([1], fn, { concurrency: 0 })).toThrow(RangeError);
    expect(() => runBatch([1], fn, { concurrency: 1.5 })).toThrow(RangeError);
    expect(() => runBatch([1], fn, { concurrency: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => runBatch([1], fn, { concurrency: 1, deadlineMs: -1 })).toThrow(RangeError);
    expect(() => runBatch(42 as unknown as number[], fn, { concurrency: 1 })).toThrow(TypeError);
    expect(() => runBatch([1], fn, undefined as unknown as { concurrency: number })).toThrow(
      TypeError,
    );
  });

  it('handles an empty input', async () => {
    const report = await runBatch([], () => 1, { concurrency: 3 });
    expect(report).toMatchObject({ total: 0, succeeded: 0, failed: 0 });
    expect(report.results).toEqual([]);
    const streamed: ItemResult<never, number>[] = [];
    for await (const r of runBatch([] as never[], () => 1, { concurrency: 3 })) streamed.push(r);
    expect(streamed).toEqual([]);
  });
});
