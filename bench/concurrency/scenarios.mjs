// The benchmark scenarios, one function per (scenario, library). Every function loads the library
// it needs lazily, so a child process that measures one of them holds only that library.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { loadLib } from './lib.mjs';

const require = createRequire(import.meta.url);
const esm = {};
async function pLimit() {
  esm.pLimit ??= (await import('p-limit')).default;
  return esm.pLimit;
}
async function PQueue() {
  esm.PQueue ??= (await import('p-queue')).default;
  return esm.PQueue;
}

function check(condition, message) {
  if (!condition) throw new Error(`benchmark self-check failed: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// 1. Scheduling overhead: N trivial async tasks at concurrency c; every result is collected.

const trivial = async (x) => x;

export const overhead = {
  batchgate: async (n, c) => {
    const { runBatch } = loadLib();
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const report = await runBatch(items, trivial, { concurrency: c });
    const ms = performance.now() - t;
    check(report.succeeded === n, 'batchgate results');
    return ms;
  },
  'batchgate (streamed)': async (n, c) => {
    const { runBatch } = loadLib();
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    let count = 0;
    for await (const r of runBatch(items, trivial, { concurrency: c })) if (r.ok) count++;
    const ms = performance.now() - t;
    check(count === n, 'batchgate streamed results');
    return ms;
  },
  'p-limit': async (n, c) => {
    const limit = (await pLimit())(c);
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const out = await Promise.all(items.map((x) => limit(trivial, x)));
    const ms = performance.now() - t;
    check(out.length === n, 'p-limit results');
    return ms;
  },
  'p-queue': async (n, c) => {
    const queue = new (await PQueue())({ concurrency: c });
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const out = await Promise.all(items.map((x) => queue.add(() => trivial(x))));
    const ms = performance.now() - t;
    check(out.length === n, 'p-queue results');
    return ms;
  },
  'cockatiel bulkhead': async (n, c) => {
    const { bulkhead } = require('cockatiel');
    const policy = bulkhead(c, Number.MAX_SAFE_INTEGER);
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const out = await Promise.all(items.map((x) => policy.execute(() => trivial(x))));
    const ms = performance.now() - t;
    check(out.length === n, 'cockatiel results');
    return ms;
  },
  bottleneck: async (n, c) => {
    const Bottleneck = require('bottleneck');
    const limiter = new Bottleneck({ maxConcurrent: c });
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const out = await Promise.all(items.map((x) => limiter.schedule(() => trivial(x))));
    const ms = performance.now() - t;
    check(out.length === n, 'bottleneck results');
    return ms;
  },
  '@supercharge/promise-pool': async (n, c) => {
    const { PromisePool } = require('@supercharge/promise-pool');
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const { results } = await PromisePool.withConcurrency(c).for(items).process(trivial);
    const ms = performance.now() - t;
    check(results.length === n, 'promise-pool results');
    return ms;
  },
  'hand-written worker loop': async (n, c) => {
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const out = new Array(n);
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        out[i] = await trivial(items[i]);
      }
    };
    await Promise.all(Array.from({ length: c }, worker));
    return performance.now() - t;
  },
};

/** Items measured per library (the slow ones would take minutes at 200,000). */
export const overheadN = {
  'cockatiel bulkhead': 20_000,
  bottleneck: 1_000,
};

// ---------------------------------------------------------------------------------------------
// 1b. What users pay: the same N items, but each task takes one microtask (`await null`) and
//     returns a value, and every library's results are read and checked (their values summed) as
//     a caller would, inside the timed region. For batchgate that includes building
//     `report.results` from its columnar store. Each run returns its wall and CPU time.

const oneMicrotask = async (x) => {
  await null;
  return x * 2;
};
/** Sum of every value `oneMicrotask` returns for the items 0 … n - 1. */
const expectedSum = (n) => n * (n - 1);

export const resultsRead = {
  batchgate: async (n, c) => {
    const { runBatch } = loadLib();
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const report = await runBatch(items, oneMicrotask, { concurrency: c });
    let sum = 0;
    for (const r of report.results) if (r.ok) sum += r.value;
    const elapsed = stopClocks(t);
    check(sum === expectedSum(n) && report.results.length === n, 'batchgate results read');
    return elapsed;
  },
  'batchgate (streamed)': async (n, c) => {
    const { runBatch } = loadLib();
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    let sum = 0;
    for await (const r of runBatch(items, oneMicrotask, { concurrency: c }))
      if (r.ok) sum += r.value;
    const elapsed = stopClocks(t);
    check(sum === expectedSum(n), 'batchgate streamed results read');
    return elapsed;
  },
  'p-limit': async (n, c) => {
    const limit = (await pLimit())(c);
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const out = await Promise.all(items.map((x) => limit(oneMicrotask, x)));
    return readValues(t, out, n, 'p-limit');
  },
  'p-queue': async (n, c) => {
    const queue = new (await PQueue())({ concurrency: c });
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const out = await Promise.all(items.map((x) => queue.add(() => oneMicrotask(x))));
    return readValues(t, out, n, 'p-queue');
  },
  'cockatiel bulkhead': async (n, c) => {
    const { bulkhead } = require('cockatiel');
    const policy = bulkhead(c, Number.MAX_SAFE_INTEGER);
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const out = await Promise.all(items.map((x) => policy.execute(() => oneMicrotask(x))));
    return readValues(t, out, n, 'cockatiel');
  },
  bottleneck: async (n, c) => {
    const Bottleneck = require('bottleneck');
    const limiter = new Bottleneck({ maxConcurrent: c });
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const out = await Promise.all(items.map((x) => limiter.schedule(() => oneMicrotask(x))));
    return readValues(t, out, n, 'bottleneck');
  },
  '@supercharge/promise-pool': async (n, c) => {
    const { PromisePool } = require('@supercharge/promise-pool');
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const { results, errors } = await PromisePool.withConcurrency(c)
      .for(items)
      .process(oneMicrotask);
    check(errors.length === 0, 'promise-pool errors');
    return readValues(t, results, n, 'promise-pool');
  },
  'hand-written worker loop': async (n, c) => {
    const items = Array.from({ length: n }, (_, i) => i);
    const t = startClocks();
    const out = new Array(n);
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        out[i] = await oneMicrotask(items[i]);
      }
    };
    await Promise.all(Array.from({ length: c }, worker));
    return readValues(t, out, n, 'hand-written loop');
  },
};

/** Sums `values` the way the batchgate rows read theirs and checks them; the time since `t`. */
function readValues(t, values, n, label) {
  let sum = 0;
  for (const v of values) sum += v;
  const elapsed = stopClocks(t);
  check(values.length === n && sum === expectedSum(n), `${label} results read`);
  return elapsed;
}

/**
 * Wall time and this process's CPU time (every thread: the GC's helpers too) from here. On a
 * machine shared with other work, wall time also measures how often the scheduler ran us; CPU
 * time measures the work alone.
 */
function startClocks() {
  return { wall: performance.now(), cpu: process.cpuUsage() };
}
/** `{ ms, cpuMs }` since {@link startClocks}. */
function stopClocks(t) {
  const ms = performance.now() - t.wall;
  const { user, system } = process.cpuUsage(t.cpu);
  return { ms, cpuMs: (user + system) / 1000 };
}

/** Memory-only scenarios (child processes): is the runner's memory flat in N? */
export const memoryOnly = {
  'batchgate (streamed, async source)': async (n, c) => {
    const { runBatch } = loadLib();
    async function* source() {
      for (let i = 0; i < n; i++) yield i;
    }
    const t = performance.now();
    let count = 0;
    for await (const r of runBatch(source(), trivial, { concurrency: c })) if (r.ok) count++;
    check(count === n, 'streamed async source');
    return performance.now() - t;
  },
};

// ---------------------------------------------------------------------------------------------
// 2. Policy cost: N calls through timeout + retry + circuit breaker on the happy path, driven by
//    the same worker loop at concurrency 8 (so only the policy stack differs).

const ok = () => Promise.resolve(1);

async function driveExecute(n, c, execute) {
  let next = 0;
  let sum = 0;
  const t = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      const value = await execute();
      sum += value;
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  const ms = performance.now() - t;
  check(sum === n, 'policy results');
  return ms;
}

export const policy = {
  'batchgate retry+breaker+timeout (execute)': async (n) => {
    const { composePolicies, retry, CircuitBreaker, timeout } = loadLib();
    const stack = composePolicies(
      retry({ maxAttempts: 3 }),
      new CircuitBreaker({ consecutiveFailures: 5 }),
      timeout(1_000),
    );
    return driveExecute(n, 8, () => stack.execute(ok));
  },
  'batchgate retry+breaker+timeout (runBatch policy)': async (n) => {
    const { composePolicies, retry, CircuitBreaker, timeout, runBatch } = loadLib();
    const stack = composePolicies(
      retry({ maxAttempts: 3 }),
      new CircuitBreaker({ consecutiveFailures: 5 }),
      timeout(1_000),
    );
    const items = Array.from({ length: n }, (_, i) => i);
    const t = performance.now();
    const report = await runBatch(items, ok, { concurrency: 8, policy: stack });
    const ms = performance.now() - t;
    check(report.succeeded === n, 'runBatch policy results');
    return ms;
  },
  'cockatiel wrap(retry, breaker, timeout)': async (n) => {
    const c = require('cockatiel');
    const stack = c.wrap(
      c.retry(c.handleAll, { maxAttempts: 3, backoff: new c.ExponentialBackoff() }),
      c.circuitBreaker(c.handleAll, {
        halfOpenAfter: 10_000,
        breaker: new c.ConsecutiveBreaker(5),
      }),
      c.timeout(1_000, c.TimeoutStrategy.Cooperative),
    );
    return driveExecute(n, 8, () => stack.execute(ok));
  },
  'opossum breaker+timeout (no retry)': async (n) => {
    const CircuitBreaker = require('opossum');
    const breaker = new CircuitBreaker(ok, {
      timeout: 1_000,
      resetTimeout: 10_000,
      errorThresholdPercentage: 50,
    });
    try {
      return await driveExecute(n, 8, () => breaker.fire());
    } finally {
      breaker.shutdown();
    }
  },
};

export const policyN = {
  'cockatiel wrap(retry, breaker, timeout)': 50_000,
  'opossum breaker+timeout (no retry)': 50_000,
};

// ---------------------------------------------------------------------------------------------
// 3. Makespan: 2,000 timer tasks at concurrency 50; `even` = 10 ms each (ideal 400 ms), `uneven`
//    = 1..19 ms (same total, ideal 400 ms).

export const MAKESPAN = { tasks: 2_000, concurrency: 50 };
export function durations(kind) {
  return Array.from({ length: MAKESPAN.tasks }, (_, i) =>
    kind === 'even' ? 10 : 1 + ((i * 7) % 19),
  );
}
export function idealMakespan(kind) {
  const total = durations(kind).reduce((a, b) => a + b, 0);
  return Math.max(total / MAKESPAN.concurrency, ...durations(kind));
}
/**
 * Makespan of starting tasks that take `taskMs` in input order, each on the first free slot,
 * with zero overhead between one task's end and the next one's start.
 */
export function inOrderSchedule(taskMs) {
  const slots = new Array(MAKESPAN.concurrency).fill(0);
  for (const ms of taskMs) {
    let min = 0;
    for (let i = 1; i < slots.length; i++) if (slots[i] < slots[min]) min = i;
    slots[min] += ms;
  }
  return Math.max(...slots);
}
/**
 * The in-order schedule of the nominal durations: what any runner that does not know durations
 * in advance can reach at best with perfectly punctual timers.
 */
export function inOrderFloor(kind) {
  return inOrderSchedule(durations(kind));
}
const sleepTask = (ms) => delay(ms, ms);

export const makespan = {
  batchgate: async (kind) => {
    const { runBatch } = loadLib();
    const t = performance.now();
    const report = await runBatch(durations(kind), sleepTask, {
      concurrency: MAKESPAN.concurrency,
    });
    check(report.succeeded === MAKESPAN.tasks, 'batchgate makespan');
    return performance.now() - t;
  },
  'p-limit': async (kind) => {
    const limit = (await pLimit())(MAKESPAN.concurrency);
    const t = performance.now();
    await Promise.all(durations(kind).map((ms) => limit(sleepTask, ms)));
    return performance.now() - t;
  },
  'p-queue': async (kind) => {
    const queue = new (await PQueue())({ concurrency: MAKESPAN.concurrency });
    const t = performance.now();
    await Promise.all(durations(kind).map((ms) => queue.add(() => sleepTask(ms))));
    return performance.now() - t;
  },
  'cockatiel bulkhead': async (kind) => {
    const { bulkhead } = require('cockatiel');
    const policy = bulkhead(MAKESPAN.concurrency, Number.MAX_SAFE_INTEGER);
    const t = performance.now();
    await Promise.all(durations(kind).map((ms) => policy.execute(() => sleepTask(ms))));
    return performance.now() - t;
  },
  bottleneck: async (kind) => {
    const Bottleneck = require('bottleneck');
    const limiter = new Bottleneck({ maxConcurrent: MAKESPAN.concurrency });
    const t = performance.now();
    await Promise.all(durations(kind).map((ms) => limiter.schedule(() => sleepTask(ms))));
    return performance.now() - t;
  },
  '@supercharge/promise-pool': async (kind) => {
    const { PromisePool } = require('@supercharge/promise-pool');
    const t = performance.now();
    await PromisePool.withConcurrency(MAKESPAN.concurrency).for(durations(kind)).process(sleepTask);
    return performance.now() - t;
  },
  'hand-written worker loop': async (kind) => {
    const all = durations(kind);
    const t = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < all.length) await sleepTask(all[next++]);
    };
    await Promise.all(Array.from({ length: MAKESPAN.concurrency }, worker));
    return performance.now() - t;
  },
  'chunked Promise.all': async (kind) => {
    const all = durations(kind);
    const t = performance.now();
    for (let i = 0; i < all.length; i += MAKESPAN.concurrency)
      await Promise.all(all.slice(i, i + MAKESPAN.concurrency).map(sleepTask));
    return performance.now() - t;
  },
};

/**
 * The same makespan runs, each task also recording how long its timer actually took. Replaying
 * those durations in input order with zero overhead ({@link inOrderSchedule}) gives the makespan
 * the run would have had without any scheduling cost, so `ms - replay` is what the runner itself
 * added, and `taskMs - nominal` is the lateness of the timers. Both runners get the same
 * recording task (one extra promise hop per task for both).
 */
const recordingSleep = (taskMs) => (ms, i) => {
  const t0 = performance.now();
  return delay(ms, ms).then((value) => {
    taskMs[i] = performance.now() - t0;
    return value;
  });
};

export const makespanTraced = {
  batchgate: async (kind) => {
    const { runBatch } = loadLib();
    const all = durations(kind);
    const taskMs = new Float64Array(all.length);
    const task = recordingSleep(taskMs);
    const t = performance.now();
    const report = await runBatch(all, (ms, ctx) => task(ms, ctx.index), {
      concurrency: MAKESPAN.concurrency,
    });
    const ms = performance.now() - t;
    check(report.succeeded === MAKESPAN.tasks, 'batchgate traced makespan');
    return { ms, taskMs };
  },
  'hand-written worker loop': async (kind) => {
    const all = durations(kind);
    const taskMs = new Float64Array(all.length);
    const task = recordingSleep(taskMs);
    const t = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < all.length) {
        const i = next++;
        await task(all[i], i);
      }
    };
    await Promise.all(Array.from({ length: MAKESPAN.concurrency }, worker));
    return { ms: performance.now() - t, taskMs };
  },
};

// ---------------------------------------------------------------------------------------------
// 4. Rate accuracy: 500 tasks under "50 starts per 250 ms", arriving in bursts; the most starts
//    seen in any 250 ms window (sliding, measured at the moment each task starts).

export const RATE = { limit: 50, intervalMs: 250, tasks: 500 };
/** Arrival times: five bursts of 100 tasks (0 ms, 60 ms, 700 ms, 760 ms, 1 500 ms). */
export const ARRIVALS = [0, 60, 700, 760, 1_500].flatMap((at) =>
  Array.from({ length: 100 }, () => at),
);

export function maxInWindow(times, windowMs) {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j] + windowMs <= sorted[i]) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

async function runArrivals(submit) {
  const starts = [];
  const t0 = performance.now();
  const task = () => {
    starts.push(performance.now() - t0);
    return delay(2);
  };
  const done = [];
  let last = 0;
  for (const at of ARRIVALS) {
    if (at > last) {
      await delay(at - (performance.now() - t0));
      last = at;
    }
    done.push(submit(task));
  }
  await Promise.all(done);
  check(starts.length === RATE.tasks, 'rate: every task ran');
  return { maxStarts: maxInWindow(starts, RATE.intervalMs), makespanMs: performance.now() - t0 };
}

export const rate = {
  'batchgate RateLimiter': async () => {
    const { RateLimiter } = loadLib();
    const limiter = new RateLimiter({ limit: RATE.limit, intervalMs: RATE.intervalMs });
    return runArrivals((task) => limiter.execute(task));
  },
  'p-queue (intervalCap 50, interval 250)': async () => {
    const queue = new (await PQueue())({ intervalCap: RATE.limit, interval: RATE.intervalMs });
    return runArrivals((task) => queue.add(task));
  },
  'bottleneck (reservoir 50 / 250 ms)': async () => {
    const Bottleneck = require('bottleneck');
    const limiter = new Bottleneck({
      reservoir: RATE.limit,
      reservoirRefreshAmount: RATE.limit,
      reservoirRefreshInterval: RATE.intervalMs,
    });
    try {
      return await runArrivals((task) => limiter.schedule(task));
    } finally {
      await limiter.disconnect();
    }
  },
  'bottleneck (minTime 5 ms)': async () => {
    const Bottleneck = require('bottleneck');
    const limiter = new Bottleneck({ minTime: RATE.intervalMs / RATE.limit });
    return runArrivals((task) => limiter.schedule(task));
  },
};

// ---------------------------------------------------------------------------------------------
// 5. Adaptive limit: a simulated upstream whose latency is 10 ms up to 32 calls in flight and
//    grows with the square of the load beyond (contention), on real timers.

export const KNEE = { requests: 3_000, baseMs: 10, knee: 32 };

function kneeUpstream() {
  let inFlight = 0;
  return async () => {
    inFlight++;
    const latency = KNEE.baseMs * Math.max(1, (inFlight / KNEE.knee) ** 2);
    await delay(latency);
    inFlight--;
  };
}

export async function kneeRun(concurrency) {
  const { runBatch, AimdLimit, GradientLimit } = loadLib();
  const limit =
    concurrency === 'AimdLimit'
      ? new AimdLimit({ initial: 4, max: 1_000 })
      : concurrency === 'GradientLimit'
        ? new GradientLimit({ initial: 4, max: 1_000 })
        : concurrency;
  const call = kneeUpstream();
  const items = Array.from({ length: KNEE.requests }, (_, i) => i);
  const t = performance.now();
  const report = await runBatch(items, () => call(), { concurrency: limit });
  const ms = performance.now() - t;
  check(report.succeeded === KNEE.requests, 'knee results');
  return { ms, finalLimit: typeof limit === 'number' ? limit : limit.current };
}
