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
 *                         BENCH_CHAT_LATENCY_MS=1000, BENCH_TASKS=32, BENCH_COMPARE_LATENCY_MS=500)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createConnection } from 'mysql2/promise';
import { readMetric, waitFor } from '@batchgate/testing';
import { startStack, type Stack } from '../../apps/e2e/src/stack';
import { openLoop } from '../gateway/load';

const RATES = (process.env['BENCH_RATES'] ?? '50,200').split(',').map(Number);
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
const WARMUP_S = Number(process.env['BENCH_WARMUP_S'] ?? 3);
const CHAT_LATENCY_MS = Number(process.env['BENCH_CHAT_LATENCY_MS'] ?? 1_000);
const TASKS = Number(process.env['BENCH_TASKS'] ?? 32);
const COMPARE_LATENCY_MS = Number(process.env['BENCH_COMPARE_LATENCY_MS'] ?? 500);
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
}

/** CPU seconds a process has used so far (Linux /proc; utime + stime in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
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
async function submitOpenLoop(origin: string, authorization: string, rate: number, durationS: number): Promise<Omit<SubmitResult, 'openTasksAtEnd' | 'serviceMeanMs' | 'cpu'>> {
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

/** role_submit_duration_seconds' sum and count (accepted) so far. */
async function serviceSubmitTotals(stack: Stack): Promise<{ sum: number; count: number }> {
  const url = `${stack.services.url('role', 'ops')}/metrics`;
  const labels = { outcome: 'accepted' };
  return {
    sum: (await readMetric(url, 'role_submit_duration_seconds_sum', labels)) ?? 0,
    count: (await readMetric(url, 'role_submit_duration_seconds_count', labels)) ?? 0,
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
      const before = await serviceSubmitTotals(stack);
      const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
      const result = await submitOpenLoop(stack.gatewayUrl, authorization, rate, DURATION_S);
      const cpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - (cpuBefore[name] ?? 0)]));
      const after = await serviceSubmitTotals(stack);
      const serviceMeanMs = ((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1000;
      const row = { ...result, openTasksAtEnd: await openTasks(stack), serviceMeanMs, cpu };
      process.stderr.write(
        `submit open loop ${rate}/s: p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms ${JSON.stringify(row.statuses)}, role's mean ${serviceMeanMs.toFixed(1)} ms, open tasks ${row.openTasksAtEnd}, CPU ${JSON.stringify(cpu)}\n`,
      );
      rows.push(row);
    }
    return rows;
  });
  // 2. The seed's comparison, at one AI latency for both, on a stack without part 1's backlog.
  const { serialMs, service } = await withStack(async (stack, authorization) => {
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
  console.log("| rate | answers | p50 / p99 | role's own mean | open tasks at the end | CPU seconds while measured |");
  console.log('|---:|---|---|---:|---:|---|');
  for (const row of submits) {
    const answers = Object.entries(row.statuses).map(([status, n]) => `${status}: ${n}`).join(', ');
    const cpu = Object.entries(row.cpu).map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`).join(', ');
    console.log(`| ${row.rate}/s | ${answers} | ${row.p50Ms.toFixed(1)} / ${row.p99Ms.toFixed(1)} ms | ${row.serviceMeanMs.toFixed(1)} ms | ${row.openTasksAtEnd} | ${cpu} |`);
  }
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
