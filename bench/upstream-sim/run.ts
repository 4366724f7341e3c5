/**
 * Throughput of upstream-sim on one core: the simulator runs as its own process pinned to CPU 0
 * (`taskset -c 0` when available, else as one unpinned process) and autocannon loads it from this
 * process. Prints req/s and latency p50/p99 per route as a Markdown table.
 *
 *   node -r @swc-node/register bench/upstream-sim/run.ts   (or npm run bench:sim)
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=50 to change the defaults.
 */
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { freePort, REPO_ROOT, waitForHttpOk } from '@batchgate/testing';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);

interface BenchRoute {
  name: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

const ROUTES: BenchRoute[] = [
  { name: 'GET /healthz (trivial)', path: '/healthz' },
  {
    name: 'GET /stock/kline, 1 bar',
    path: '/stock/kline?region=SH&code=600000&kType=8&limit=1',
    headers: { token: 'bench' },
  },
  {
    name: 'GET /stock/kline, 30 bars',
    path: '/stock/kline?region=SH&code=600000&kType=8&limit=30',
    headers: { token: 'bench' },
  },
  {
    name: 'POST /v1/chat/completions',
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'bench',
      messages: [{ role: 'user', content: 'Write a persona for a value investor' }],
    }),
  },
];

async function main(): Promise<void> {
  const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const command = [process.execPath, '-r', '@swc-node/register', 'apps/upstream-sim/src/main.ts'];
  const sim = spawn(
    pinned ? 'taskset' : (command[0] ?? 'node'),
    pinned ? ['-c', '0', ...command] : command.slice(1),
    {
      cwd: REPO_ROOT,
      env: { ...process.env, SIM_PORT: String(port), SIM_PROFILE: 'quiet', LOG_LEVEL: 'warn' },
      stdio: 'inherit',
    },
  );
  try {
    await waitForHttpOk(`${url}/readyz`);
    // No latency, no failures, one unlimited token.
    await fetch(`${url}/__sim/reset`, { method: 'POST' });
    await fetch(`${url}/__sim/market/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'bench' }),
    });
    console.log(
      `upstream-sim ${pinned ? 'pinned to one core (taskset -c 0)' : 'as one process (taskset unavailable: not pinned)'}; ` +
        `autocannon ${CONNECTIONS} connections, ${SECONDS} s per route, ${cpus().length} CPUs, Node ${process.version}`,
    );
    console.log('| route | req/s (mean) | latency p50 | latency p99 | errors / non-2xx |');
    console.log('|---|---:|---:|---:|---:|');
    for (const route of ROUTES) {
      const options = {
        url: `${url}${route.path}`,
        connections: CONNECTIONS,
        method: route.method ?? 'GET',
        headers: route.headers ?? {},
        body: route.body,
      };
      await autocannon({ ...options, duration: 1 }); // warm-up (JIT)
      const result = await autocannon({ ...options, duration: SECONDS });
      console.log(
        `| ${route.name} | ${Math.round(result.requests.average).toLocaleString('en')} | ${result.latency.p50} ms | ` +
          `${result.latency.p99} ms | ${result.errors + result.non2xx} |`,
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
