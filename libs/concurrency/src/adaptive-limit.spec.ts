import { AimdLimit, GradientLimit, type LimitSample } from './adaptive-limit';
import { ManualClock } from './clock';
import { RateLimitedError } from './errors';
import { runBatch } from './run-batch';
import { timeout } from './timeout';

const sample = (s: Partial<LimitSample>): LimitSample => ({
  startedAt: 0,
  latencyMs: 10,
  inFlight: 100,
  dropped: false,
  now: 10,
  ...s,
});

/** Feeds one full round (as many samples as the current limit) started at `t`. */
function round(limit: AimdLimit | GradientLimit, t: number, s: Partial<LimitSample> = {}): void {
  const n = limit.current;
  for (let i = 0; i < n; i++)
    limit.onSample(sample({ startedAt: t, now: t + 10, inFlight: n, ...s }));
}

describe('AimdLimit', () => {
  it('doubles per round in slow start while latency stays at the baseline', () => {
    const limit = new AimdLimit({ initial: 4, max: 100 });
    round(limit, 0);
    expect(limit.current).toBe(8);
    round(limit, 100);
    expect(limit.current).toBe(16);
  });

  it('ends slow start on the first overloaded round, back at the last good limit', () => {
    const limit = new AimdLimit({ initial: 8, max: 100 });
    round(limit, 0);
    round(limit, 100);
    expect(limit.current).toBe(32);
    round(limit, 200, { latencyMs: 20 });
    expect(limit.current).toBe(16);
    // Congestion avoidance now: +1 per good round, × 0.9 per bad one.
    round(limit, 300);
    expect(limit.current).toBe(17);
    round(limit, 400, { dropped: true });
    expect(limit.current).toBe(15);
  });

  it('after slow start, ignores samples of calls started before the current round', () => {
    const limit = new AimdLimit({ initial: 8 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 30 }); // overload: slow start ends, back to 8
    expect(limit.current).toBe(8);
    for (let i = 0; i < 50; i++)
      limit.onSample(sample({ startedAt: 105, now: 150, dropped: true }));
    expect(limit.current).toBe(8);
    round(limit, 200, { dropped: true });
    expect(limit.current).toBe(7);
  });

  it('does not grow when the limit is not in use', () => {
    const limit = new AimdLimit({ initial: 20 });
    round(limit, 0, { inFlight: 3 });
    round(limit, 100, { inFlight: 3 });
    expect(limit.current).toBe(20);
  });

  it('counts a round over the break-even latency, baseline × n / (n − 1), as overload', () => {
    // Slow start ends at 8 (latency doubles), back to 4; the baseline is 10 ms.
    const limit = new AimdLimit({ initial: 4, max: 100, tolerance: 1.1 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 20 });
    expect(limit.current).toBe(4);
    round(limit, 200, { latencyMs: 13 }); // 4 at 1.3 × the baseline beat 3 at it (break-even 1.33 ×)
    expect(limit.current).toBe(5);
    round(limit, 300, { latencyMs: 12.6 }); // 5 at 1.26 × do less than 4 at 1 × (break-even 1.25 ×)
    expect(limit.current).toBe(5); // one slow round may be a hiccup
    round(limit, 400, { latencyMs: 12.6 });
    expect(limit.current).toBe(4);
  });

  it('keeps the limit on one round a little slow between good ones, and cuts it on two in a row or one far slower', () => {
    const limit = new AimdLimit({ initial: 4, max: 8 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 30 }); // ends slow start at 8: back to 4
    for (let t = 200; t < 600; t += 100) round(limit, t);
    expect(limit.current).toBe(8);
    round(limit, 600, { latencyMs: 14 }); // break-even 11.4 ms, under 1.5 × the baseline
    round(limit, 700);
    round(limit, 800, { latencyMs: 14 });
    expect(limit.current).toBe(8);
    round(limit, 900, { latencyMs: 14 });
    expect(limit.current).toBe(7);
    round(limit, 1_000, { latencyMs: 16 });
    expect(limit.current).toBe(6);
  });

  it('in slow start, holds the limit on one round a little slow and ends on the second', () => {
    const limit = new AimdLimit({ initial: 4, max: 100 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 13 });
    expect(limit.current).toBe(8);
    round(limit, 200);
    expect(limit.current).toBe(16);
    round(limit, 300, { latencyMs: 13 });
    round(limit, 400, { latencyMs: 13 });
    expect(limit.current).toBe(8);
  });

  it('takes one thread away at least on overload, where × backoffRatio alone would not', () => {
    const limit = new AimdLimit({ initial: 2, max: 100, backoffRatio: 0.9 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 30 }); // ends slow start at 4: back to 2
    expect(limit.current).toBe(2);
    for (let t = 200; t < 700; t += 100) round(limit, t);
    expect(limit.current).toBe(7);
    round(limit, 700, { dropped: true }); // 7 × 0.9 = 6.3 would stay at 6 threads, then 5.67
    expect(limit.current).toBe(6);
    round(limit, 800, { dropped: true });
    expect(limit.current).toBe(5);
    const big = new AimdLimit({ initial: 30, max: 100 });
    round(big, 0);
    round(big, 100, { latencyMs: 30 }); // ends slow start at 60: back to 30
    round(big, 200, { dropped: true }); // × 0.9 takes more than one thread here
    expect(big.current).toBe(27);
  });

  it('grows back to the last overloaded limit an eighth of a thread per round, by one past it', () => {
    const limit = new AimdLimit({ initial: 4, max: 100 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 30 }); // ends slow start at 8: back to 4
    round(limit, 200);
    expect(limit.current).toBe(5);
    round(limit, 300, { latencyMs: 20 }); // overload at 5 (2 × the baseline): back to 4 at once
    expect(limit.current).toBe(4);
    for (let t = 400; t < 1_100; t += 100) round(limit, t);
    expect(limit.current).toBe(4); // 4.875
    round(limit, 1_100);
    expect(limit.current).toBe(5);
    round(limit, 1_200); // 5 is fine now: + 1 per round again
    expect(limit.current).toBe(6);
    round(limit, 1_300);
    expect(limit.current).toBe(7);
  });

  it('stays within [min, max] and announces changes', () => {
    const changes: number[] = [];
    const limit = new AimdLimit({ initial: 2, min: 2, max: 3 });
    const off = limit.onChange((v) => changes.push(v));
    round(limit, 0);
    round(limit, 100);
    expect(limit.current).toBe(3);
    for (let t = 200; t < 1_000; t += 100) round(limit, t, { dropped: true });
    expect(limit.current).toBe(2);
    off();
    expect(changes).toEqual([3, 2]);
    expect(() => new AimdLimit({ min: 5, max: 4 })).toThrow(RangeError);
    expect(() => new AimdLimit({ initial: 0 })).toThrow(RangeError);
    expect(() => new AimdLimit({ backoffRatio: 1 })).toThrow(RangeError);
  });
});

describe('GradientLimit', () => {
  it('grows while latency stays at the baseline and shrinks in proportion to latency growth', () => {
    const limit = new GradientLimit({ initial: 8, max: 500, smoothing: 1 });
    round(limit, 0);
    round(limit, 100, { latencyMs: 30 }); // ends slow start: back to 8
    expect(limit.current).toBe(8);
    round(limit, 200);
    expect(limit.current).toBe(10); // + queueSize
    round(limit, 300, { latencyMs: 20 });
    expect(limit.current).toBe(7); // 10 × 10/20 + 2
  });

  it('backs off on drops', () => {
    const limit = new GradientLimit({ initial: 10, smoothing: 1 });
    round(limit, 0, { dropped: true });
    expect(limit.current).toBe(5);
    round(limit, 100, { dropped: true });
    expect(limit.current).toBe(4);
    expect(() => new GradientLimit({ smoothing: 0 })).toThrow(RangeError);
    expect(() => new GradientLimit({ backoffRatio: 1.5 })).toThrow(RangeError);
  });
});

/**
 * A simulated upstream with a knee: latency is `base` up to 32 calls in flight and grows with the
 * square of the load beyond (contention), so throughput falls past the knee; ±15 % deterministic
 * jitter stands for network noise.
 */
function kneeServer(clock: ManualClock, baseMs = 10, knee = 32) {
  let inFlight = 0;
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff;
  return () => {
    inFlight++;
    const latency = baseMs * Math.max(1, (inFlight / knee) ** 2) * (0.85 + 0.3 * random());
    return new Promise<void>((resolve) =>
      clock.setTimeout(() => {
        inFlight--;
        resolve();
      }, latency),
    );
  };
}

async function throughput(
  concurrency: number | AimdLimit | GradientLimit,
  items = 4_000,
): Promise<number> {
  const clock = new ManualClock();
  const call = kneeServer(clock);
  const run = runBatch(
    Array.from({ length: items }, (_, i) => i),
    () => call(),
    { concurrency, clock },
  );
  await clock.runAllAsync();
  const report = await run;
  return report.succeeded / report.durationMs;
}

/**
 * The marketplace of `bench:offline` (upstream-sim's capacity knee): a product is one call of
 * 40 ms plus 25 ms for every call in flight over `knee` at its start, then a 5 ms poll; ±10 %
 * deterministic jitter. A call past the knee costs every call more than a thread gains, so the
 * best fixed concurrency is the knee (or the maximum, below it).
 */
function delistServer(clock: ManualClock, knee: number) {
  let invoking = 0;
  let seed = 7;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff;
  const wait = (ms: number) =>
    new Promise<void>((resolve) => clock.setTimeout(resolve, ms * (0.9 + 0.2 * random())));
  return async () => {
    invoking++;
    await wait(40 + 25 * Math.max(0, invoking - knee));
    invoking--;
    await wait(5);
  };
}

async function delistThroughput(
  knee: number,
  concurrency: number | AimdLimit,
  clock = new ManualClock(),
): Promise<number> {
  const call = delistServer(clock, knee);
  const run = runBatch(
    Array.from({ length: 600 }, (_, i) => i),
    () => call(),
    { concurrency, clock },
  );
  await clock.runAllAsync();
  const report = await run;
  return report.succeeded / report.durationMs;
}

describe('adaptive limits in a batch', () => {
  it.each([4, 16])(
    'AIMD reaches ≥ 90 %% of the best fixed concurrency (1..8) past a steep knee at %i, twice in a row',
    async (knee) => {
      const fixed = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((c) => delistThroughput(knee, c)));
      const best = Math.max(...fixed);
      expect(fixed.indexOf(best) + 1).toBe(Math.min(knee, 8));
      // As the offline service runs it (max_threads "auto"): half the maximum to start, and a
      // second batch that starts from what the first one learnt.
      const limit = new AimdLimit({ initial: 4, max: 8, tolerance: 1.1 });
      const clock = new ManualClock();
      expect((await delistThroughput(knee, limit, clock)) / best).toBeGreaterThanOrEqual(0.9);
      expect((await delistThroughput(knee, limit, clock)) / best).toBeGreaterThanOrEqual(0.9);
    },
  );

  it('reach ≥ 90 % of the best fixed concurrency against a knee at 32 without being told', async () => {
    const fixed = await Promise.all([8, 16, 24, 32, 40, 64, 128].map((c) => throughput(c)));
    const best = Math.max(...fixed);
    expect(fixed[3]).toBe(best); // the knee is the best fixed setting
    const aimd = await throughput(new AimdLimit({ initial: 4, max: 500 }));
    const gradient = await throughput(new GradientLimit({ initial: 4, max: 500 }));
    expect(aimd / best).toBeGreaterThanOrEqual(0.9);
    expect(gradient / best).toBeGreaterThanOrEqual(0.9);
  });

  it('never runs more calls than the current limit and reports limit changes', async () => {
    const clock = new ManualClock();
    const limit = new AimdLimit({ initial: 2, max: 50 });
    const call = kneeServer(clock, 10, 8);
    let inFlight = 0;
    let violations = 0;
    const limits: number[] = [];
    const run = runBatch(
      Array.from({ length: 500 }, (_, i) => i),
      async () => {
        inFlight++;
        if (inFlight > limit.current) violations++;
        try {
          await call();
        } finally {
          inFlight--;
        }
      },
      { concurrency: limit, clock, metrics: { limitChanged: (e) => limits.push(e.value) } },
    );
    await clock.runAllAsync();
    await run;
    expect(violations).toBe(0);
    expect(limits[0]).toBe(2);
    expect(Math.max(...limits)).toBeGreaterThan(8);
    expect(limit.current).toBeLessThan(20);
  });

  it('treats timeouts and 429s as overload', async () => {
    const clock = new ManualClock();
    const limit = new AimdLimit({ initial: 16 });
    let n = 0;
    const run = runBatch(
      Array.from({ length: 40 }, (_, i) => i),
      () => {
        n++;
        if (n % 2 === 0) return Promise.reject(new RateLimitedError());
        return new Promise(() => undefined); // hangs: the timeout fires
      },
      { concurrency: limit, clock, policy: timeout(100, { clock }) },
    );
    await clock.runAllAsync();
    const report = await run;
    expect(report.failed).toBe(40);
    expect(limit.current).toBeLessThan(16);
  });
});
