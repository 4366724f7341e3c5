/**
 * Seed 004's performance comparison, against the real stack (upstream-sim, token-manager and
 * kline-sync as processes): 1000 stocks pulled with a per-token rate limit, at a fixed provider
 * latency and at the demo profile's log-normal latency (σ 0.6). The seed's "threads" each pull one
 * stock at a time, reproduced here with the worker concurrency set to the thread count;
 * "batchgate" is the default engine (shared token pool, calls booked under each token's rate at
 * token-manager).
 *   npm run bench:kline            (BENCH_STOCKS, BENCH_LATENCY_MS, BENCH_RATE to change;
 *                                   BENCH_ONLY=batchgate runs the scenarios whose name contains it)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { lastValueFrom } from 'rxjs';
import { waitFor } from '@batchgate/testing';
import { deleteSyncWorkConsumer, provideTokens, startKlineStack } from '../../apps/kline-sync/test/stack.harness';

const STOCKS = Number(process.env['BENCH_STOCKS'] ?? 1_000);
const LATENCY_MS = Number(process.env['BENCH_LATENCY_MS'] ?? 50);
const RATE = Number(process.env['BENCH_RATE'] ?? 5);
const ONLY = process.env['BENCH_ONLY'] ?? '';

/** The provider's latency of every kline call (upstream-sim's knob). */
type Latency = { kind: 'fixed'; ms: number } | { kind: 'lognormal'; medianMs: number; sigma: number; capMs: number };

interface Scenario {
  name: string;
  tokens: number;
  /** Stocks in flight at once; undefined = the engine's default. */
  workerConcurrency?: number;
  /** Default: fixed at BENCH_LATENCY_MS. */
  latency?: Latency;
}

/** The demo profile's latency of `market.kline` (SIM_PROFILE=demo), at another median. */
const demoLatency = (medianMs: number): Latency => ({ kind: 'lognormal', medianMs, sigma: 0.6, capMs: medianMs * 20 });

const SINGLE_THREAD = 'seed: single thread, 12 tokens';
const SCENARIOS: Scenario[] = [
  { name: SINGLE_THREAD, tokens: 12, workerConcurrency: 1 },
  { name: 'seed: 2 threads, 12 tokens', tokens: 12, workerConcurrency: 2 },
  { name: 'seed: 5 threads, 30 tokens', tokens: 30, workerConcurrency: 5 },
  { name: 'batchgate: 12 tokens', tokens: 12 },
  { name: 'batchgate: 30 tokens', tokens: 30 },
  { name: 'batchgate: 12 tokens, log-normal latency (median 40 ms)', tokens: 12, latency: demoLatency(40) },
  // The demo profile's own latency (apps/upstream-sim DEMO_SETTINGS: median 40 ms) on 30 tokens.
  { name: 'batchgate: 30 tokens, log-normal latency (median 40 ms)', tokens: 30, latency: demoLatency(40) },
  { name: 'batchgate: 30 tokens, log-normal latency (median 50 ms)', tokens: 30, latency: demoLatency(50) },
  // A stock waits for its token's window holding a worker: 64 workers over 30 tokens run dry.
  { name: 'batchgate: 30 tokens, log-normal latency (median 50 ms), 160 stocks in flight', tokens: 30, latency: demoLatency(50), workerConcurrency: 160 },
];

/**
 * The seed's single thread pulls one stock at a time: its stocks/s is what one call costs end to
 * end. Measured 2026-11-23 on this machine at 50 ms: 16.7 stocks/s, i.e. 10 ms per stock on top of
 * the provider's latency. Used for the speed-up column when BENCH_ONLY leaves that scenario out.
 */
const STATED_SINGLE_THREAD = { perSecond: 1_000 / (LATENCY_MS + 10), source: `stated: 1000 / (${LATENCY_MS} + 10 ms) per stock` };

/** CPU seconds a process has used so far (Linux /proc; utime + stime in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
const pidOf = (name: string): number => Number(execFileSync('pgrep', ['-o', '-x', name], { encoding: 'utf8' }).trim() || 0);

interface SimStats {
  routes: Record<string, { requests: number; rateLimited: number }>;
  market: { tokens: Array<{ token: string; usage: { rateLimited: number } }> };
}

async function run(
  scenario: Scenario,
): Promise<{ cpu: string; seconds: number; submittedSeconds: number; perSecond: number; requests: number; rateLimited: number }> {
  const queue = `bench${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = { SYNC_WORK_QUEUE: queue, LOG_LEVEL: 'warn' };
  if (scenario.workerConcurrency) env['SYNC_WORKER_CONCURRENCY'] = String(scenario.workerConcurrency);
  const stack = await startKlineStack(env);
  try {
    const secrets = await provideTokens(stack, { count: scenario.tokens, ratePerSecond: RATE, latencyMs: LATENCY_MS, tenant: 'bench' });
    if (scenario.latency) await stack.sim('/__sim/config', { routes: { 'market.kline': { latency: scenario.latency } } });
    const stocks = Array.from({ length: STOCKS }, (_, i) => ({ code: String(600000 + i), market: 'SH', name: '' }));
    await lastValueFrom(stack.klineSync.importStocks({ tenant: 'bench', stocks }));
    const processes = {
      'kline-sync': stack.processes.klineSync[0]?.pid ?? 0,
      'token-manager': stack.processes.tokenManagers[0]?.pid ?? 0,
      'upstream-sim': stack.processes.sim.pid,
      mariadb: pidOf('mariadbd'),
      nats: pidOf('nats-server'),
    };
    const cpuBefore = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
    const started = await lastValueFrom(
      stack.klineSync.startSyncJob({ market: 'SH', startDate: '2026-03-02', endDate: '2026-03-06', kType: 8, userId: 'bench', tenant: 'bench' }),
    );
    const job = await waitFor(
      async () => {
        const current = await lastValueFrom(stack.klineSync.getSyncJob({ id: started.id, userId: 'bench', tenant: 'bench' }));
        return current.finishedAt ? current : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 250 },
    );
    if (job.progress?.succeeded !== STOCKS) throw new Error(`${scenario.name}: ${job.progress?.failed} stocks failed`);
    const cpu = Object.entries(processes).map(([name, pid]) => `${name} ${(cpuSeconds(pid) - (cpuBefore[name] ?? 0)).toFixed(1)}`);
    const stats = (await stack.sim('/__sim/stats')) as SimStats;
    const seconds = job.elapsedMs / 1_000;
    // Which tokens were refused, to tell one token's slip from a stall of every token.
    const refusedTokens = stats.market.tokens
      .filter((t) => t.usage.rateLimited > 0)
      .map((t) => `token ${secrets.indexOf(t.token)}: ${t.usage.rateLimited}`);
    if (refusedTokens.length > 0) process.stderr.write(`${scenario.name}: 429s by token: ${refusedTokens.join(', ')}\n`);
    return {
      cpu: cpu.join(', '),
      seconds,
      // From the answer to the last stock: the job's planning (tokens read, stocks queued) too.
      submittedSeconds: (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1_000,
      perSecond: STOCKS / seconds,
      requests: stats.routes['market.kline']?.requests ?? 0,
      rateLimited: stats.routes['market.kline']?.rateLimited ?? 0,
    };
  } finally {
    await deleteSyncWorkConsumer(stack.nats, queue);
    await stack.stop();
  }
}

async function main(): Promise<void> {
  console.log(`${STOCKS} stocks, provider latency ${LATENCY_MS} ms unless the scenario says, ${RATE} calls/s per token (one call per stock)`);
  console.log(
    '| scenario | time | stocks/s | token-bound limit | of limit | submitted to finished (of limit) | speed-up vs single thread | 429s | load average (1 min) | CPU seconds during the job |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const chosen = SCENARIOS.filter((s) => s.name.includes(ONLY));
  // The speed-up is against the seed's single thread, measured in this run when it is chosen.
  let single = chosen.some((s) => s.name === SINGLE_THREAD) ? undefined : STATED_SINGLE_THREAD;
  for (const scenario of chosen) {
    const loadBefore = loadavg()[0] ?? 0;
    const result = await run(scenario);
    const load = (loadBefore + (loadavg()[0] ?? 0)) / 2;
    if (scenario.name === SINGLE_THREAD) single = { perSecond: result.perSecond, source: 'measured in this run' };
    const bound = scenario.tokens * RATE;
    const speedUp = single ? `${(result.perSecond / single.perSecond).toFixed(1)}×` : '–';
    console.log(
      `| ${scenario.name} | ${result.seconds.toFixed(1)} s | ${result.perSecond.toFixed(1)} | ${bound} | ${(result.perSecond / bound).toFixed(2)} | ${result.submittedSeconds.toFixed(1)} s (${(STOCKS / result.submittedSeconds / bound).toFixed(2)}) | ${speedUp} | ${result.rateLimited} of ${result.requests} (${((100 * result.rateLimited) / Math.max(1, result.requests)).toFixed(1)} %) | ${load.toFixed(1)} | ${result.cpu} |`,
    );
  }
  if (single) console.log(`single-thread baseline: ${single.perSecond.toFixed(1)} stocks/s (${single.source})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
