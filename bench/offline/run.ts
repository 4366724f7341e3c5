/**
 * Seed 000's test_performance.py against the real stack (upstream-sim and offline as processes):
 * the same workload de-listed at max_threads 1..8 and with "auto", against a simulated marketplace
 * whose de-list tool has a capacity knee (above `knee` calls in flight each call waits
 * BENCH_SLOPE_MS more per call over it). Prints time and products/s per setting, the recommended
 * setting (the seed's output), and auto's throughput as a fraction of the best fixed setting —
 * auto is told nothing about the knee. One fresh stack per knee (auto starts from scratch).
 *   npm run bench:offline     (BENCH_PRODUCTS per run, BENCH_KNEES="4,16", BENCH_LATENCY_MS, BENCH_SLOPE_MS,
 *                              BENCH_SETTINGS="1,2,3,4,5,6,7,8,auto,auto again" to run only some)
 */
import { loadavg } from 'node:os';
import { lastValueFrom } from 'rxjs';
import { owner, startOfflineStack } from '../../apps/offline/test/offline.harness';

const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 300);
const KNEES = (process.env['BENCH_KNEES'] ?? '4,16').split(',').map(Number);
const LATENCY_MS = Number(process.env['BENCH_LATENCY_MS'] ?? 40);
const SLOPE_MS = Number(process.env['BENCH_SLOPE_MS'] ?? 25);
const POLL_LATENCY_MS = 5;
/** "auto" twice: its first batch starts from scratch, the second from what the first learnt. */
const SETTINGS: Array<number | 'auto' | 'auto again'> = (process.env['BENCH_SETTINGS'] ?? '1,2,3,4,5,6,7,8,auto,auto again')
  .split(',')
  .map((setting) => (setting === 'auto' || setting === 'auto again' ? setting : Number(setting)));

interface Row {
  setting: (typeof SETTINGS)[number];
  seconds: number;
  perSecond: number;
  threads: number;
}

let nextProduct = 1;

async function runKnee(knee: number): Promise<Row[]> {
  // No wait between polls, and one poll per de-list: a product's time is its two calls, so
  // products at once ≈ calls in flight at the marketplace (mostly on the slow tool route).
  const stack = await startOfflineStack({ OFFLINE_POLL_INTERVAL_MS: '0', OFFLINE_ASYNC_THRESHOLD: '1000', LOG_LEVEL: 'warn' });
  try {
    await stack.sim('/__sim/config', {
      marketplace: { defaultPolls: 1 },
      routes: {
        'marketplace.invoke': { latency: { kind: 'fixed', ms: LATENCY_MS }, knee: { capacity: knee, slopeMs: SLOPE_MS } },
        'marketplace.poll': { latency: { kind: 'fixed', ms: POLL_LATENCY_MS } },
      },
    });
    const rows: Row[] = [];
    for (const setting of SETTINGS) {
      const tenant = `bench-${knee}-${setting}`;
      // Warm-up: the tenant's session is fetched and cached, as in the seed's second run.
      await lastValueFrom(stack.offline.offlineProducts({ productIds: [nextProduct++], maxThreads: 1, runAsync: false, autoThreads: false, ...owner(tenant) }));
      const productIds = Array.from({ length: PRODUCTS }, () => nextProduct++);
      const startedAt = performance.now();
      const batch = await lastValueFrom(
        stack.offline.offlineProducts({
          productIds,
          maxThreads: typeof setting === 'number' ? setting : 0,
          autoThreads: typeof setting !== 'number',
          runAsync: false,
          ...owner(tenant),
        }),
      );
      const seconds = (performance.now() - startedAt) / 1000;
      if (batch.summary?.success !== PRODUCTS) throw new Error(`knee ${knee}, max_threads ${setting}: ${JSON.stringify(batch.summary)} (${batch.status})`);
      rows.push({ setting, seconds, perSecond: PRODUCTS / seconds, threads: batch.threadInfo?.actualThreads ?? 0 });
      console.log(`  knee ${knee}: max_threads ${String(setting).padEnd(10)} ${seconds.toFixed(2).padStart(6)} s  ${(PRODUCTS / seconds).toFixed(1).padStart(6)} products/s  (threadInfo.actualThreads ${batch.threadInfo?.actualThreads})`);
    }
    return rows;
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:offline — ${PRODUCTS} products per run; de-list tool ${LATENCY_MS} ms + ${SLOPE_MS} ms per call in flight over the knee, poll ${POLL_LATENCY_MS} ms; load average ${loadavg()[0]?.toFixed(2)}`,
  );
  const summary: string[] = [];
  for (const knee of KNEES) {
    const rows = await runKnee(knee);
    const fixed = rows.filter((row) => typeof row.setting === 'number');
    const autos = rows.filter((row) => typeof row.setting !== 'number');
    if (fixed.length === 0) {
      // BENCH_SETTINGS without a fixed one (e.g. "auto,auto again" while tuning): nothing to compare with.
      summary.push(`| ${knee} | ${rows.map((row) => `${row.perSecond.toFixed(1)} (limit ${row.threads})`).join(' | ')} | | |`);
      continue;
    }
    const best = fixed.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const share = (row: Row) => `${((row.perSecond / best.perSecond) * 100).toFixed(0)} % (limit ${row.threads})`;
    console.log(
      `  knee ${knee}: recommended max_threads ${best.setting} (${best.perSecond.toFixed(1)} products/s); auto ${autos.map((row) => `${row.perSecond.toFixed(1)} products/s = ${share(row)}`).join(', then ')}`,
    );
    summary.push(`| ${knee} | ${rows.map((row) => row.perSecond.toFixed(1)).join(' | ')} | ${best.setting} | ${autos.map(share).join(' / ')} |`);
  }
  console.log(`\n| knee | ${SETTINGS.map((s) => `${s}`).join(' | ')} | recommended | auto / best (first / again) |`);
  console.log(`|---|${SETTINGS.map(() => '---:').join('|')}|---:|---:|`);
  for (const line of summary) console.log(line);
  console.log(`load average at the end ${loadavg()[0]?.toFixed(2)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
