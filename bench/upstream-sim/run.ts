/**
 * Throughput of upstream-sim on one core: the simulator runs as its own process pinned to CPU 0
 * (taskset), autocannon loads it from this process. Prints req/s and latency per route.
 *   npm run bench:sim            (10 s per route; BENCH_SECONDS to change)
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { freePort, REPO_ROOT, waitForHttpOk } from '@batchgate/testing';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);

async function main(): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const sim = spawn('taskset', ['-c', '0', process.execPath, '-r', '@swc-node/register', 'apps/upstream-sim/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, SIM_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'inherit',
  });
  try {
    await waitForHttpOk(`${url}/readyz`);
    await fetch(`${url}/__sim/market/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'bench' }),
    });
    const routes = [
      { name: 'GET /healthz (trivial)', path: '/healthz', headers: {} },
      { name: 'GET /stock/kline (1 bar)', path: '/stock/kline?region=SH&code=600000&kType=8&limit=1', headers: { token: 'bench' } },
      { name: 'GET /stock/kline (30 bars)', path: '/stock/kline?region=SH&code=600000&kType=8&limit=30', headers: { token: 'bench' } },
    ];
    console.log(`upstream-sim on one core (taskset -c 0), autocannon 50 connections, ${SECONDS} s per route`);
    console.log('| route | req/s (mean) | latency p50 | latency p99 | errors |');
    console.log('|---|---:|---:|---:|---:|');
    for (const route of routes) {
      const result = await autocannon({ url: `${url}${route.path}`, connections: 50, duration: SECONDS, headers: route.headers });
      console.log(
        `| ${route.name} | ${Math.round(result.requests.average).toLocaleString('en')} | ${result.latency.p50} ms | ${result.latency.p99} ms | ${result.errors + result.non2xx} |`,
      );
    }
  } finally {
    sim.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
