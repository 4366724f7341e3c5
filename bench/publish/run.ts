/**
 * Seed 003's comparison, with the platform's latency scaled down (BENCH_LATENCY_MS, 1.5 s per
 * publish instead of the seed's ~15 s): N articles published one at a time with the caller
 * waiting (the seed's synchronous route: publish, then wait for the page), against the same N
 * through the queue (gateway → publish → JetStream, PUBLISH_WORKER_CONCURRENCY 4 per replica)
 * with one replica and with two (the gateway balancing over both), each row on a fresh stack.
 * Prints the makespan (first submission to the last task ended) against the ideal (articles ×
 * latency ÷ workers) and the submit latency: the first submission of the run, p50 and p99.
 * A stack's first submissions follow its /readyz answering 200 directly: the bench warms nothing.
 *   npm run bench:publish   (BENCH_LATENCY_MS=1500, BENCH_ARTICLES=10,100, BENCH_ONLY=<sync|queue>)
 *
 * The per-user limits (2 running, 30 per minute) are raised out of the way: the seed's comparison
 * has none, and with them one user's 100 articles take 100 × latency ÷ 2.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from '../../apps/e2e/src/stack';

const LATENCY_MS = Number(process.env['BENCH_LATENCY_MS'] ?? 1_500);
const ARTICLE_COUNTS = (process.env['BENCH_ARTICLES'] ?? '10,100').split(',').map(Number);
const ONLY = process.env['BENCH_ONLY'] ?? '';
const WORKERS_PER_REPLICA = 4;

interface Row {
  mode: string;
  articles: number;
  workers: number;
  makespanMs: number;
  idealMs: number;
  submitFirstMs?: number;
  submitP50Ms?: number;
  submitP99Ms?: number;
  /** The machine's 1-minute load when the row ended (the cores are shared). */
  load?: number;
}

const percentile = (sorted: number[], fraction: number) => sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0;

/** The seed's synchronous mode: the caller publishes and waits for the article page, one article after another. */
async function oneAtATime(simUrl: string, articles: number): Promise<Row> {
  const started = performance.now();
  for (let n = 0; n < articles; n++) {
    const answer = await fetch(`${simUrl}/publishing/articles`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `sync-${randomBytes(6).toString('hex')}` },
      body: JSON.stringify({ title: `sync ${n}`, content: 'content' }),
    });
    const { url } = (await answer.json()) as { url: string };
    await waitFor(async () => ((await fetch(url)).status === 200 ? true : undefined), { intervalMs: 50, what: 'the article page' });
  }
  return { mode: 'one at a time (caller waits)', articles, workers: 1, makespanMs: performance.now() - started, idealMs: articles * LATENCY_MS };
}

/**
 * Submissions one after another through the gateway, then until every task has ended. Each is
 * timed to the gateway's whole answer with a plain fetch: the e2e stack's fetch also checks the
 * answer against the OpenAPI document, and its first check compiles the schema in this process.
 */
async function throughQueue(stack: Stack, articles: number, replicas: number): Promise<Row> {
  const user = `bench-${randomBytes(4).toString('hex')}`;
  const headers = { authorization: `Bearer ${await stack.mintToken({ sub: user, perms: ['publish:run', 'publish:list'], expiresIn: '1h' })}`, 'content-type': 'application/json' };
  const submits: number[] = [];
  const started = Date.now();
  for (let n = 0; n < articles; n++) {
    const before = performance.now();
    const answer = await fetch(`${stack.gatewayUrl}/api/publish_zhihu`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ title: `queued ${n}`, content: 'content', article_id: n + 1 }),
    });
    const body = await answer.text();
    submits.push(performance.now() - before);
    if (answer.status !== 202) throw new Error(`submit answered ${answer.status}: ${body}`);
  }
  const submitFirstMs = submits[0];
  const publish = stack.services.database('publish');
  const [done] = await waitFor(
    async () => {
      const rows = await publish.query<{ ended: number; last: Date | null }>(
        "SELECT SUM(status IN ('success', 'failed')) AS ended, MAX(finished_at) AS last FROM job WHERE user_id = ?",
        [user],
      );
      return Number(rows[0]?.ended) === articles ? rows : undefined;
    },
    { timeoutMs: articles * LATENCY_MS * 2 + 60_000, intervalMs: 50, what: 'every task to end' },
  );
  const failed = await publish.query<{ n: number }>("SELECT COUNT(*) AS n FROM job WHERE user_id = ? AND status <> 'success'", [user]);
  if (Number(failed[0]?.n) > 0) throw new Error(`${failed[0]?.n} tasks did not succeed`);
  submits.sort((a, b) => a - b);
  const workers = WORKERS_PER_REPLICA * replicas;
  return {
    mode: `queue, ${replicas} replica${replicas > 1 ? 's' : ''} × ${WORKERS_PER_REPLICA}`,
    articles,
    workers,
    makespanMs: (done?.last?.getTime() ?? Date.now()) - started,
    idealMs: (articles * LATENCY_MS) / workers,
    submitFirstMs,
    submitP50Ms: percentile(submits, 0.5),
    submitP99Ms: percentile(submits, 0.99),
  };
}

/** A fresh stack: `replicas` publish replicas behind the gateway, the limits out of the way, the platform at LATENCY_MS. */
async function freshStack(replicas: number): Promise<Stack> {
  const stack = await startStack({
    services: ['publish'],
    replicas: { publish: replicas },
    env: {
      publish: { PUBLISH_USER_MAX_RUNNING: '100', PUBLISH_USER_RATE_LIMIT: '100000', PUBLISH_WORKER_CONCURRENCY: String(WORKERS_PER_REPLICA), LOG_LEVEL: 'warn' },
      gateway: { USER_RATE_LIMIT: '1000000', LOG_LEVEL: 'warn' },
    },
  });
  await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ routes: { 'publish.article': { latency: { kind: 'fixed', ms: LATENCY_MS } } } }),
  });
  return stack;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const log = (row: Row) => {
    row.load = loadavg()[0];
    rows.push(row);
    process.stderr.write(`${row.mode}, ${row.articles} articles: ${(row.makespanMs / 1000).toFixed(2)} s (ideal ${(row.idealMs / 1000).toFixed(2)} s)\n`);
  };
  // Each queue row on a fresh stack: its first submissions are the stack's first requests.
  const runs: Array<{ replicas: number; articles?: number }> = [
    ...(ONLY === '' || ONLY === 'sync' ? [{ replicas: 1 }] : []),
    ...(ONLY === '' || ONLY === 'queue' ? [1, 2].flatMap((replicas) => ARTICLE_COUNTS.map((articles) => ({ replicas, articles }))) : []),
  ];
  for (const { replicas, articles } of runs) {
    const stack = await freshStack(replicas);
    try {
      if (articles === undefined) {
        for (const count of ARTICLE_COUNTS) log(await oneAtATime(stack.services.url('upstream-sim', 'http'), count));
      } else {
        log(await throughQueue(stack, articles, replicas));
      }
    } finally {
      await stack.stop();
    }
  }
  console.log(`\nbench:publish — platform latency ${LATENCY_MS} ms per publish; ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}\n`);
  console.log('| mode | articles | workers | makespan | ideal (articles × latency ÷ workers) | makespan ÷ ideal | first submit | submit p50 / p99 | load |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const first = row.submitFirstMs === undefined ? '—' : `${row.submitFirstMs.toFixed(1)} ms`;
    const submit = row.submitP50Ms === undefined ? '—' : `${row.submitP50Ms.toFixed(1)} / ${(row.submitP99Ms ?? 0).toFixed(1)} ms`;
    console.log(
      `| ${row.mode} | ${row.articles} | ${row.workers} | ${(row.makespanMs / 1000).toFixed(2)} s | ${(row.idealMs / 1000).toFixed(2)} s | ${(row.makespanMs / row.idealMs).toFixed(2)} | ${first} | ${submit} | ${row.load?.toFixed(2)} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
