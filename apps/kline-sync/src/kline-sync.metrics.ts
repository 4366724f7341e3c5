import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ConcurrencyMetricsListener } from '@batchgate/concurrency';
import { prometheusConcurrencyListener } from '@batchgate/platform/observability';

/**
 * Every metric kline-sync declares, in one place (dashboards and alert rules read these names and
 * labels: deploy/grafana via tools/gen-dashboards.ts, deploy/prometheus/rules). Providers inject
 * this class, never the registry.
 */
@Injectable()
export class KlineSyncMetrics {
  /** Seed 004's plan of the latest job: tokens per thread. */
  readonly planTokensPerThread: Gauge<'thread'>;
  /** Labelled by token id: a pool holds tens of tokens, and the seed asks for calls per token. */
  readonly tokenCalls: Counter<'token_id'>;
  readonly stocksDone: Counter<'outcome'>;
  readonly stockDuration: Histogram<'outcome'>;
  readonly jobDuration: Histogram;
  readonly queueStocks: Gauge<'state'>;
  /** The concurrency engine's series (the platform's, by component name) for the batches, pools and retries of the service. */
  readonly concurrency: ConcurrencyMetricsListener;

  constructor(@Inject(Registry) registry: Registry) {
    const registers = [registry];
    this.planTokensPerThread = new Gauge({
      name: 'kline_sync_plan_tokens_per_thread',
      help: "Tokens per thread in the latest job's plan (seed 004)",
      labelNames: ['thread'],
      registers,
    });
    this.tokenCalls = new Counter({
      name: 'kline_sync_token_calls_total',
      help: 'Provider calls made per market-data token',
      labelNames: ['token_id'],
      registers,
    });
    this.stocksDone = new Counter({
      name: 'kline_sync_stocks_total',
      help: 'Stocks finished by sync jobs, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    // Both outcomes exist from the start: the failure rate reads 0 before the first failure.
    for (const outcome of ['success', 'failure'] as const) this.stocksDone.inc({ outcome }, 0);
    this.stockDuration = new Histogram({
      name: 'kline_sync_stock_duration_seconds',
      help: 'Time to pull and store one stock, by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'kline_sync_job_duration_seconds',
      help: 'Run time of finished sync jobs (first stock started to last stock done)',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.queueStocks = new Gauge({
      name: 'kline_sync_queue_stocks',
      help: 'Stocks on the work queue: waiting for a replica, or delivered and not yet done',
      labelNames: ['state'],
      registers,
    });
    this.concurrency = prometheusConcurrencyListener(registry);
  }
}
