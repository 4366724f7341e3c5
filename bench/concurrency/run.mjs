#!/usr/bin/env node
// Benchmark of libs/concurrency against what users would pick instead (p-limit, p-queue,
// cockatiel, bottleneck, @supercharge/promise-pool, opossum). Run on demand, not in CI:
//
//   node bench/concurrency/run.mjs [--rounds=5] [--only=overhead,policy,makespan,rate,adaptive,memory]
//
// Throughput and timing: every library in this one process, alternating (the order rotates each
// round), one warm-up round, then the median of `--rounds` runs. Peak RSS: one child process per
// (library, scenario) that runs it once and reports `process.resourceUsage().maxRSS`, next to a
// bare node process measured the same way. Tables go to stdout and tmp/bench-concurrency/.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, compileLib } from './lib.mjs';
import * as S from './scenarios.mjs';

const SELF = fileURLToPath(import.meta.url);
const OUT = join(ROOT, 'tmp/bench-concurrency');
const N = 200_000;

// ---------------------------------------------------------------------------------------------
// Child mode: run one scenario once and report peak RSS.

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
const ONLY = new Set((args.only ?? 'overhead,policy,makespan,rate,adaptive,memory').split(','));

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

function child(group, name, n, c) {
  return new Promise((resolve, reject) => {
    const proc = fork(SELF, ['--child', group, name, String(n), String(c)], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    proc.on('message', (m) => (result = m));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0 && result
        ? resolve(result)
        : reject(new Error(`child ${group}/${name} exited with ${code}`)),
    );
  });
}

const md = [];
const results = {
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  rounds: ROUNDS,
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
    const bares = [];
    for (let i = 0; i < 3; i++) bares.push((await child('bare', 'bare', 0, 0)).maxRssMiB);
    bare = median(bares);
    for (const lib of libs)
      for (const c of [8, 1000])
        rss[`${lib}@${c}`] = (await child('overhead', lib, S.overheadN[lib] ?? N, c)).maxRssMiB;
    log('  memory: per-library children done');
  }
  results.overhead = { perSec, rss, bareRssMiB: bare };
  const ours = perSec[8]?.batchgate;
  const ours1000 = perSec[1000]?.batchgate;
  const lines = [
    `${N.toLocaleString('en')} trivial async tasks (\`async (x) => x\`), every result collected; tasks/s (median of ${ROUNDS}), batchgate ÷ library, peak RSS of a child process running the scenario once (bare node: ${bare.toFixed(1)} MiB).`,
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
    const flat = [];
    for (const n of [N, 1_000_000]) {
      flat.push([
        'batchgate (streamed, async source)',
        n,
        (await child('memory', 'batchgate (streamed, async source)', n, 8)).maxRssMiB,
      ]);
      flat.push([
        'batchgate (streamed)',
        n,
        (await child('overhead', 'batchgate (streamed)', n, 8)).maxRssMiB,
      ]);
      flat.push([
        'batchgate (collected)',
        n,
        (await child('collected', 'batchgate', n, 8)).maxRssMiB,
      ]);
    }
    results.memoryFlat = flat;
    section('Peak RSS against N (concurrency 8)', [
      `Is the runner's memory flat in N? Streaming keeps nothing per item; a collected run keeps every result (columnar: ~21 bytes per item plus the value). Bare node: ${bare.toFixed(1)} MiB.`,
      '',
      '| mode | N = 200,000 | N = 1,000,000 |',
      '|---|---:|---:|',
      ...[
        'batchgate (streamed, async source)',
        'batchgate (streamed)',
        'batchgate (collected)',
      ].map((mode) => {
        const [a, b] = flat.filter((f) => f[0] === mode).map((f) => f[2]);
        return `| ${mode} | ${a.toFixed(1)} MiB (+${(a - bare).toFixed(1)}) | ${b.toFixed(1)} MiB (+${(b - bare).toFixed(1)}) |`;
      }),
    ]);
  }
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
    `| *floor: in input order, zero overhead (computed)* | ${S.inOrderFloor('even')} | ${(S.inOrderFloor('even') / ideal.even).toFixed(3)} | ${S.inOrderFloor('uneven')} | ${(S.inOrderFloor('uneven') / ideal.uneven).toFixed(3)} |`,
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

mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2));
writeFileSync(
  join(OUT, 'results.md'),
  `Node ${results.node}, ${results.cpu} × ${results.cores} cores\n\n${md.join('\n')}\n`,
);
log(`\nwritten: tmp/bench-concurrency/results.md and results.json`);
