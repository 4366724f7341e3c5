import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PROCESSES } from '@batchgate/registry';
import { freePort, REPO_ROOT, waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

const DASHBOARDS = join(REPO_ROOT, 'deploy/grafana/dashboards');
const SCRAPE_CONFIG = join(REPO_ROOT, 'deploy/prometheus/prometheus.yml');

interface Panel {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string; refId?: string }>;
}
interface Dashboard {
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string }> };
}
interface QueryAnswer {
  status: string;
  error?: string;
  data: { result: unknown[] };
}

/** What a dashboard shows with every template variable at "All": the variables matched by `.*`. */
function withAllSelected(expr: string): string {
  return expr.replace(/\$(\w+)/g, '.*');
}

/**
 * The repository's monitoring holds against a real Prometheus (Debian's `prometheus` package, and
 * its `prometheus-mysqld-exporter` for MySQL):
 * it scrapes the running stack with the repository's scrape configuration (its DNS discovery
 * replaced by the test's loopback ports, nothing else changed) and evaluates the repository's
 * rules. After a small workload, every dashboard panel's query returns data and every rule
 * evaluates without error.
 */
/** A Debian daemon for the test, ready once `readyUrl` answers 200; its output is kept for errors. */
async function startDaemon(command: string, args: string[], readyUrl: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const output: string[] = [];
  const daemon = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  daemon.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  daemon.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await waitFor(async () => ((await fetch(readyUrl)).ok ? true : undefined), { timeoutMs: 30_000, what: `${command} ready` }).catch((error: Error) => {
    daemon.kill('SIGKILL');
    throw new Error(`${error.message} (is Debian's package installed?)\n${output.join('').slice(-2000)}`);
  });
  return daemon;
}

async function stopDaemon(daemon: ChildProcess | undefined): Promise<void> {
  if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  daemon.kill('SIGTERM');
  await exited;
}

describe('monitoring against a real Prometheus', () => {
  let stack: Stack;
  let prometheus: ChildProcess | undefined;
  let mysqlExporter: ChildProcess | undefined;
  let prometheusUrl: string;
  let dataDir: string;

  const query = async (expr: string): Promise<QueryAnswer> =>
    (await (await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`)).json()) as QueryAnswer;

  beforeAll(async () => {
    // Every process of the registry: the scrape configuration has a job for each.
    stack = await startStack({ services: PROCESSES.map((p) => p.name).filter((name) => name !== 'gateway') });
    const database = stack.services.database('token-manager').env;
    const exporterPort = await freePort();
    mysqlExporter = await startDaemon('prometheus-mysqld-exporter', [`--web.listen-address=127.0.0.1:${exporterPort}`], `http://127.0.0.1:${exporterPort}/metrics`, {
      DATA_SOURCE_NAME: `${database['DB_USER']}:${database['DB_PASSWORD']}@(${database['DB_HOST']}:${database['DB_PORT']})/`,
    });
    const targets: Record<string, string> = {
      mysql: `127.0.0.1:${exporterPort}`,
      ...Object.fromEntries(PROCESSES.map((p) => [p.name, new URL(stack.services.url(p.name, p.metrics.port)).host])),
    };
    const config = parse(readFileSync(SCRAPE_CONFIG, 'utf8')) as {
      global: Record<string, string>;
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; dns_sd_configs?: unknown; static_configs?: Array<{ targets?: string[]; labels?: Record<string, string> }> }>;
    };
    config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
    config.rule_files = config.rule_files.map((file) => join(REPO_ROOT, 'deploy/prometheus', file));
    for (const job of config.scrape_configs) {
      const target = targets[job.job_name];
      if (!target) throw new Error(`The test stack does not run "${job.job_name}", which the scrape configuration scrapes`);
      const labels = job.static_configs?.[0]?.labels;
      delete job.dns_sd_configs;
      job.static_configs = [{ targets: [target], ...(labels ? { labels } : {}) }];
    }
    expect(config.scrape_configs.map((job) => job.job_name).sort()).toEqual(Object.keys(targets).sort());

    dataDir = mkdtempSync(join(tmpdir(), 'bg-prometheus-'));
    writeFileSync(join(dataDir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = await startDaemon(
      'prometheus',
      [`--config.file=${join(dataDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dataDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      `${prometheusUrl}/-/ready`,
    );
    await runWorkload(stack);
  }, 180_000);

  afterAll(async () => {
    await stopDaemon(prometheus);
    await stopDaemon(mysqlExporter);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await stack?.stop();
  });

  it('scrapes every process of the stack and MySQL', async () => {
    const up = await waitFor(
      async () => {
        const answer = await query('up == 1');
        return answer.data.result.length === PROCESSES.length + 1 ? answer.data.result : undefined;
      },
      { timeoutMs: 30_000, what: 'every process and MySQL up' },
    );
    expect(up).toHaveLength(PROCESSES.length + 1);
  });

  it('evaluates every rule without error', async () => {
    const groups = await waitFor(
      async () => {
        const answer = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
          data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> };
        };
        const rules = answer.data.groups.flatMap((group) => group.rules);
        return rules.length > 0 && rules.every((rule) => rule.health !== 'unknown') ? answer.data.groups : undefined;
      },
      { timeoutMs: 30_000, what: 'every rule evaluated once' },
    );
    const rules = groups.flatMap((group) => group.rules);
    expect(rules.length).toBeGreaterThanOrEqual(20);
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`)).toEqual([]);
  });

  it("plots data in every dashboard panel", async () => {
    const files = readdirSync(DASHBOARDS).filter((file) => file.endsWith('.json'));
    const queries = files.flatMap((file) => {
      const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard;
      return dashboard.panels.flatMap((panel) =>
        (panel.targets ?? []).map((target) => ({ panel: `${dashboard.title} / ${panel.title} (${target.refId})`, expr: withAllSelected(target.expr ?? '') })),
      );
    });
    expect(queries.length).toBeGreaterThan(20);
    const empty: string[] = [];
    // Rates need two samples in their window: wait until every query has data, or report which did not.
    await waitFor(
      async () => {
        empty.length = 0;
        for (const { panel, expr } of queries) {
          const answer = await query(expr);
          if (answer.status !== 'success') throw new Error(`${panel}: ${answer.error}`);
          if (answer.data.result.length === 0) empty.push(`${panel}: ${expr}`);
        }
        return empty.length === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1_000, what: 'data in every panel' },
    ).catch(() => undefined);
    expect(empty).toEqual([]);
  }, 60_000);
});

/**
 * A little of everything the dashboards show: tokens, a sync job whose provider fails now and
 * then (retries), intraday triggers, a persona task and a post batch, refused requests.
 */
async function runWorkload(stack: Stack): Promise<void> {
  const bearer = {
    authorization: `Bearer ${await stack.mintToken({ perms: ['tokens:admin', 'stock:sync:run', 'stock:sync:list', 'stock:sync:retry', 'role:create', 'role:list', 'post:generate', 'offline:run', 'publish:run', 'publish:list'] })}`,
    'content-type': 'application/json',
  };
  const post = async (path: string, body: unknown) => {
    const response = await stack.fetch(path, { method: 'POST', headers: bearer, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<Record<string, unknown>>;
  };
  await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      routes: { 'market.kline': { errorRate: 0.2, errorKind: '5xx', errorStatus: 503 } },
      market: { tokens: [1, 2].map((i) => ({ token: `prom-itick-${i}`, ratePerSecond: 50, dailyQuota: 10_000 })) },
    }),
  });
  for (const i of [1, 2]) await post('/api/tokens', { provider: 'itick', secret: `prom-itick-${i}`, rateLimitPerSecond: 50, dailyLimit: 10_000 });
  const stocks = Array.from({ length: 20 }, (_, i) => ({ code: String(600100 + i), market: 'SH' }));
  await post('/api/stock/import', { stocks });
  const job = (await post('/api/stock/sync/batch', { market: 'SH', startDate: '2026-01-05', endDate: '2026-01-09' })) as { id: string };
  await waitFor(
    async () => {
      const current = (await (await stack.fetch(`/api/stock/sync/jobs/${job.id}`, { headers: bearer })).json()) as { finishedAt?: string };
      return current.finishedAt ? true : undefined;
    },
    { timeoutMs: 60_000, what: 'the sync job finished' },
  );
  await post('/api/intraday/parallel/execute-multiple', [{ id: 't1', market: 'SH', code: '600100', kType: 1, priceChangePercent: 1, bars: 5 }]);
  // A persona (the role panels), then a post batch with it.
  await stack.services.database('role').query('INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', ['acme', 'prom', 'Ann', 'analyst']);
  const task = (await post('/api/roles', { tenant_id: 'acme', task_id: 'prom', strategy_id: 's' })) as { request_id: string };
  const persona = await waitFor(
    async () => {
      const current = (await (await stack.fetch(`/api/roles/tasks/${task.request_id}`, { headers: bearer })).json()) as { status: string; role_id: string };
      return current.status === 'success' ? current : undefined;
    },
    { timeoutMs: 30_000, what: 'the persona task finished' },
  );
  const posts = await stack.fetch('/api/post/batch-generate-stream', {
    method: 'POST',
    headers: bearer,
    body: JSON.stringify({ posts: [{ role_id: persona.role_id, topic: 'prom', stock: '600100' }] }),
  });
  if (!(await posts.text()).includes('"type":"summary"')) throw new Error('the post batch did not finish');
  // De-list batches (the offline panels): one synchronous with a refused product, one auto.
  await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ marketplace: { failingProducts: [700003] } }),
  });
  await post('/api/temu/seller/offline', { productIds: [700001, 700002, 700003] });
  await post('/api/temu/seller/offline', { productIds: [700004, 700005], max_threads: 'auto' });
  // Published articles (the publish panels): two verified, one refused by the platform.
  await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ publishing: { failingTitles: ['refused'] } }),
  });
  const articles = ['prom one', 'prom two', 'prom refused'].map((title, n) => ({ title, content: 'c', article_id: n + 1 }));
  const submitted = (await post('/api/publish_zhihu_batch', { articles })) as { results: Array<{ task_id: string }> };
  for (const { task_id } of submitted.results) {
    await waitFor(
      async () => {
        const { task } = (await (await stack.fetch(`/api/publish_task/${task_id}`, { headers: bearer })).json()) as { task: { finished_at: string | null } };
        return task.finished_at ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'the publish task finished' },
    );
  }
  // Refused requests, for the error panels.
  await stack.fetch(`/api/stock/sync/jobs/999999999`, { headers: bearer });
  await stack.fetch(`/api/tokens`, { method: 'POST', headers: bearer, body: '{"provider": 1}' });
}
