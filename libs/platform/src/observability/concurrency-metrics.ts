import type { CircuitState, ConcurrencyMetricsListener } from '@batchgate/concurrency';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const BREAKER_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * Adapts the concurrency engine's metrics listener to Prometheus. Series are labelled by the
 * component's `name` (a batch, a limiter, a pool: a fixed, small set per service) and, for
 * failures and retries, by error kind.
 */
export function prometheusConcurrencyListener(registry: Registry): ConcurrencyMetricsListener {
  const existing = listeners.get(registry);
  if (existing) return existing;
  const named = { labelNames: ['name'] as const, registers: [registry] };
  const inFlight = new Gauge({ name: 'concurrency_in_flight', help: 'Work running now (items, leases)', ...named });
  const queued = new Gauge({ name: 'concurrency_queued', help: 'Work waiting to start', ...named });
  const limit = new Gauge({ name: 'concurrency_limit', help: 'Current concurrency limit (fixed or adaptive)', ...named });
  const started = new Counter({ name: 'concurrency_started_total', help: 'Items started', ...named });
  const succeeded = new Counter({ name: 'concurrency_succeeded_total', help: 'Items that succeeded', ...named });
  const failed = new Counter({
    name: 'concurrency_failed_total',
    help: 'Items that failed, by error kind',
    labelNames: ['name', 'kind'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'concurrency_item_duration_seconds',
    help: 'Item duration including retries, by outcome',
    labelNames: ['name', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'concurrency_retries_total',
    help: 'Retries scheduled, by error kind',
    labelNames: ['name', 'kind'],
    registers: [registry],
  });
  const budgetExhausted = new Counter({
    name: 'concurrency_retry_budget_exhausted_total',
    help: 'Failures not retried because the retry budget was spent',
    ...named,
  });
  const breakerRejected = new Counter({
    name: 'concurrency_breaker_rejected_total',
    help: 'Calls rejected by an open circuit breaker',
    ...named,
  });
  const breakerState = new Gauge({
    name: 'concurrency_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
    ...named,
  });
  const listener: ConcurrencyMetricsListener = {
    inFlight: ({ name, value }) => inFlight.set({ name }, value),
    queued: ({ name, value }) => queued.set({ name }, value),
    limitChanged: ({ name, value }) => limit.set({ name }, value),
    started: ({ name }) => started.inc({ name }),
    succeeded: ({ name }) => succeeded.inc({ name }),
    failed: ({ name, kind }) => failed.inc({ name, kind }),
    latency: ({ name, durationMs, ok }) => duration.observe({ name, outcome: ok ? 'success' : 'failure' }, durationMs / 1000),
    retried: ({ name, kind }) => retries.inc({ name, kind }),
    retryBudgetExhausted: ({ name }) => budgetExhausted.inc({ name }),
    rejectedByBreaker: ({ name }) => breakerRejected.inc({ name }),
    breakerStateChanged: ({ name, to }) => breakerState.set({ name }, BREAKER_STATE_VALUE[to]),
    // Series that exist from the start read 0 on a dashboard instead of "no data" until the first event.
    registered: ({ name, component }) => {
      if (component === 'breaker') {
        breakerState.set({ name }, BREAKER_STATE_VALUE.closed);
        breakerRejected.inc({ name }, 0);
      } else {
        budgetExhausted.inc({ name }, 0);
      }
    },
  };
  listeners.set(registry, listener);
  return listener;
}

const listeners = new WeakMap<Registry, ConcurrencyMetricsListener>();
