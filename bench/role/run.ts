/**
 * role against seed 001's numbers, in one run on one machine (the real stack: gateway, role and
 * upstream-sim as processes, fresh database, the per-user limit raised out of the way):
 *
 * 1. Submit latency through the gateway (`POST /api/roles`, each request a new task) in an open
 *    loop at fixed rates while the background jobs run (the chat API answers in
 *    BENCH_CHAT_LATENCY_MS, so the tasks pile up behind the workers as they would under load).
 * 2. The seed's comparison: the same N persona tasks (four reads, the AI call, the webhook) run
 *    one after another the way the seed's request did (its "before": each request waited for its
 *    whole task, the reads one by one), against the service (N submissions, until the last
 *    persona is stored and announced) — as a ratio of wall times.
 *
 *   npm run bench:role   (BENCH_RATES=50,200, BENCH_DURATION_S=10, BENCH_WARMUP_S=3,
 *                         BENCH_CHAT_LATENCY_MS=1000, BENCH_TASKS=32, BENCH_COMPARE_LATENCY_MS=500;
 *                         BENCH_COMPARE=0 skips part 2; SPAWN_NODE_ARGS="--cpu-prof --cpu-prof-dir=tmp/prof"
 *                         profiles the processes)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createConnection } from 'mysql2/promise';
import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from '../../apps/e2e/src/stack';
import { openLoop } from '../gateway/load';

const RATES = (process.env['BENCH_RATES'] ?? '50,200').split(',').map(Number);
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
const WARMUP_S = Number(process.env['BENCH_WARMUP_S'] ?? 3);
const CHAT_LATENCY_MS = Number(process.env['BENCH_CHAT_LATENCY_MS'] ?? 1_000);
const TASKS = Number(process.env['BENCH_TASKS'] ?? 32);
const COMPARE_LATENCY_MS = Number(process.env['BENCH_COMPARE_LATENCY_MS'] ?? 500);
const COMPARE = process.env['BENCH_COMPARE'] !== '0';
const TENANT = 'bench';
const TASK_ID = 'bench-task';

interface SubmitResult {
  rate: number;
  answered: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
  /** Tasks on the work queue or running when the window ended: the jobs were running. */
  openTasksAtEnd: number;
  /** Mean time role itself took per submission in the window (role_submit_duration_seconds), the rest being the gateway and the hop. */
  serviceMeanMs: number;
  /** CPU seconds each process used in the measured window. */
  cpu: Record<string, number>;
  /** Where the time went in the window: see {@link Breakdown}. */
  breakdown: Breakdown;
  /** The machine in the window: CPU seconds of processes outside the stack and the bench client, stolen, and waited for (see {@link machineCpu}). */
  machine: { othersS: number; stealS: number; waitedS: number };
}

/** What the processes and MySQL did in the measured window, to tell where a tail comes from. */
interface Breakdown {
  /** Upper bound of role's own p99 (role_submit_duration_seconds' bucket holding it), ms. */
  serviceP99AtMostMs: number;
  /** Event-loop delay in the window (perf_hooks' monitorEventLoopDelay through prom-client), ms. */
  eventLoop: Record<'gateway' | 'role', { p99Ms: number; maxMs: number }>;
  /** Garbage collections in the window, as prom-client counts them. */
  gc: Record<'gateway' | 'role', { count: number; ms: number; major: number }>;
  /** Persona tasks ended in the window, per second (the background jobs' pace). */
  tasksPerSecond: number;
  /** MySQL server status deltas over the window (the whole server: other databases too). */
  mysql: Record<MysqlCounter, number>;
}

const MYSQL_COUNTERS = [
  'Questions',
  'Com_commit',
  'Com_rollback',
  'Innodb_deadlocks',
  'Innodb_row_lock_waits',
  'Innodb_row_lock_time',
  'Innodb_data_fsyncs',
  'Innodb_log_writes',
] as const;
type MysqlCounter = (typeof MYSQL_COUNTERS)[number];

/** CPU seconds a process has used so far (Linux /proc; utime + stime in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * The whole machine's CPU so far: seconds busy (/proc/stat's user, nice, system, irq and softirq),
 * seconds stolen by the hypervisor, and seconds during which some runnable task waited for a CPU
 * (/proc/pressure/cpu's `some` total). The machine is shared: what the stack's processes and the
 * bench client did not use of the busy time, another process did.
 */
function machineCpu(): { busy: number; steal: number; waited: number } {
  const [user, nice, system, , , irq, softirq, steal] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  let waited = 0;
  try {
    waited = Number(/some .*total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? 0) / 1e6;
  } catch {
    // No pressure stall information on this kernel.
  }
  const ticks = (...values: Array<number | undefined>) => values.reduce<number>((sum, value) => sum + (value ?? 0), 0) / 100;
  return { busy: ticks(user, nice, system, irq, softirq), steal: ticks(steal), waited };
}

/** The pid of the oldest process named `name` (the shared MySQL and NATS), or 0. */
function pidOf(name: string): number {
  try {
    return Number(execFileSync('pgrep', ['-o', '-x', name], { encoding: 'utf8' }).trim() || 0);
  } catch {
    return 0;
  }
}

let strategies = 0;

/**
 * Submissions in an open loop (bench/gateway/load.ts): each latency counts from when its request
 * was due. Each request is a new task (its own strategy_id), so none is answered by deduplication.
 */
async function submitOpenLoop(origin: string, authorization: string, rate: number, durationS: number): Promise<Omit<SubmitResult, 'openTasksAtEnd' | 'serviceMeanMs' | 'cpu' | 'breakdown' | 'machine'>> {
  const { answered, p50Ms, p99Ms, statuses } = await openLoop(
    origin,
    () => ({
      path: '/api/roles',
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_id: TENANT, task_id: TASK_ID, strategy_id: `b${++strategies}` }),
    }),
    rate,
    durationS,
  );
  return { rate, answered, p50Ms, p99Ms, statuses };
}

/**
 * The sum of the samples of `name` whose labels include `labels` (all series when none), from a
 * `/metrics` text already fetched: one scrape per process and window end, because each scrape also
 * resets prom-client's event-loop histogram (its values cover the time since the previous scrape).
 * Hand-written: libs/testing's readMetric fetches the text again for every series.
 */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelEnd = line.lastIndexOf('}');
    const labelText = labelEnd === -1 ? '' : line.slice(name.length + 1, labelEnd);
    if (wanted.every((pair) => labelText.split(',').includes(pair))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

interface Snapshot {
  gateway: string;
  role: string;
  mysql: Record<string, number>;
}

async function snapshot(stack: Stack): Promise<Snapshot> {
  const scrape = async (url: string) => (await fetch(url)).text();
  const rows = await stack.services
    .database('role')
    .query<{ Variable_name: string; Value: string }>(`SHOW GLOBAL STATUS WHERE Variable_name IN (${MYSQL_COUNTERS.map(() => '?').join(', ')})`, [...MYSQL_COUNTERS]);
  return {
    gateway: await scrape(`${stack.gatewayUrl}/metrics`),
    role: await scrape(`${stack.services.url('role', 'ops')}/metrics`),
    mysql: Object.fromEntries(rows.map((row) => [row.Variable_name, Number(row.Value)])),
  };
}

/** The window between two snapshots: role's own submit time, event-loop delay, GC, tasks ended, MySQL counters. */
function windowOf(before: Snapshot, after: Snapshot, seconds: number): { serviceMeanMs: number; breakdown: Breakdown } {
  const delta = (process: 'gateway' | 'role', name: string, labels: Record<string, string> = {}) =>
    metricSum(after[process], name, labels) - metricSum(before[process], name, labels);
  const accepted = { outcome: 'accepted' };
  const submitted = delta('role', 'role_submit_duration_seconds_count', accepted);
  const serviceMeanMs = (delta('role', 'role_submit_duration_seconds_sum', accepted) / Math.max(1, submitted)) * 1000;
  const bounds = [...after.role.matchAll(/^role_submit_duration_seconds_bucket\{[^}]*le="([^"]+)"/gm)].map((match) => match[1] as string);
  const p99Bound = bounds.find((le) => delta('role', 'role_submit_duration_seconds_bucket', { ...accepted, le }) >= 0.99 * submitted) ?? '+Inf';
  const eventLoop = (process: 'gateway' | 'role') => ({
    p99Ms: metricSum(after[process], 'nodejs_eventloop_lag_p99_seconds') * 1000,
    maxMs: metricSum(after[process], 'nodejs_eventloop_lag_max_seconds') * 1000,
  });
  const gc = (process: 'gateway' | 'role') => ({
    count: delta(process, 'nodejs_gc_duration_seconds_count'),
    ms: delta(process, 'nodejs_gc_duration_seconds_sum') * 1000,
    major: delta(process, 'nodejs_gc_duration_seconds_count', { kind: 'major' }),
  });
  return {
    serviceMeanMs,
    breakdown: {
      serviceP99AtMostMs: Number(p99Bound) * 1000,
      eventLoop: { gateway: eventLoop('gateway'), role: eventLoop('role') },
      gc: { gateway: gc('gateway'), role: gc('role') },
      tasksPerSecond: delta('role', 'jobs_items_total', { kind: 'persona' }) / seconds,
      mysql: Object.fromEntries(MYSQL_COUNTERS.map((name) => [name, (after.mysql[name] ?? 0) - (before.mysql[name] ?? 0)])) as Record<MysqlCounter, number>,
    },
  };
}

async function openTasks(stack: Stack): Promise<number> {
  const [row] = await stack.services.database('role').query<{ n: number }>("SELECT COUNT(*) AS n FROM job WHERE status IN ('queued', 'running')");
  return Number(row?.n ?? 0);
}

async function sim(stack: Stack, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${stack.services.url('upstream-sim', 'http')}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sim ${path}: ${response.status}`);
}

/**
 * Seed 001's "before": one request after another, each doing its whole task before the next — the
 * four reads one by one, then the AI call, then the webhook — against the same database and
 * simulator. Returns the wall time in ms.
 */
async function serialBaseline(stack: Stack): Promise<number> {
  const env = stack.services.database('role').env;
  const connection = await createConnection({
    host: env['DB_HOST'],
    port: Number(env['DB_PORT']),
    user: env['DB_USER'],
    password: env['DB_PASSWORD'],
    database: stack.services.database('role').name,
  });
  const simUrl = stack.services.url('upstream-sim', 'http');
  const startedAt = performance.now();
  try {
    for (let i = 0; i < TASKS; i++) {
      const key = [TENANT, TASK_ID];
      const [base] = await connection.query('SELECT name, description FROM base_info WHERE tenant = ? AND task_id = ?', key);
      const [style] = await connection.query('SELECT style FROM talk_style WHERE tenant = ? AND task_id = ?', key);
      const [knowledge] = await connection.query('SELECT content FROM knowledge WHERE tenant = ? AND task_id = ?', key);
      const [products] = await connection.query('SELECT name, description FROM product WHERE tenant = ? AND task_id = ?', key);
      const prompt = JSON.stringify({ base, style, knowledge, products, strategy: `serial-${i}` });
      const chat = await fetch(`${simUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }),
      });
      await chat.text();
      const notify = await fetch(`${simUrl}/webhook/notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `serial-${i}-${Date.now()}` },
        body: JSON.stringify({ event: 'role.persona.created', serial: i }),
      });
      await notify.text();
    }
  } finally {
    await connection.end();
  }
  return performance.now() - startedAt;
}

/** The same N tasks through the service: submitted through the gateway, until the last one has succeeded. */
async function throughService(stack: Stack, authorization: string): Promise<{ wallMs: number; submitMaxMs: number }> {
  const startedAt = performance.now();
  let submitMaxMs = 0;
  const ids = await Promise.all(
    Array.from({ length: TASKS }, async () => {
      const sentAt = performance.now();
      const response = await fetch(`${stack.gatewayUrl}/api/roles`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ tenant_id: TENANT, task_id: TASK_ID, strategy_id: `c${++strategies}` }),
      });
      submitMaxMs = Math.max(submitMaxMs, performance.now() - sentAt);
      if (response.status !== 202) throw new Error(`submit: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { request_id: string }).request_id;
    }),
  );
  const database = stack.services.database('role');
  await waitFor(
    async () => {
      const [row] = await database.query<{ n: number }>(`SELECT COUNT(*) AS n FROM job WHERE status = 'success' AND id IN (${ids.map(() => '?').join(', ')})`, ids);
      return Number(row?.n) === TASKS ? true : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 20, what: 'every compared task to succeed' },
  );
  return { wallMs: performance.now() - startedAt, submitMaxMs };
}

/** A fresh stack (gateway, role, upstream-sim) with the bench tenant's profile, for `run`. */
async function withStack<T>(run: (stack: Stack, authorization: string) => Promise<T>): Promise<T> {
  const stack = await startStack({
    services: ['role'],
    env: { gateway: { USER_RATE_LIMIT: '1000000', USER_RATE_WINDOW_MS: '1000' }, role: { LOG_LEVEL: 'warn' } },
  });
  try {
    const authorization = `Bearer ${await stack.mintToken({ perms: ['role:create', 'role:list'], sub: 'bench', tenant: TENANT, expiresIn: '2h' })}`;
    const database = stack.services.database('role');
    await database.query('INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', [TENANT, TASK_ID, 'Ann', 'analyst']);
    await database.query('INSERT INTO talk_style (tenant, task_id, style) VALUES (?, ?, ?)', [TENANT, TASK_ID, 'plain']);
    await database.query('INSERT INTO knowledge (tenant, task_id, content) VALUES (?, ?, ?)', [TENANT, TASK_ID, 'K-lines']);
    await database.query('INSERT INTO product (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', [TENANT, TASK_ID, 'Brief', 'daily']);
    return await run(stack, authorization);
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  // 1. Submissions while the jobs run.
  const submits = await withStack(async (stack, authorization) => {
    await sim(stack, '/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: CHAT_LATENCY_MS } } } });
    const rows: SubmitResult[] = [];
    for (const rate of RATES) {
      if (WARMUP_S > 0) await submitOpenLoop(stack.gatewayUrl, authorization, rate, WARMUP_S);
      const pids: Record<string, number> = {
        gateway: stack.services.process('gateway').pid,
        role: stack.services.process('role').pid,
        'upstream-sim': stack.services.process('upstream-sim').pid,
        mariadb: pidOf('mariadbd'),
        nats: pidOf('nats-server'),
      };
      const before = await snapshot(stack);
      const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
      const benchCpuBefore = process.cpuUsage();
      const machineBefore = machineCpu();
      const startedAt = performance.now();
      const result = await submitOpenLoop(stack.gatewayUrl, authorization, rate, DURATION_S);
      const seconds = (performance.now() - startedAt) / 1000;
      const cpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - (cpuBefore[name] ?? 0)]));
      const benchCpu = process.cpuUsage(benchCpuBefore);
      cpu['bench client'] = (benchCpu.user + benchCpu.system) / 1e6;
      const machineAfter = machineCpu();
      const machine = {
        othersS: Math.max(0, machineAfter.busy - machineBefore.busy - Object.values(cpu).reduce((sum, used) => sum + used, 0)),
        stealS: machineAfter.steal - machineBefore.steal,
        waitedS: machineAfter.waited - machineBefore.waited,
      };
      const { serviceMeanMs, breakdown } = windowOf(before, await snapshot(stack), seconds);
      const row = { ...result, openTasksAtEnd: await openTasks(stack), serviceMeanMs, cpu, breakdown, machine };
      process.stderr.write(
        `submit open loop ${rate}/s: p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms ${JSON.stringify(row.statuses)}, role's mean ${serviceMeanMs.toFixed(1)} ms, open tasks ${row.openTasksAtEnd}, CPU ${JSON.stringify(cpu)}, machine ${JSON.stringify(machine)}, ${JSON.stringify(breakdown)}\n`,
      );
      rows.push(row);
    }
    return rows;
  });
  // 2. The seed's comparison, at one AI latency for both, on a stack without part 1's backlog.
  const comparison = !COMPARE ? undefined : await withStack(async (stack, authorization) => {
    await sim(stack, '/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: COMPARE_LATENCY_MS } } } });
    const serial = await serialBaseline(stack);
    process.stderr.write(`serial (seed's before): ${TASKS} tasks in ${serial.toFixed(0)} ms\n`);
    const throughput = await throughService(stack, authorization);
    process.stderr.write(`through the service: ${TASKS} tasks in ${throughput.wallMs.toFixed(0)} ms\n`);
    return { serialMs: serial, service: throughput };
  });

  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  console.log(`\n${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; load average (1/5/15 min) ${load(loadAtStart)} at the start, ${load(loadavg())} at the end`);
  console.log(`\nSubmit latency through the gateway (POST /api/roles, open loop, ${DURATION_S} s after ${WARMUP_S} s warm-up; AI calls take ${CHAT_LATENCY_MS} ms meanwhile)`);
  console.log("| rate | answers | p50 / p99 | role's own mean | open tasks at the end | CPU seconds while measured | the machine's other processes, steal, CPU waited for |");
  console.log('|---:|---|---|---:|---:|---|---|');
  for (const row of submits) {
    const answers = Object.entries(row.statuses).map(([status, n]) => `${status}: ${n}`).join(', ');
    const cpu = Object.entries(row.cpu).map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`).join(', ');
    const { machine } = row;
    const others = `${machine.othersS.toFixed(1)} s, ${machine.stealS.toFixed(1)} s, ${machine.waitedS.toFixed(1)} s`;
    console.log(`| ${row.rate}/s | ${answers} | ${row.p50Ms.toFixed(1)} / ${row.p99Ms.toFixed(1)} ms | ${row.serviceMeanMs.toFixed(1)} ms | ${row.openTasksAtEnd} | ${cpu} | ${others} |`);
  }
  console.log('\nWhere the time went in the measured window (per accepted submission where it says so; MySQL counters are the whole server\'s)');
  console.log("| rate | role's own p99 | CPU ms per submission | event-loop delay p99 / max | GC count / ms (major) | tasks ended per s | MySQL per submission | row-lock waits, deadlocks |");
  console.log('|---:|---|---|---|---|---:|---|---|');
  for (const row of submits) {
    const { breakdown: b } = row;
    const accepted = Math.max(1, row.statuses['202'] ?? 0);
    const perSubmission = Object.entries(row.cpu).map(([name, seconds]) => `${name} ${((seconds * 1000) / accepted).toFixed(2)}`).join(', ');
    const eventLoop = (['gateway', 'role'] as const).map((name) => `${name} ${b.eventLoop[name].p99Ms.toFixed(0)} / ${b.eventLoop[name].maxMs.toFixed(0)} ms`).join(', ');
    const gc = (['gateway', 'role'] as const).map((name) => `${name} ${b.gc[name].count} / ${b.gc[name].ms.toFixed(0)} (${b.gc[name].major})`).join(', ');
    const m = b.mysql;
    const mysql = `${(m.Questions / accepted).toFixed(1)} queries, ${(m.Com_commit / accepted).toFixed(2)} commits, ${(m.Innodb_data_fsyncs / accepted).toFixed(2)} fsyncs`;
    const locks = `${m.Innodb_row_lock_waits} waits (${m.Innodb_row_lock_time} ms), ${m.Innodb_deadlocks} deadlocks, ${m.Com_rollback} rollbacks`;
    console.log(`| ${row.rate}/s | ≤ ${b.serviceP99AtMostMs.toFixed(0)} ms | ${perSubmission} | ${eventLoop} | ${gc} | ${b.tasksPerSecond.toFixed(1)} | ${mysql} | ${locks} |`);
  }
  if (!comparison) return;
  const { serialMs, service } = comparison;
  console.log(`\nSeed 001's comparison: ${TASKS} persona tasks, AI calls of ${COMPARE_LATENCY_MS} ms`);
  console.log('| run | wall time | per request answered in |');
  console.log('|---|---:|---|');
  console.log(`| serial, as the seed's request ran (reads one by one, then AI, then webhook) | ${(serialMs / 1000).toFixed(2)} s | its whole task: ${(serialMs / TASKS).toFixed(0)} ms each |`);
  console.log(`| through the service (submitted at once, until the last persona is stored and announced) | ${(service.wallMs / 1000).toFixed(2)} s | at most ${service.submitMaxMs.toFixed(0)} ms |`);
  console.log(`| ratio serial ÷ service | ${(serialMs / service.wallMs).toFixed(1)}× | |`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:role failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
