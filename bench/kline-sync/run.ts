/**
 * Seed 004's performance comparison, against the real stack (upstream-sim, token-manager and
 * kline-sync as processes): 1000 stocks pulled with a fixed provider latency and a per-token rate
 * limit. The seed's "threads" each pull one stock at a time, reproduced here with the worker
 * concurrency set to the thread count; "batchgate" is the default engine (shared token pool,
 * calls booked under each token's rate at token-manager).
 *   npm run bench:kline            (BENCH_STOCKS, BENCH_LATENCY_MS, BENCH_RATE to change;
 *                                   BENCH_ONLY=batchgate runs the scenarios whose name contains it)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lastValueFrom } from 'rxjs';
import { waitFor } from '@batchgate/testing';
import { provideTokens, startKlineStack } from '../../apps/kline-sync/test/stack.harness';

const STOCKS = Number(process.env['BENCH_STOCKS'] ?? 1_000);
const LATENCY_MS = Number(process.env['BENCH_LATENCY_MS'] ?? 50);
const RATE = Number(process.env['BENCH_RATE'] ?? 5);
const ONLY = process.env['BENCH_ONLY'] ?? '';

interface Scenario {
  name: string;
  tokens: number;
  /** Stocks in flight at once; undefined = the engine's default. */
  workerConcurrency?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'seed: single thread, 12 tokens', tokens: 12, workerConcurrency: 1 },
  { name: 'seed: 2 threads, 12 tokens', tokens: 12, workerConcurrency: 2 },
  { name: 'seed: 5 threads, 30 tokens', tokens: 30, workerConcurrency: 5 },
  { name: 'batchgate: 12 tokens', tokens: 12 },
  { name: 'batchgate: 30 tokens', tokens: 30 },
];

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

async function run(scenario: Scenario): Promise<{ cpu: string; seconds: number; perSecond: number; requests: number; rateLimited: number }> {
  const queue = `bench${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = { SYNC_WORK_QUEUE: queue, LOG_LEVEL: 'warn' };
  if (scenario.workerConcurrency) env['SYNC_WORKER_CONCURRENCY'] = String(scenario.workerConcurrency);
  const stack = await startKlineStack(env);
  try {
    const secrets = await provideTokens(stack, { count: scenario.tokens, ratePerSecond: RATE, latencyMs: LATENCY_MS, tenant: 'bench' });
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
      perSecond: STOCKS / seconds,
      requests: stats.routes['market.kline']?.requests ?? 0,
      rateLimited: stats.routes['market.kline']?.rateLimited ?? 0,
    };
  } finally {
    await (await stack.nats.jetstreamManager()).consumers.delete('KLINE_SYNC_WORK', `kline-sync-workers-${queue}`).catch(() => undefined);
    await stack.stop();
  }
}

async function main(): Promise<void> {
  console.log(`${STOCKS} stocks, provider latency ${LATENCY_MS} ms, ${RATE} calls/s per token (one call per stock)`);
  console.log('| scenario | time | stocks/s | token-bound limit | of limit | speed-up vs single thread | 429s | CPU seconds during the job |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  let single: number | undefined;
  for (const scenario of SCENARIOS.filter((s) => s.name.includes(ONLY))) {
    const result = await run(scenario);
    single ??= result.perSecond;
    const bound = scenario.tokens * RATE;
    console.log(
      `| ${scenario.name} | ${result.seconds.toFixed(1)} s | ${result.perSecond.toFixed(1)} | ${bound} | ${(result.perSecond / bound).toFixed(2)} | ${(result.perSecond / single).toFixed(1)}× | ${result.rateLimited} of ${result.requests} (${((100 * result.rateLimited) / Math.max(1, result.requests)).toFixed(1)} %) | ${result.cpu} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
