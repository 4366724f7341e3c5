/**
 * `npm run gen:dashboards`: writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from
 * the definitions below. `--check` writes nothing and fails when a committed file differs from a
 * fresh generation (tools/check-generated.sh).
 *
 * Why generated: every query must carry the same template-variable selector (namespace, service,
 * instance) and every panel the same datasource variable; written by hand in JSON, one forgotten
 * selector shows another deployment's data. Here a query names its metric through `m()`, which
 * adds the selector, and the layout is computed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const OUT_DIR = 'deploy/grafana/dashboards';

/** A metric with the dashboard's variables as label matchers, plus `extra` matchers. */
function m(metric: string, extra = ''): string {
  const matchers = ['namespace=~"$namespace"', 'service=~"$service"', 'instance=~"$instance"'];
  return `${metric}{${[...matchers, ...(extra ? [extra] : [])].join(', ')}}`;
}

interface Query {
  expr: string;
  legend: string;
}
interface PanelDefinition {
  title: string;
  unit: string;
  queries: Query[];
  type?: 'timeseries' | 'bargauge';
  description?: string;
}
interface Section {
  title: string;
  panels: PanelDefinition[];
}
interface DashboardDefinition {
  file: string;
  uid: string;
  title: string;
  /** Panels per row of the grid (24 columns). */
  columns: 2 | 3;
  sections: Section[];
}

const q = (expr: string, legend: string): Query => ({ expr, legend });
const p99 = (histogram: string, by: string, extra = '') => `histogram_quantile(0.99, sum by (le, ${by}) (rate(${m(`${histogram}_bucket`, extra)}[5m])))`;
const p95 = (histogram: string, by: string, extra = '') => `histogram_quantile(0.95, sum by (le, ${by}) (rate(${m(`${histogram}_bucket`, extra)}[5m])))`;

const RED: DashboardDefinition = {
  file: 'batchgate-red.json',
  uid: 'batchgate-red',
  title: 'batchgate RED',
  columns: 2,
  sections: [
    {
      title: 'gateway (HTTP)',
      panels: [
        { title: 'Gateway requests/s by route', unit: 'reqps', queries: [q(`sum by (route) (rate(${m('http_server_requests_total')}[5m]))`, '{{route}}')] },
        {
          title: 'Gateway errors/s by status',
          unit: 'reqps',
          queries: [q(`sum by (status) (rate(${m('http_server_requests_total', 'status=~"4..|5.."')}[5m]))`, '{{status}}')],
        },
        { title: 'Gateway p99 latency by route', unit: 's', queries: [q(p99('http_server_request_duration_seconds', 'route'), '{{route}}')] },
        {
          title: 'Gateway → services gRPC calls/s by method and code',
          unit: 'reqps',
          queries: [q(`sum by (method, code) (rate(${m('grpc_client_handled_total')}[5m]))`, '{{method}} {{code}}')],
        },
        { title: 'Gateway → services gRPC p99 by method', unit: 's', queries: [q(p99('grpc_client_handling_seconds', 'method'), '{{method}}')] },
      ],
    },
    {
      title: 'services (gRPC and outside calls)',
      panels: [
        {
          title: 'gRPC server calls/s by service and code',
          unit: 'reqps',
          queries: [q(`sum by (service, code) (rate(${m('grpc_server_handled_total')}[5m]))`, '{{service}} {{code}}')],
        },
        { title: 'gRPC server p99 latency by method', unit: 's', queries: [q(p99('grpc_server_handling_seconds', 'service, method'), '{{service}} {{method}}')] },
        {
          title: 'Outside calls/s by upstream and outcome',
          unit: 'reqps',
          queries: [q(`sum by (upstream, outcome) (rate(${m('upstream_requests_total')}[5m]))`, '{{upstream}} {{outcome}}')],
        },
        { title: 'Outside call p99 by upstream and operation', unit: 's', queries: [q(p99('upstream_request_duration_seconds', 'upstream, operation'), '{{upstream}} {{operation}}')] },
      ],
    },
    {
      title: 'processes (per replica)',
      panels: [
        { title: 'Resident memory', unit: 'bytes', queries: [q(`max by (service, instance) (${m('process_resident_memory_bytes')})`, '{{service}} {{instance}}')] },
        { title: 'Heap used', unit: 'bytes', queries: [q(`max by (service, instance) (${m('nodejs_heap_size_used_bytes')})`, '{{service}} {{instance}}')] },
        {
          title: 'Event-loop lag p99',
          unit: 's',
          description: 'How late timers and I/O callbacks run: CPU-bound work or a synchronous call blocks every request of the process.',
          queries: [q(`max by (service, instance) (${m('nodejs_eventloop_lag_p99_seconds')})`, '{{service}} {{instance}}')],
        },
        { title: 'CPU (cores)', unit: 'short', queries: [q(`sum by (service, instance) (rate(${m('process_cpu_seconds_total')}[5m]))`, '{{service}} {{instance}}')] },
      ],
    },
  ],
};

const WORKLOADS: DashboardDefinition = {
  file: 'batchgate-workloads.json',
  uid: 'batchgate-workloads',
  title: 'batchgate workloads',
  columns: 3,
  sections: [
    {
      title: 'kline-sync jobs',
      panels: [
        {
          title: 'Stocks finished/s by outcome',
          unit: 'ops',
          queries: [q(`sum by (outcome) (rate(${m('jobs_items_total', 'kind="sync"')}[5m]))`, '{{outcome}}')],
        },
        {
          title: 'Stock failure rate',
          unit: 'percentunit',
          queries: [
            q(
              `sum(rate(${m('jobs_items_total', 'kind="sync", outcome="failed"')}[5m])) / sum(rate(${m('jobs_items_total', 'kind="sync", outcome=~"success|failed"')}[5m]))`,
              'failed share',
            ),
          ],
        },
        { title: 'Stock pull+store p95 by outcome', unit: 's', queries: [q(p95('jobs_item_duration_seconds', 'outcome', 'kind="sync"'), '{{outcome}}')] },
        {
          title: 'Stock runs started/s by replica',
          unit: 'ops',
          queries: [q(`sum by (instance) (rate(${m('jobs_item_runs_started_total', 'kind="sync"')}[5m]))`, '{{instance}}')],
        },
        {
          title: 'Job run time p50 / p95',
          unit: 's',
          queries: [
            q(`histogram_quantile(0.5, sum by (le) (rate(${m('jobs_job_duration_seconds_bucket', 'kind="sync"')}[1h])))`, 'p50'),
            q(`histogram_quantile(0.95, sum by (le) (rate(${m('jobs_job_duration_seconds_bucket', 'kind="sync"')}[1h])))`, 'p95'),
          ],
        },
        {
          title: 'Tokens per thread (latest plan, seed 004)',
          unit: 'short',
          type: 'bargauge',
          queries: [q(`max by (thread) (${m('kline_sync_plan_tokens_per_thread')})`, 'thread {{thread}}')],
        },
      ],
    },
    {
      title: 'role (persona tasks, seed 001; post generation, seed 002)',
      panels: [
        {
          title: 'Persona submit p50 / p99',
          unit: 's',
          description: 'Storing and queueing a task in role (the seed\'s bar: the whole request under 100 ms).',
          queries: [
            q(`histogram_quantile(0.5, sum by (le) (rate(${m('role_submit_duration_seconds_bucket')}[5m])))`, 'p50'),
            q(`histogram_quantile(0.99, sum by (le) (rate(${m('role_submit_duration_seconds_bucket')}[5m])))`, 'p99'),
          ],
        },
        {
          title: 'Persona tasks waiting / running',
          unit: 'short',
          description: 'Waiting: on the work queue, not yet taken by a replica; running: taken, not yet ended.',
          queries: [
            q(`sum(${m('jetstream_consumer_pending', 'consumer=~"jobs-role-.+-persona"')})`, 'waiting'),
            q(`sum(${m('jetstream_consumer_ack_pending', 'consumer=~"jobs-role-.+-persona"')})`, 'running'),
          ],
        },
        {
          title: 'Persona tasks ended/s by status',
          unit: 'ops',
          queries: [q(`sum by (status) (rate(${m('jobs_job_duration_seconds_count', 'kind="persona"')}[5m]))`, '{{status}}')],
        },
        {
          title: 'AI call p95 by purpose and outcome',
          unit: 's',
          description: 'One chat-completions call with its retries and outage waits.',
          queries: [q(p95('role_chat_duration_seconds', 'purpose, outcome'), '{{purpose}} {{outcome}}')],
        },
        {
          title: 'AI tokens/s by purpose',
          unit: 'short',
          queries: [q(`sum by (purpose, type) (rate(${m('role_chat_tokens_total')}[5m]))`, '{{purpose}} {{type}}')],
        },
        {
          title: 'Webhook notifications/s by outcome',
          unit: 'ops',
          description: 'delivered; skipped: a rerun found it recorded; failed: the run is tried again.',
          queries: [q(`sum by (outcome) (rate(${m('role_webhook_deliveries_total')}[5m]))`, '{{outcome}}')],
        },
        { title: 'Posts generated/s by outcome', unit: 'ops', queries: [q(`sum by (outcome) (rate(${m('role_posts_total')}[5m]))`, '{{outcome}}')] },
      ],
    },
    {
      title: 'offline (bulk de-listing, seed 000)',
      panels: [
        {
          title: 'Products/s by outcome',
          unit: 'ops',
          description: 'delisted; already_offline: de-listed before (by any batch of the tenant) or found offline at the marketplace; failed.',
          queries: [q(`sum by (outcome) (rate(${m('offline_products_total')}[5m]))`, '{{outcome}}')],
        },
        {
          title: 'Batches/s: submitted by mode, ended by status',
          unit: 'ops',
          queries: [
            q(`sum by (mode) (rate(${m('offline_batches_total')}[5m]))`, 'submitted {{mode}}'),
            q(`sum by (status) (rate(${m('jobs_job_duration_seconds_count', 'kind="delist"')}[5m]))`, 'ended {{status}}'),
          ],
        },
        {
          title: 'Product de-list p95 by outcome',
          unit: 's',
          description: 'Invoking the de-list tool and polling until the outcome, outage waits included.',
          queries: [q(p95('offline_delist_duration_seconds', 'outcome'), '{{outcome}}')],
        },
        {
          title: 'Polls per product p50 / p95',
          unit: 'short',
          queries: [
            q(`histogram_quantile(0.5, sum by (le) (rate(${m('offline_polls_per_product_bucket')}[5m])))`, 'p50'),
            q(`histogram_quantile(0.95, sum by (le) (rate(${m('offline_polls_per_product_bucket')}[5m])))`, 'p95'),
          ],
        },
        {
          title: 'Session cache look-ups/s by result',
          unit: 'ops',
          description: 'hit: the conversation and tool ids came from the cache (MySQL, shared by the replicas); miss: fetched; stale: the marketplace refused cached ids (404).',
          queries: [q(`sum by (result) (rate(${m('offline_session_cache_total')}[5m]))`, '{{result}}')],
        },
        {
          title: 'Marketplace breaker state / adaptive limit',
          unit: 'short',
          description: 'Breaker: 0 closed, 1 half-open, 2 open. Limit: products one replica de-lists at once for max_threads "auto".',
          queries: [
            q(`max by (instance) (${m('concurrency_breaker_state', 'name="marketplace-upstream"')})`, 'breaker {{instance}}'),
            q(`max by (instance) (${m('offline_adaptive_limit')})`, 'limit {{instance}}'),
          ],
        },
      ],
    },
    {
      title: 'publish (article publishing, seed 003; interactions, seed 002)',
      panels: [
        {
          title: 'Publish success rate',
          unit: 'percentunit',
          description: "Seed 003's statistics report: tasks ended success over tasks ended success or failed (per user: GET /api/publish_stats).",
          queries: [
            q(
              `sum(rate(${m('jobs_job_duration_seconds_count', 'kind="article", status="success"')}[5m])) / sum(rate(${m('jobs_job_duration_seconds_count', 'kind="article", status=~"success|failed"')}[5m]))`,
              'success rate',
            ),
          ],
        },
        {
          title: 'Publish task run time p50 / p95 / p99',
          unit: 's',
          description: 'First run started to the task ended: the publish, its verification, and any reruns.',
          queries: [0.5, 0.95, 0.99].map((quantile) =>
            q(`histogram_quantile(${quantile}, sum by (le) (rate(${m('jobs_job_duration_seconds_bucket', 'kind="article"')}[5m])))`, `p${quantile * 100}`),
          ),
        },
        {
          title: 'Articles submitted/s by outcome, tasks ended/s by status',
          unit: 'ops',
          description: 'rate_limited: over the per-user limit of accepted tasks per minute (429).',
          queries: [
            q(`sum by (outcome) (rate(${m('publish_submissions_total')}[5m]))`, 'submitted {{outcome}}'),
            q(`sum by (status) (rate(${m('jobs_job_duration_seconds_count', 'kind="article"')}[5m]))`, 'ended {{status}}'),
          ],
        },
        {
          title: 'Publish runs/s by outcome',
          unit: 'ops',
          description: 'published (page verified), refused (the platform\'s message), unverified (page never answered), error (run again).',
          queries: [q(`sum by (outcome) (rate(${m('publish_runs_total')}[5m]))`, '{{outcome}}')],
        },
        {
          title: 'Article page verification p95 by outcome',
          unit: 's',
          queries: [q(p95('publish_verify_duration_seconds', 'outcome'), '{{outcome}}')],
        },
        {
          title: 'Publish tasks waiting / running',
          unit: 'short',
          description: 'Waiting: on the work queue; running: taken by a replica (tasks waiting for a user\'s running slot are not on the queue yet).',
          queries: [
            q(`sum(${m('jetstream_consumer_pending', 'consumer=~"jobs-publish-.+-article"')})`, 'waiting'),
            q(`sum(${m('jetstream_consumer_ack_pending', 'consumer=~"jobs-publish-.+-article"')})`, 'running'),
          ],
        },
      ],
    },
    {
      title: 'market-data tokens',
      panels: [
        { title: 'Provider calls/s per token', unit: 'ops', queries: [q(`sum by (token_id) (rate(${m('kline_sync_token_calls_total')}[5m]))`, 'token {{token_id}}')] },
        {
          title: 'Daily quota used per token',
          unit: 'percentunit',
          description: 'Keyed by token id: tokens need not have a name.',
          queries: [
            q(
              `max by (provider, token_id) (${m('token_manager_token_daily_used')}) / max by (provider, token_id) (${m('token_manager_token_daily_limit')} > 0)`,
              '{{provider}} token {{token_id}}',
            ),
          ],
        },
        { title: 'Tokens by status', unit: 'short', queries: [q(`max by (provider, status) (${m('token_manager_tokens')})`, '{{provider}} {{status}}')] },
      ],
    },
    {
      title: 'events (outbox → NATS JetStream)',
      panels: [
        {
          title: 'Outbox backlog (events not yet published)',
          unit: 'short',
          queries: [q(`max by (service) (${m('outbox_pending_events')})`, '{{service}}')],
        },
        {
          title: 'Oldest unpublished event',
          unit: 's',
          description: 'Above a minute for five minutes: the BatchgateOutboxBacklog alert.',
          queries: [q(`max by (service) (${m('outbox_oldest_pending_age_seconds')})`, '{{service}}')],
        },
        {
          title: 'Events published/s and relay lag p95',
          unit: 'short',
          queries: [
            q(`sum by (service) (rate(${m('outbox_events_published_total')}[5m]))`, '{{service}} published/s'),
            q(p95('outbox_relay_lag_seconds', 'service'), '{{service}} lag p95 (s)'),
          ],
        },
      ],
    },
    {
      title: 'NATS JetStream (streams and durable consumers)',
      panels: [
        {
          title: 'Waiting per consumer (not yet delivered)',
          unit: 'short',
          queries: [q(`max by (stream, consumer) (${m('jetstream_consumer_pending')})`, '{{stream}} {{consumer}}')],
        },
        {
          title: 'In hand per consumer (delivered, not acknowledged)',
          unit: 'short',
          queries: [
            q(`max by (stream, consumer) (${m('jetstream_consumer_ack_pending')})`, '{{consumer}} ack pending'),
            q(`max by (stream, consumer) (${m('jetstream_consumer_redelivered')})`, '{{consumer}} redelivered'),
          ],
        },
        {
          title: 'Stream size',
          unit: 'bytes',
          description: 'Bounded by NATS_STREAM_MAX_BYTES; events also by NATS_EVENTS_MAX_AGE_MS.',
          queries: [q(`max by (stream) (${m('jetstream_stream_bytes')})`, '{{stream}}')],
        },
      ],
    },
    {
      title: 'MySQL (through its exporter: service "mysql")',
      panels: [
        {
          title: 'Connections in use and the server limit',
          unit: 'short',
          queries: [
            q(`max by (instance) (${m('mysql_global_status_threads_connected')})`, 'connected'),
            q(`max by (instance) (${m('mysql_global_variables_max_connections')})`, 'max_connections'),
          ],
        },
        {
          title: 'Statements/s and slow queries/s',
          unit: 'ops',
          queries: [
            q(`sum by (instance) (rate(${m('mysql_global_status_queries')}[5m]))`, 'statements'),
            q(`sum by (instance) (rate(${m('mysql_global_status_slow_queries')}[5m]))`, 'slow'),
          ],
        },
        {
          title: 'Row lock waits/s',
          unit: 'ops',
          description: 'InnoDB waits for row locks: hot rows (a token\'s quota, a job) contended by replicas.',
          queries: [q(`sum by (instance) (rate(${m('mysql_global_status_innodb_row_lock_waits')}[5m]))`, 'lock waits')],
        },
      ],
    },
    {
      title: 'concurrency engine (every service)',
      panels: [
        {
          title: 'In flight and limit by component',
          unit: 'short',
          queries: [
            q(`sum by (service, instance, name) (${m('concurrency_in_flight')})`, '{{name}} in flight ({{instance}})'),
            q(`max by (service, instance, name) (${m('concurrency_limit')})`, '{{name}} limit ({{instance}})'),
          ],
        },
        { title: 'Waiting to start by component', unit: 'short', queries: [q(`sum by (name) (${m('concurrency_queued')})`, '{{name}}')] },
        { title: 'Item p95 by component', unit: 's', queries: [q(p95('concurrency_item_duration_seconds', 'name'), '{{name}}')] },
        {
          title: 'Retries/s by error kind',
          unit: 'ops',
          queries: [
            q(`sum by (name, kind) (rate(${m('concurrency_retries_total')}[5m]))`, '{{name}} {{kind}}'),
            q(`sum by (name) (rate(${m('concurrency_retry_budget_exhausted_total')}[5m]))`, '{{name}} budget exhausted'),
          ],
        },
        {
          title: 'Circuit breakers (0 closed, 1 half-open, 2 open)',
          unit: 'short',
          queries: [q(`max by (service, instance, name) (${m('concurrency_breaker_state')})`, '{{name}} ({{instance}})')],
        },
        { title: 'Calls rejected by open breakers/s', unit: 'ops', queries: [q(`sum by (name) (rate(${m('concurrency_breaker_rejected_total')}[5m]))`, '{{name}}')] },
      ],
    },
  ],
};

/** The variables of every dashboard; "All" matches series without the label too (compose has no namespace). */
function templating(): unknown {
  const query = (name: string, expr: string) => ({
    name,
    label: name,
    type: 'query',
    datasource: { type: 'prometheus', uid: '${datasource}' },
    query: { query: expr, refId: name },
    definition: expr,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
  });
  return {
    list: [
      { name: 'datasource', label: 'datasource', type: 'datasource', query: 'prometheus', current: { text: 'Prometheus', value: 'prometheus' } },
      query('namespace', 'label_values(process_resident_memory_bytes, namespace)'),
      query('service', 'label_values(process_resident_memory_bytes{namespace=~"$namespace"}, service)'),
      query('instance', 'label_values(process_resident_memory_bytes{namespace=~"$namespace", service=~"$service"}, instance)'),
    ],
  };
}

function render(definition: DashboardDefinition): string {
  const width = 24 / definition.columns;
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const section of definition.sections) {
    panels.push({ id: id++, type: 'row', title: section.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    section.panels.forEach((panel, index) => {
      const column = index % definition.columns;
      if (column === 0 && index > 0) y += 8;
      panels.push({
        id: id++,
        type: panel.type ?? 'timeseries',
        title: panel.title,
        ...(panel.description ? { description: panel.description } : {}),
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: width, x: column * width, y },
        fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
        targets: panel.queries.map((query, n) => ({
          datasource: { type: 'prometheus', uid: '${datasource}' },
          expr: query.expr,
          legendFormat: query.legend,
          refId: String.fromCharCode(65 + n),
        })),
      });
    });
    y += 8;
  }
  const dashboard = {
    title: definition.title,
    uid: definition.uid,
    schemaVersion: 39,
    editable: false,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: templating(),
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const definition of [RED, WORKLOADS]) {
  const path = join(root, OUT_DIR, definition.file);
  const fresh = render(definition);
  if (existsSync(path) && readFileSync(path, 'utf8') === fresh) continue;
  stale.push(`${OUT_DIR}/${definition.file}`);
  if (!check) writeFileSync(path, fresh);
}
if (check && stale.length > 0) {
  console.error(`Dashboards are stale: run 'npm run gen:dashboards' and commit them.\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(stale.length === 0 ? 'Dashboards are current.' : `Wrote ${stale.join(', ')}.`);
