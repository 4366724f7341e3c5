#!/usr/bin/env node
// Benchmark of libs/concurrency against what users would pick instead (p-limit, p-queue,
// cockatiel, bottleneck, @supercharge/promise-pool, opossum). Run on demand, not in CI:
//
//   node bench/concurrency/run.mjs [--rounds=5] [--only=overhead,read,policy,makespan,rate,adaptive,memory]
//
// Throughput and timing: every library in this one process, alternating (the order rotates each
// round), one warm-up round, then the median of `--rounds` runs; the results-read scenario instead
// takes each sample in a fresh process (a warm-up of ≥ 2 runs and ≥ 1.5 s, then the measured run). Peak RSS: child processes per
// (library, scenario) that run it once and report `process.resourceUsage().maxRSS` (median of
// three: V8 sizes its young generation differently from run to run), next to a bare node process
// measured the same way. Tables go to stdout and tmp/bench-concurrency/.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, compileLib } from './lib.mjs';
import * as S from './scenarios.mjs';

const SELF = fileURLToPath(import.meta.url);
const OUT = join(ROOT, 'tmp/bench-concurrency');
const N = 200_000;
/**
 * Warm-up of each results-read child process before its measured run: at least this many runs
 * and this much time, so that every library is measured in its steady state (JIT tiers, and V8's
 * young generation, which grows over the first runs: a collected batchgate run in a process's
 * third run costs ~20 % more than in its tenth).
 */
const READ_WARMUP = { runs: 2, ms: 1_500 };

// ---------------------------------------------------------------------------------------------
// Child modes: one results-read sample; or one scenario run once, reporting peak RSS.

if (process.argv[2] === '--child-read') {
  // One sample of the results-read scenario in a process of its own: the warm-up, then the
  // measured run. Isolated so that each library pays for its own garbage only, and no library's
  // type feedback or heap shape is left behind for the next one.
  const [name, n, c] = process.argv.slice(3);
  const warmUpEnd = Date.now() + READ_WARMUP.ms;
  for (let i = 0; i < READ_WARMUP.runs || Date.now() < warmUpEnd; i++)
    await S.resultsRead[name](Number(n), Number(c));
  process.send(await S.resultsRead[name](Number(n), Number(c)));
  process.exit(0);
}

if (process.argv[2] === '--child') {
  const [group, name, n, c] = process.argv.slice(3);
  let ms = 0;
  if (group === 'overhead') ms = await S.overhead[name](Number(n), Number(c));
  else if (group === 'memory') ms = await S.memoryOnly[name](Number(n), Number(c));
  else if (group === 'collected') ms = await S.overhead.batchgate(Number(n), Number(c));
  // group 'bare': nothing at all
  process.send({ maxRssMiB: process.resourceUsage().maxRSS / 1024, ms });
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Orchestrator.

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const ROUNDS = Number(args.rounds ?? 5);
const ONLY = new Set(
  (args.only ?? 'overhead,read,policy,makespan,rate,adaptive,memory').split(','),
);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtRate = (perSec) =>
  perSec >= 1e6
    ? `${(perSec / 1e6).toFixed(2)} M/s`
    : perSec >= 1e3
      ? `${(perSec / 1e3).toFixed(1)} k/s`
      : `${perSec.toFixed(0)}/s`;
const fmtX = (x) =>
  x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
const log = (...a) => console.error(...a);

/** Runs `entries` (name → async fn returning a number) alternating, warm-up + ROUNDS, median. */
async function alternate(label, entries) {
  const names = Object.keys(entries);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      // No forced GC between runs: a forced full GC makes V8 drop optimised code whose maps died
      // and re-optimise on the next run, which is not what a service sees.
      const value = await entries[name]();
      if (round > 0) samples[name].push(value);
    }
    log(`  ${label}: round ${round === 0 ? 'warm-up' : round}/${ROUNDS} done`);
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

/** Peak RSS of `RSS_RUNS` child processes running the same scenario once each: median and all. */
const RSS_RUNS = 3;
async function peakRss(group, name, n, c) {
  const samples = [];
  for (let i = 0; i < RSS_RUNS; i++) samples.push((await child(group, name, n, c)).maxRssMiB);
  return { median: median(samples), samples };
}

function child(group, name, n, c) {
  return forkSelf(['--child', group, name, String(n), String(c)], `${group}/${name}`);
}

function forkSelf(argv, label) {
  return new Promise((resolve, reject) => {
    const proc = fork(SELF, argv, {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    proc.on('message', (m) => (result = m));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0 && result
        ? resolve(result)
        : reject(new Error(`child ${label} exited with ${code}`)),
    );
  });
}

const md = [];
const results = {
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  rounds: ROUNDS,
  // Timer lateness, and so the makespan rows, grow with the machine's load: record it.
  loadAverageAtStart: loadavg()[0],
};
const section = (title, lines) => {
  md.push(`### ${title}`, '', ...lines, '');
  console.log(`\n### ${title}\n\n${lines.join('\n')}`);
};

log(`compiling libs/concurrency: ${compileLib()} files`);
log(`node ${process.version}, ${results.cpu} × ${results.cores}, ${ROUNDS} rounds`);

// 1. Scheduling overhead ------------------------------------------------------------------------
if (ONLY.has('overhead') || ONLY.has('memory')) {
  const libs = Object.keys(S.overhead);
  const perSec = {};
  if (ONLY.has('overhead')) {
    for (const c of [8, 1000]) {
      const entries = Object.fromEntries(
        libs.map((lib) => [
          lib,
          async () =>
            (S.overheadN[lib] ?? N) / ((await S.overhead[lib](S.overheadN[lib] ?? N, c)) / 1000),
        ]),
      );
      perSec[c] = await alternate(`overhead c=${c}`, entries);
    }
  }
  const rss = {};
  let bare = 0;
  if (ONLY.has('memory')) {
    bare = (await peakRss('bare', 'bare', 0, 0)).median;
    for (const lib of libs)
      for (const c of [8, 1000])
        rss[`${lib}@${c}`] = (await peakRss('overhead', lib, S.overheadN[lib] ?? N, c)).median;
    log('  memory: per-library children done');
  }
  results.overhead = { perSec, rss, bareRssMiB: bare };
  const ours = perSec[8]?.batchgate;
  const ours1000 = perSec[1000]?.batchgate;
  const lines = [
    `${N.toLocaleString('en')} trivial async tasks (\`async (x) => x\`), every result collected; tasks/s (median of ${ROUNDS}), batchgate ÷ library, peak RSS of a child process running the scenario once (median of ${RSS_RUNS} such processes; bare node: ${bare.toFixed(1)} MiB).`,
    '',
    '| library | N | c=8 | batchgate ÷ | c=1000 | batchgate ÷ | peak RSS c=8 (Δ bare) | peak RSS c=1000 (Δ bare) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const lib of libs) {
    const r8 = perSec[8]?.[lib];
    const r1000 = perSec[1000]?.[lib];
    const m8 = rss[`${lib}@8`];
    const m1000 = rss[`${lib}@1000`];
    const fmtM = (m) => (m === undefined ? '–' : `${m.toFixed(1)} MiB (+${(m - bare).toFixed(1)})`);
    lines.push(
      `| ${lib} | ${(S.overheadN[lib] ?? N).toLocaleString('en')} | ${r8 ? fmtRate(r8) : '–'} | ${r8 ? fmtX(ours / r8) : '–'} | ${r1000 ? fmtRate(r1000) : '–'} | ${r1000 ? fmtX(ours1000 / r1000) : '–'} | ${fmtM(m8)} | ${fmtM(m1000)} |`,
    );
  }
  section('Scheduling overhead', lines);

  if (ONLY.has('memory')) {
    const modes = [
      ['batchgate (streamed, async source)', 'memory', 'batchgate (streamed, async source)'],
      ['batchgate (streamed)', 'overhead', 'batchgate (streamed)'],
      ['batchgate (collected)', 'collected', 'batchgate'],
      ['hand-written worker loop (collected)', 'overhead', 'hand-written worker loop'],
    ];
    const flat = [];
    for (const n of [N, 1_000_000])
      for (const [mode, group, name] of modes)
        flat.push({ mode, n, ...(await peakRss(group, name, n, 8)) });
    results.memoryFlat = flat;
    const fmtFlat = ({ median: m, samples }) =>
      `${m.toFixed(1)} MiB (+${(m - bare).toFixed(1)}; ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)})`;
    section('Peak RSS against N (concurrency 8)', [
      `Is the runner's memory flat in N? Streaming keeps nothing per item; a collected run keeps every result (5 bytes of bookkeeping per item plus a pointer to the value), the hand-written loop only an array of values. Every row but the async source includes the benchmark's own input array (~8 bytes per item). Median of ${RSS_RUNS} child processes (Δ bare node; range); bare node: ${bare.toFixed(1)} MiB.`,
      '',
      '| mode | N = 200,000 | N = 1,000,000 |',
      '|---|---:|---:|',
      ...modes.map(([mode]) => {
        const [a, b] = flat.filter((f) => f.mode === mode);
        return `| ${mode} | ${fmtFlat(a)} | ${fmtFlat(b)} |`;
      }),
    ]);
  }
}

// 1b. Results read -------------------------------------------------------------------------------
if (ONLY.has('read')) {
  const libs = Object.keys(S.resultsRead);
  const nOf = (lib) => S.overheadN[lib] ?? N;
  const perSec = {};
  const perCpuSec = {};
  const samples = {};
  const loadAtStart = loadavg()[0];
  for (const c of [8, 1000]) {
    // Each sample in a fresh process (a warm-up, then the measured run), the libraries
    // alternating round by round with a rotating order: sharing one process, a library's garbage
    // was collected during whichever library ran next (the rotation kept that neighbour fixed).
    const wall = Object.fromEntries(libs.map((lib) => [lib, []]));
    const cpu = Object.fromEntries(libs.map((lib) => [lib, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const lib of libs.map((_, i) => libs[(i + round) % libs.length])) {
        const { ms, cpuMs } = await forkSelf(
          ['--child-read', lib, String(nOf(lib)), String(c)],
          `read/${lib}`,
        );
        wall[lib].push(nOf(lib) / (ms / 1000));
        cpu[lib].push(nOf(lib) / (cpuMs / 1000));
      }
      log(`  results read c=${c}: round ${round + 1}/${ROUNDS} done`);
    }
    perSec[c] = Object.fromEntries(libs.map((lib) => [lib, median(wall[lib])]));
    perCpuSec[c] = Object.fromEntries(libs.map((lib) => [lib, median(cpu[lib])]));
    samples[c] = { wall, cpu };
  }
  const ratio = (rates, c, lib) => rates[c].batchgate / rates[c][lib];
  const loadAtEnd = loadavg()[0];
  results.resultsRead = {
    perSec,
    perCpuSec,
    batchgateOverPLimit: { 8: ratio(perSec, 8, 'p-limit'), 1000: ratio(perSec, 1000, 'p-limit') },
    batchgateOverPLimitCpu: {
      8: ratio(perCpuSec, 8, 'p-limit'),
      1000: ratio(perCpuSec, 1000, 'p-limit'),
    },
    loadAverage: [loadAtStart, loadAtEnd],
    samples,
  };
  const cells = (rates, c, lib) => `${fmtRate(rates[c][lib])} | ${fmtX(ratio(rates, c, lib))}`;
  section('Scheduling overhead, results read', [
    `${N.toLocaleString('en')} tasks that take one microtask and return a value (\`async (x) => { await null; return x * 2 }\`); every library's results are read and checked inside the timed region (their values summed; batchgate: \`report.results\`, streamed: the \`for await\` loop). Tasks per second of wall time and per second of the process's CPU time (all threads, the GC's included; on a shared machine wall time also measures the scheduler), median of ${ROUNDS} samples, batchgate ÷ library. Each sample is a fresh process that warms up (at least ${READ_WARMUP.runs} runs and ${READ_WARMUP.ms / 1000} s), then runs the measured one; the libraries alternate round by round.`,
    '',
    '| library | N | c=8 | batchgate ÷ | c=1000 | batchgate ÷ | c=8 per CPU-s | batchgate ÷ | c=1000 per CPU-s | batchgate ÷ |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...libs.map(
      (lib) =>
        `| ${lib} | ${nOf(lib).toLocaleString('en')} | ${cells(perSec, 8, lib)} | ${cells(perSec, 1000, lib)} | ${cells(perCpuSec, 8, lib)} | ${cells(perCpuSec, 1000, lib)} |`,
    ),
    '',
    `batchgate ÷ p-limit (target ≥ 8×): ${fmtX(ratio(perSec, 8, 'p-limit'))} at c=8 and ${fmtX(ratio(perSec, 1000, 'p-limit'))} at c=1000 in wall time, ${fmtX(ratio(perCpuSec, 8, 'p-limit'))} and ${fmtX(ratio(perCpuSec, 1000, 'p-limit'))} in CPU time; 1-minute load average ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end.`,
  ]);
}

// 2. Policy cost ----------------------------------------------------------------------------------
if (ONLY.has('policy')) {
  const names = Object.keys(S.policy);
  const perSec = await alternate(
    'policy',
    Object.fromEntries(
      names.map((name) => [
        name,
        async () => (S.policyN[name] ?? N) / ((await S.policy[name](S.policyN[name] ?? N)) / 1000),
      ]),
    ),
  );
  results.policy = perSec;
  const ours = perSec['batchgate retry+breaker+timeout (execute)'];
  section('Policy cost (happy path)', [
    `Calls through retry + circuit breaker + timeout, none failing, driven by the same worker loop at concurrency 8 (runBatch row: its \`policy\` option); calls/s, median of ${ROUNDS}.`,
    '',
    '| stack | N | calls/s | batchgate (execute) ÷ |',
    '|---|---:|---:|---:|',
    ...names.map(
      (n) =>
        `| ${n} | ${(S.policyN[n] ?? N).toLocaleString('en')} | ${fmtRate(perSec[n])} | ${fmtX(ours / perSec[n])} |`,
    ),
  ]);
}

// 3. Makespan ---------------------------------------------------------------------------------------
if (ONLY.has('makespan')) {
  const libs = Object.keys(S.makespan);
  const out = {};
  for (const kind of ['even', 'uneven'])
    out[kind] = await alternate(
      `makespan ${kind}`,
      Object.fromEntries(libs.map((lib) => [lib, () => S.makespan[lib](kind)])),
    );
  results.makespan = out;
  const ideal = { even: S.idealMakespan('even'), uneven: S.idealMakespan('uneven') };
  section('Makespan efficiency', [
    `${S.MAKESPAN.tasks.toLocaleString('en')} timer tasks at concurrency ${S.MAKESPAN.concurrency}: even = 10 ms each, uneven = 1–19 ms (same total); ideal = total ÷ concurrency (${ideal.even} / ${ideal.uneven.toFixed(1)} ms); actual/ideal, median of ${ROUNDS}. Real \`setTimeout\` timers fire up to ~1 ms late, so every runner pays some lateness per task.`,
    '',
    '| library | even (ms) | even actual/ideal | uneven (ms) | uneven actual/ideal |',
    '|---|---:|---:|---:|---:|',
    ...libs.map(
      (lib) =>
        `| ${lib} | ${out.even[lib].toFixed(0)} | ${(out.even[lib] / ideal.even).toFixed(3)} | ${out.uneven[lib].toFixed(0)} | ${(out.uneven[lib] / ideal.uneven).toFixed(3)} |`,
    ),
    `| *floor: in input order, zero overhead, punctual timers (computed)* | ${S.inOrderFloor('even')} | ${(S.inOrderFloor('even') / ideal.even).toFixed(3)} | ${S.inOrderFloor('uneven')} | ${(S.inOrderFloor('uneven') / ideal.uneven).toFixed(3)} |`,
  ]);

  // Where the time above the floor goes: the runner's own cost vs the timers' lateness.
  const traced = Object.keys(S.makespanTraced);
  const breakdown = {};
  for (const kind of ['even', 'uneven']) {
    const runs = Object.fromEntries(traced.map((lib) => [lib, []]));
    await alternate(
      `makespan ${kind} (traced)`,
      Object.fromEntries(
        traced.map((lib) => [
          lib,
          async () => {
            const { ms, taskMs } = await S.makespanTraced[lib](kind);
            const nominal = S.durations(kind);
            let late = 0;
            for (let i = 0; i < nominal.length; i++) late += taskMs[i] - nominal[i];
            const r = { ms, replayMs: S.inOrderSchedule(taskMs), lateMs: late / nominal.length };
            runs[lib].push(r);
            return ms;
          },
        ]),
      ),
    );
    breakdown[kind] = Object.fromEntries(
      traced.map((lib) => {
        const measured = runs[lib].slice(1); // without the warm-up
        const pick = (f) => median(measured.map(f));
        return [
          lib,
          {
            actual: pick((r) => r.ms),
            replay: pick((r) => r.replayMs),
            overhead: pick((r) => r.ms - r.replayMs),
            late: pick((r) => r.lateMs),
          },
        ];
      }),
    );
  }
  results.makespanBreakdown = breakdown;
  section('Makespan: runner overhead vs timer lateness', [
    `The same runs with each task recording how long its timer really took. *replay* = those measured durations scheduled in input order with zero overhead (what a perfect runner would reach with the same timers); *runner overhead* = actual − replay; *timer lateness* = mean (measured − nominal) per task. Medians of ${ROUNDS}; ideal as above.`,
    '',
    '| runner | tasks | actual/ideal | replay/ideal | runner overhead (ms) | timer lateness per task (ms) |',
    '|---|---|---:|---:|---:|---:|',
    ...['even', 'uneven'].flatMap((kind) =>
      traced.map((lib) => {
        const b = breakdown[kind][lib];
        return `| ${lib} | ${kind} | ${(b.actual / ideal[kind]).toFixed(3)} | ${(b.replay / ideal[kind]).toFixed(3)} | ${b.overhead.toFixed(2)} | ${b.late.toFixed(3)} |`;
      }),
    ),
  ]);
}

// 4. Rate accuracy ------------------------------------------------------------------------------------
if (ONLY.has('rate')) {
  const libs = Object.keys(S.rate);
  const maxStarts = {};
  const makespanMs = {};
  const samples = Object.fromEntries(libs.map((l) => [l, []]));
  await alternate(
    'rate',
    Object.fromEntries(
      libs.map((lib) => [
        lib,
        async () => {
          const r = await S.rate[lib]();
          samples[lib].push(r);
          return r.maxStarts;
        },
      ]),
    ),
  );
  for (const lib of libs) {
    const measured = samples[lib].slice(1); // without the warm-up
    maxStarts[lib] = Math.max(...measured.map((r) => r.maxStarts));
    makespanMs[lib] = median(measured.map((r) => r.makespanMs));
  }
  results.rate = { maxStarts, makespanMs };
  section('Rate accuracy', [
    `${S.RATE.tasks} tasks under "${S.RATE.limit} starts per ${S.RATE.intervalMs} ms", arriving in five bursts of 100; the most starts seen in any sliding ${S.RATE.intervalMs} ms window (worst of ${ROUNDS} runs) and the median makespan.`,
    '',
    '| limiter | max starts in any 250 ms | makespan (ms) |',
    '|---|---:|---:|',
    ...libs.map((lib) => `| ${lib} | ${maxStarts[lib]} | ${makespanMs[lib].toFixed(0)} |`),
  ]);
}

// 5. Adaptive limit -------------------------------------------------------------------------------------
if (ONLY.has('adaptive')) {
  const configs = [16, 24, 32, 40, 48, 64, 'AimdLimit', 'GradientLimit'];
  const finals = Object.fromEntries(configs.map((c) => [c, []]));
  const ms = await alternate(
    'adaptive',
    Object.fromEntries(
      configs.map((c) => [
        c,
        async () => {
          const r = await S.kneeRun(c);
          finals[c].push(r.finalLimit);
          return r.ms;
        },
      ]),
    ),
  );
  const tput = Object.fromEntries(configs.map((c) => [c, S.KNEE.requests / (ms[c] / 1000)]));
  const fixed = configs.filter((c) => typeof c === 'number');
  const bestFixed = fixed.reduce((a, b) => (tput[b] > tput[a] ? b : a));
  results.adaptive = { tput, bestFixed };
  section('Adaptive concurrency', [
    `${S.KNEE.requests.toLocaleString('en')} calls to a simulated upstream: ${S.KNEE.baseMs} ms up to ${S.KNEE.knee} in flight, latency × (inFlight/${S.KNEE.knee})² beyond; real timers; median of ${ROUNDS}. The adaptive limits start at 4 and are not told the knee.`,
    '',
    '| concurrency | calls/s | of best fixed (c=' + bestFixed + ') | limit at the end |',
    '|---|---:|---:|---:|',
    ...configs.map(
      (c) =>
        `| ${c} | ${tput[c].toFixed(0)} | ${((100 * tput[c]) / tput[bestFixed]).toFixed(1)} % | ${median(finals[c].slice(1))} |`,
    ),
  ]);
}

results.loadAverageAtEnd = loadavg()[0];
const machine = `Node ${results.node}, ${results.cpu} × ${results.cores} cores, 1-minute load average ${results.loadAverageAtStart.toFixed(2)} at the start and ${results.loadAverageAtEnd.toFixed(2)} at the end`;
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2));
writeFileSync(join(OUT, 'results.md'), `${machine}\n\n${md.join('\n')}\n`);
log(`\n${machine}\nwritten: tmp/bench-concurrency/results.md and results.json`);
