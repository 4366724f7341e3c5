import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric offline declares, in one place (dashboards read these names and labels). The job
 * kit adds jobs_items_total / jobs_job_duration_seconds{kind="delist"}, the outside-API adapter
 * upstream_requests_total{upstream="marketplace"} and concurrency_breaker_state{name="marketplace-upstream"}.
 */
@Injectable()
export class OfflineMetrics {
  readonly batches: Counter<'mode'>;
  readonly products: Counter<'outcome'>;
  readonly delistDuration: Histogram<'outcome'>;
  readonly pollsPerProduct: Histogram;
  readonly sessionCache: Counter<'result'>;
  readonly adaptiveLimit: Gauge;

  constructor(@Inject(Registry) registry: Registry) {
    const registers = [registry];
    // Batches by how they ended: the job kit's jobs_job_duration_seconds_count{kind="delist", status}.
    this.batches = new Counter({
      name: 'offline_batches_total',
      help: 'Batches submitted, by mode (sync: answered when done; async: answered at once)',
      labelNames: ['mode'],
      registers,
    });
    for (const mode of ['sync', 'async']) this.batches.inc({ mode }, 0);
    this.products = new Counter({
      name: 'offline_products_total',
      help: 'Products handled by this replica, by outcome (delisted, already_offline, failed)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['delisted', 'already_offline', 'failed']) this.products.inc({ outcome }, 0);
    this.delistDuration = new Histogram({
      name: 'offline_delist_duration_seconds',
      help: 'Time to de-list one product (invoke the tool, poll until the outcome), by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.pollsPerProduct = new Histogram({
      name: 'offline_polls_per_product',
      help: 'Polls until the marketplace reported a de-list outcome',
      buckets: [1, 2, 3, 5, 8, 13, 21, 34, 55],
      registers,
    });
    this.sessionCache = new Counter({
      name: 'offline_session_cache_total',
      help: 'Session (conversation and tool id) look-ups, by result (hit, miss, stale)',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['hit', 'miss', 'stale']) this.sessionCache.inc({ result }, 0);
    this.adaptiveLimit = new Gauge({
      name: 'offline_adaptive_limit',
      help: 'Products the adaptive limit (max_threads "auto") lets one replica de-list at once',
      registers,
    });
  }
}
