/**
 * The gateway's request path against a bare NestJS + Fastify → grpc-js hop, in one run on one
 * machine: the product's routes through the real stack (gateway, token-manager, kline-sync,
 * upstream-sim as processes, fresh databases, the per-user limit raised out of the way) against
 * the anchor (bench/gateway/anchor-*.ts): /healthz and the reads in windows alternating with the
 * anchor's, the other closed-loop routes each right after a run of the anchor, and the anchor
 * once more at the end. Closed loop at fixed connection counts, submissions also
 * open loop at fixed rates; req/s, p50/p99 and the CPU seconds each process used while measured.
 *   npm run bench:gateway   (BENCH_CONNECTIONS=50, BENCH_DURATION_S=10, BENCH_WARMUP_S=3, BENCH_ROUNDS=5,
 *                            BENCH_RATES=50,200, BENCH_OVERLOAD_CONNECTIONS=1000, BENCH_ONLY=<parts of scenario names, comma-separated>;
 *                            SPAWN_NODE_ARGS="--cpu-prof --cpu-prof-dir=tmp/prof" profiles the processes)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { freePort, spawnService, waitFor } from '@batchgate/testing';
import { startStack, type Stack } from '../../apps/e2e/src/stack';
import { closedLoop, closedLoopWindow, openLoop, pooled, type ClosedLoopWindow, type HttpRequestSpec, type LoadResult } from './load';

const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
const WARMUP_S = Number(process.env['BENCH_WARMUP_S'] ?? 3);
/** The reads and /healthz alternate with the anchor in this many rounds of two windows (DURATION_S / ROUNDS s each). */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const RATES = (process.env['BENCH_RATES'] ?? '50,200').split(',').map(Number);
/** The read by id once more, at a connection count far beyond the gateway's in-flight limit (0: not run). */
const OVERLOAD_CONNECTIONS = Number(process.env['BENCH_OVERLOAD_CONNECTIONS'] ?? 1_000);
/** Only the product scenarios whose "<route>, <load>" contains one of these comma-separated parts run. */
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',');
/** The tokens a paged list has to page through, and the page asked for. */
const TOKENS = 25;
const LIST_PATH = '/api/tokens?page=1&size=20';
/** The page sizes (from TOKENS up to the largest, 100) the paged list over page sizes rotates over. */
const PAGE_SIZES = 76;
/** The jobs (one user's) the read by id over many jobs rotates over. */
const READ_JOBS = 50;

/** CPU seconds a process has used so far (Linux /proc; utime + stime in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  if (pid === process.pid) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
const pidOf = (name: string): number => {
  try {
    return Number(execFileSync('pgrep', ['-o', '-x', name], { encoding: 'utf8' }).trim() || 0);
  } catch {
    return 0;
  }
};

type Processes = Record<string, number>;
/** Processes other work on the machine uses too: their CPU is not per answer of this run. */
const SHARED = new Set(['mariadb', 'nats']);
type Load = { kind: 'closed'; connections: number } | { kind: 'open'; rate: number };

interface Row {
  scenario: string;
  load: Load;
  result: LoadResult;
  cpu: Record<string, number>;
  /** A run of the anchor: each product route's req/s is a fraction of the anchor's in the same rounds, or else of the mean of its runs just before and after it. */
  anchor?: boolean;
  /** The anchor's req/s in the rounds this route alternated with it. */
  anchorPerSecond?: number;
  /** What the processes reported about the measured window (where the route's time went). */
  breakdown?: string;
}

/** Reads what a process reports about a measured window: `start` just before it, `end` just after. */
interface WindowProbe {
  start: () => Promise<void>;
  end: () => Promise<string>;
}

const describeLoad = (load: Load) => (load.kind === 'closed' ? `${load.connections} connections` : `open loop ${load.rate}/s`);

async function drive(origin: string, spec: HttpRequestSpec, load: Load, durationS: number): Promise<LoadResult> {
  return load.kind === 'closed' ? closedLoop(origin, spec, load.connections, durationS) : openLoop(origin, spec, load.rate, durationS);
}

/** What `work` gave, and the CPU seconds each process used while it ran. */
async function cpuWhile<T>(processes: Processes, work: () => Promise<T>): Promise<{ value: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const value = await work();
  return { value, cpu: Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid) - (before[name] ?? 0)])) };
}

/** The progress line of a measured row (`how` says how it was measured, when not in one window). */
function reportRow({ scenario, load, result }: Row, how = ''): void {
  process.stderr.write(`${scenario}, ${describeLoad(load)}${how}: ${result.perSecond.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms ${JSON.stringify(result.statuses)}\n`);
}

/** Warm-up (not counted), then the measured window with the CPU each process used during it. */
async function measure(scenario: string, origin: string, spec: HttpRequestSpec, load: Load, processes: Processes, probe?: WindowProbe): Promise<Row> {
  if (WARMUP_S > 0) await drive(origin, spec, load, WARMUP_S);
  await probe?.start();
  const { value: result, cpu } = await cpuWhile(processes, () => drive(origin, spec, load, DURATION_S));
  const row = { scenario, load, result, cpu, breakdown: await probe?.end() };
  reportRow(row);
  return row;
}

/**
 * A closed-loop route and the anchor in alternating windows, ROUNDS of each, in the order anchor,
 * route, route, anchor, anchor, … so that a machine that speeds up or slows down during the
 * rounds weighs on both alike. On this VM the anchor's req/s over consecutive 1 s windows moves
 * between 3,300 and 7,900 with nothing else running, and drifts by a quarter within 20 s
 * (README, section 45): one window of each, minutes apart, compares two different machines.
 */
async function measureAlternating(scenario: string, origin: string, spec: HttpRequestSpec, anchor: Anchor, processes: Processes, probe?: WindowProbe): Promise<Row[]> {
  const sides = [
    { spec: anchor.spec, origin: anchor.origin, processes: anchor.processes, windows: [] as ClosedLoopWindow[], cpu: {} as Record<string, number> },
    { spec, origin, processes, windows: [] as ClosedLoopWindow[], cpu: {} as Record<string, number> },
  ] as const;
  const load: Load = { kind: 'closed', connections: CONNECTIONS };
  if (WARMUP_S > 0) for (const side of sides) await drive(side.origin, side.spec, load, WARMUP_S);
  await probe?.start();
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const { value, cpu } = await cpuWhile(side.processes, () => closedLoopWindow(side.origin, side.spec, CONNECTIONS, DURATION_S / ROUNDS));
      side.windows.push(value);
      for (const [name, seconds] of Object.entries(cpu)) side.cpu[name] = (side.cpu[name] ?? 0) + seconds;
    }
  }
  const breakdown = await probe?.end();
  const [anchorSide, routeSide] = sides;
  const anchorRow: Row = { scenario: ANCHOR_SCENARIO, load, result: pooled(anchorSide.origin, anchorSide.windows, DURATION_S), cpu: anchorSide.cpu, anchor: true };
  const routeRow: Row = { scenario, load, result: pooled(routeSide.origin, routeSide.windows, DURATION_S), cpu: routeSide.cpu, breakdown, anchorPerSecond: anchorRow.result.perSecond };
  for (const row of [anchorRow, routeRow]) reportRow(row, `, ${ROUNDS} windows`);
  return [anchorRow, routeRow];
}

/** One histogram's cumulative bucket counts (`le` → count) in a Prometheus text exposition, summed over the series that carry `labels` (every status code). */
function bucketsOf(metrics: string, name: string, labels: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`) || !line.includes(labels)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

/** A quantile of the observations between two readings of a histogram, interpolated in its bucket as Prometheus' histogram_quantile does. */
function quantileOf(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  const index = counts.findIndex((count) => count >= rank);
  const upper = bounds[index] ?? Infinity;
  const lower = index > 0 ? (bounds[index - 1] ?? 0) : 0;
  if (upper === Infinity) return lower;
  const below = index > 0 ? (counts[index - 1] ?? 0) : 0;
  return lower + ((upper - lower) * (rank - below)) / Math.max(1, (counts[index] ?? 0) - below);
}

/** A process whose /metrics a probe reads, and the gRPC method of the route it serves. */
interface ProbedProcess {
  name: string;
  metricsUrl: string;
  /** The histogram of the method's calls this process times (as client or as server). */
  histogram: 'grpc_client_handling_seconds' | 'grpc_server_handling_seconds';
}

/**
 * Where a route's time goes in the measured window: for each process, its side of the route's
 * gRPC method (the gateway's client histogram: the call as the gateway waited for it; the
 * service's server histogram: its handler), and how late its event loop ran (prom-client's
 * event-loop delay, reset by each scrape). What the client's time adds to the handler's is the
 * two event loops' queues and the wire.
 */
function latencyProbe(method: string, processes: ProbedProcess[]): WindowProbe {
  const scrape = async (url: string) => (await fetch(url)).text();
  const methodLabel = `method="${method}"`;
  let before: Array<Map<number, number>> = [];
  return {
    start: async () => {
      before = await Promise.all(processes.map(async (p) => bucketsOf(await scrape(p.metricsUrl), p.histogram, methodLabel)));
    },
    end: async () => {
      const ms = (seconds: number) => (1000 * seconds).toFixed(0);
      const parts = await Promise.all(
        processes.map(async (p, i) => {
          const metrics = await scrape(p.metricsUrl);
          const after = bucketsOf(metrics, p.histogram, methodLabel);
          const gauge = (name: string) => ms(Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN));
          const side = p.histogram === 'grpc_client_handling_seconds' ? 'call' : 'handler';
          const times = before[i] ?? new Map<number, number>();
          return (
            `${p.name}'s ${side} p50 ${ms(quantileOf(times, after, 0.5))} / p99 ${ms(quantileOf(times, after, 0.99))} ms, ` +
            `event-loop delay p99 ${gauge('nodejs_eventloop_lag_p99_seconds')} / max ${gauge('nodejs_eventloop_lag_max_seconds')} ms`
          );
        }),
      );
      return `${method.slice(method.lastIndexOf('/') + 1)}: ${parts.join('; ')}`;
    },
  };
}

/** Waits until the background work a scenario left (jobs being pulled) no longer uses the CPU. */
async function quiesce(pids: number[]): Promise<void> {
  const busy = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  let last = busy();
  await waitFor(
    async () => {
      const now = busy();
      const idle = now - last < 0.05; // < 5 % of one core over the last second
      last = now;
      return idle || undefined;
    },
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
}

const ANCHOR_SCENARIO = 'bare hop: Nest + Fastify → grpc-js (anchor)';

/** The anchor's two processes, idle until a measurement drives them. */
interface Anchor {
  origin: string;
  spec: HttpRequestSpec;
  processes: Processes;
  /** One run of its own (warm-up, then DURATION_S), for the routes that do not alternate with it. */
  measure: () => Promise<Row>;
  stop: () => Promise<void>;
}

async function startAnchor(): Promise<Anchor> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const service = await spawnService({ entry: 'bench/gateway/anchor-service.ts', env: { ANCHOR_GRPC_PORT: String(grpcPort) } });
  await waitFor(() => service.output().includes('anchor-service listening') || undefined, { timeoutMs: 30_000 });
  const gateway = await spawnService({
    entry: 'bench/gateway/anchor-gateway.ts',
    env: { ANCHOR_HTTP_PORT: String(httpPort), ANCHOR_GRPC_URL: `127.0.0.1:${grpcPort}` },
    readyUrl: `http://127.0.0.1:${httpPort}/readyz`,
  });
  const processes = { 'anchor-gateway': gateway.pid, 'anchor-service': service.pid, bench: process.pid };
  const spec = { path: `/items/${randomBytes(8).toString('hex')}` };
  const origin = `http://127.0.0.1:${httpPort}`;
  return {
    origin,
    spec,
    processes,
    measure: async () => ({ ...(await measure(ANCHOR_SCENARIO, origin, spec, { kind: 'closed', connections: CONNECTIONS }, processes)), anchor: true }),
    stop: async () => {
      await gateway.stop();
      await service.stop();
    },
  };
}

async function seedProduct(stack: Stack, headers: Record<string, string>): Promise<{ jobId: string; jobIds: string[]; submission: HttpRequestSpec }> {
  const call = async (path: string, body: unknown, expected: number) => {
    const response = await fetch(`${stack.gatewayUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (response.status !== expected) throw new Error(`POST ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.json() as Promise<Record<string, unknown>>;
  };
  // Provider tokens the simulator knows, fast enough that the jobs the submissions start finish
  // soon after (they run while later submissions arrive, as they would in production).
  const secrets = Array.from({ length: TOKENS }, (_, i) => `bench-${randomBytes(4).toString('hex')}-${i}`);
  const sim = await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      routes: { 'market.kline': { latency: { kind: 'fixed', ms: 5 } } },
      market: { tokens: secrets.map((token) => ({ token, ratePerSecond: 1_000 })) },
    }),
  });
  if (!sim.ok) throw new Error(`sim config: HTTP ${sim.status} ${await sim.text()}`);
  for (const [i, secret] of secrets.entries()) await call('/api/tokens', { provider: 'itick', name: `bench ${i}`, secret, rateLimitPerSecond: 1_000 }, 201);
  await call('/api/stock/import', { stocks: [{ code: '600000', market: 'SH' }, { code: '600036', market: 'SH' }] }, 201);
  const body = JSON.stringify({ market: 'SH', startDate: '2026-03-02', endDate: '2026-03-06' });
  const job = await call('/api/stock/sync/batch', JSON.parse(body), 202);
  // Distinct jobs of the same user for the read by id over many jobs: a different day each.
  const jobIds: string[] = [];
  for (let i = 0; i < READ_JOBS; i++) {
    const day = new Date(Date.UTC(2026, 0, 5) + i * 86_400_000).toISOString().slice(0, 10);
    jobIds.push(String((await call('/api/stock/sync/batch', { market: 'SH', startDate: day, endDate: day }, 202))['id']));
  }
  return { jobId: String(job['id']), jobIds, submission: { path: '/api/stock/sync/batch', method: 'POST', headers, body } };
}

/**
 * The product's scenarios against the anchor: on a shared machine the anchor's req/s moves by a
 * quarter within minutes, so each route is a fraction of the anchor measured in alternation with
 * it or just around it (see print), not of one figure for the whole run.
 */
async function runProduct(anchor: Anchor): Promise<{ rows: Row[]; stop: () => Promise<unknown> }> {
  // The per-user limit out of the way: the most requests in the shortest window. @nestjs/throttler
  // keeps every hit of the window and filters them on each request, so a long window with a high
  // limit would cost the gateway more than the routes measured (15 % of its CPU at 60 s).
  const stack = await startStack({ services: ['kline-sync'], env: { gateway: { USER_RATE_LIMIT: '1000000', USER_RATE_WINDOW_MS: '1000' } } });
  try {
    return { rows: await runScenarios(stack, anchor), stop: () => stack.stop() };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** The scenarios of runProduct on its stack, in order. */
async function runScenarios(stack: Stack, anchor: Anchor): Promise<Row[]> {
  const jwt = await stack.mintToken({ perms: ['tokens:admin', 'stock:sync:run', 'stock:sync:list'], expiresIn: '2h' });
  const headers = { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' };
  const { jobId, jobIds, submission } = await seedProduct(stack, headers);
  const pid = (name: string) => stack.services.process(name).pid;
  const processes: Processes = {
    gateway: pid('gateway'),
    'token-manager': pid('token-manager'),
    'kline-sync': pid('kline-sync'),
    'upstream-sim': pid('upstream-sim'),
    mariadb: pidOf('mariadbd'),
    nats: pidOf('nats-server'),
    bench: process.pid,
  };
  const closed: Load = { kind: 'closed', connections: CONNECTIONS };
  const rows: Row[] = [];
  const probe = (method: string, service: string) =>
    latencyProbe(method, [
      { name: 'gateway', metricsUrl: `${stack.gatewayUrl}/metrics`, histogram: 'grpc_client_handling_seconds' },
      { name: service, metricsUrl: `${stack.services.url(service, 'ops')}/metrics`, histogram: 'grpc_server_handling_seconds' },
    ]);
  // Each probe starts afresh in each window it measures (start reads the histograms anew).
  const reads = probe('/klinesync.v1.KlineSyncService/GetSyncJob', 'kline-sync');
  const pages = probe('/tokens.v1.TokenManagerService/ListTokens', 'token-manager');
  const submissions = probe('/klinesync.v1.KlineSyncService/StartSyncJob', 'kline-sync');
  const scenario = async (name: string, spec: HttpRequestSpec, load: Load, probe?: WindowProbe) => {
    if (!ONLY.some((part) => `${name}, ${describeLoad(load)}`.includes(part))) return;
    if (load.kind === 'closed') rows.push(await anchor.measure());
    rows.push(await measure(name, stack.gatewayUrl, spec, load, processes, probe));
  };
  // The reads leave no work behind, so the anchor's windows between theirs run on an idle stack.
  const alternating = async (name: string, spec: HttpRequestSpec, probe?: WindowProbe) => {
    if (!ONLY.some((part) => `${name}, ${describeLoad(closed)}`.includes(part))) return;
    rows.push(...(await measureAlternating(name, stack.gatewayUrl, spec, anchor, processes, probe)));
  };
  // The seeded jobs run first: the reads are measured with nothing else working.
  await quiesce([processes['kline-sync'] ?? 0, processes['token-manager'] ?? 0]);
  await alternating('GET /healthz (gateway only, no hop)', { path: '/healthz' });
  await alternating('read by id: GET /api/stock/sync/jobs/{id}', { path: `/api/stock/sync/jobs/${jobId}`, headers }, reads);
  const manyJobs = jobIds.map((id) => `/api/stock/sync/jobs/${id}`);
  await alternating(`read by id over ${READ_JOBS} jobs: GET /api/stock/sync/jobs/{id}`, { path: manyJobs[0] ?? '', paths: manyJobs, headers }, reads);
  await alternating(`paged list: GET ${LIST_PATH}`, { path: LIST_PATH, headers }, pages);
  // Pages that differ (their size; each holds all 25 tokens), more of them than connections: the
  // reads in flight are consecutive sizes, so no two are the same statement.
  const pageSizes = Array.from({ length: PAGE_SIZES }, (_, i) => `/api/tokens?page=1&size=${TOKENS + i}`);
  await alternating(`paged list over ${PAGE_SIZES} page sizes: GET /api/tokens?page=1&size={${TOKENS}..${TOKENS + PAGE_SIZES - 1}}`, { path: pageSizes[0] ?? '', paths: pageSizes, headers }, pages);
  // Far beyond what the process can work on at once: the excess is shed (503), not queued. One
  // window, not alternating: each new window would open its 1,000 connections at once again.
  if (OVERLOAD_CONNECTIONS > 0) await scenario('read by id: GET /api/stock/sync/jobs/{id}', { path: `/api/stock/sync/jobs/${jobId}`, headers }, { kind: 'closed', connections: OVERLOAD_CONNECTIONS });
  for (const rate of RATES) {
    await quiesce([processes['kline-sync'] ?? 0, processes['token-manager'] ?? 0]);
    await scenario('submission: POST /api/stock/sync/batch (2 stocks)', submission, { kind: 'open', rate }, submissions);
  }
  // Last: at full speed it leaves thousands of jobs behind, nothing is measured after it.
  await quiesce([processes['kline-sync'] ?? 0, processes['token-manager'] ?? 0]);
  await scenario('submission: POST /api/stock/sync/batch (2 stocks)', submission, closed, submissions);
  return rows;
}

function print(rows: Row[], loadAtStart: number[], loadAtEnd: number[]): void {
  // A route's anchor: the mean of the anchor's runs just before and just after it.
  const anchorAround = (index: number): number => {
    const before = rows.slice(0, index).reverse().find((r) => r.anchor);
    const after = rows.slice(index + 1).find((r) => r.anchor);
    const around = [before, after].filter((r): r is Row => r !== undefined);
    return around.reduce((sum, r) => sum + r.result.perSecond, 0) / Math.max(1, around.length);
  };
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  console.log(`\n${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; load average (1/5/15 min) ${load(loadAtStart)} at the start, ${load(loadAtEnd)} at the end`);
  console.log(
    `${DURATION_S} s measured after ${WARMUP_S} s of warm-up. /healthz and the reads alternate with the anchor in ${ROUNDS} rounds of ${DURATION_S / ROUNDS} s windows ` +
      `(each such route's anchor row is its own, and of anchor = req/s ÷ the anchor's in those rounds); the other closed-loop routes: ÷ the mean req/s of the anchor's runs just before and after them`,
  );
  console.log('| route | load | req/s | p50 / p99 | of anchor | answers | CPU seconds while measured (ms per answer) |');
  console.log('|---|---|---:|---|---:|---|---|');
  for (const [index, row] of rows.entries()) {
    const { result } = row;
    const share = row.anchor || row.load.kind === 'open' ? '—' : (result.perSecond / (row.anchorPerSecond ?? anchorAround(index))).toFixed(2);
    const statuses = Object.entries(result.statuses).map(([status, n]) => `${status}: ${n}`).join(', ');
    // Per answer too: on a shared machine the CPU a request costs moves less than req/s does.
    const perAnswer = (seconds: number) => ((1000 * seconds) / Math.max(1, result.answered)).toFixed(2);
    const cpu = Object.entries(row.cpu)
      .map(([name, seconds]) => (SHARED.has(name) ? `${name} ${seconds.toFixed(1)}` : `${name} ${seconds.toFixed(1)} (${perAnswer(seconds)})`))
      .join(', ');
    console.log(`| ${row.scenario} | ${describeLoad(row.load)} | ${result.perSecond.toFixed(0)} | ${result.p50Ms.toFixed(0)} / ${result.p99Ms.toFixed(0)} ms | ${share} | ${statuses} | ${cpu} |`);
  }
  console.log('mariadb and nats are shared with whatever else runs on the machine: their CPU is not only this run\'s.');
  for (const row of rows) if (row.breakdown) console.log(`- ${row.scenario}, ${describeLoad(row.load)}: ${row.breakdown}`);
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  // The anchor runs alternating with the reads, before each other closed-loop route (runProduct)
  // and once more at the end: its rows' differences show how much the machine moved during the run.
  const anchor = await startAnchor();
  // The processes are stopped on a failure too: a bench that dies midway would otherwise leave
  // them running and loading the machine for every later measurement.
  try {
    const product = await runProduct(anchor);
    const rows = [...product.rows];
    await product.stop();
    rows.push(await anchor.measure());
    print(rows, loadAtStart, loadavg());
  } finally {
    await anchor.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
