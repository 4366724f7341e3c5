import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ConcurrencyMetricsListener } from '@batchgate/concurrency';
import { prometheusConcurrencyListener } from '@batchgate/platform/observability';

/**
 * Every metric kline-sync declares, in one place (dashboards and alert rules read these names and
 * labels: deploy/grafana via tools/gen-dashboards.ts, deploy/prometheus/rules). Providers inject
 * this class, never the registry. Jobs and stocks are counted and timed by the job kit's worker
 * (`jobs_items_total`, `jobs_item_duration_seconds`, `jobs_job_duration_seconds`, `kind="sync"`).
 */
@Injectable()
export class KlineSyncMetrics {
  /** Seed 004's plan of the latest job: tokens per thread. */
  readonly planTokensPerThread: Gauge<'thread'>;
  /** Labelled by token id: a pool holds tens of tokens, and the seed asks for calls per token. */
  readonly tokenCalls: Counter<'token_id'>;
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
    this.concurrency = prometheusConcurrencyListener(registry);
  }
}
