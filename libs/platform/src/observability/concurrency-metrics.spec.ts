import { Registry } from 'prom-client';
import { CircuitBreaker, retry } from '@batchgate/concurrency';
import { prometheusConcurrencyListener } from './concurrency-metrics';

describe('prometheusConcurrencyListener', () => {
  it('turns engine events into labelled Prometheus series, once per registry', async () => {
    const registry = new Registry();
    const listener = prometheusConcurrencyListener(registry);
    expect(prometheusConcurrencyListener(registry)).toBe(listener);
    listener.inFlight?.({ name: 'pull', value: 3 });
    listener.limitChanged?.({ name: 'pull', value: 12 });
    listener.started?.({ name: 'pull' });
    listener.failed?.({ name: 'pull', attempts: 2, kind: 'timeout' });
    listener.latency?.({ name: 'pull', durationMs: 250, ok: false });
    listener.retried?.({ name: 'pull', attempt: 2, delayMs: 10, kind: 'transient' });
    listener.breakerStateChanged?.({ name: 'itick', from: 'closed', to: 'open' });
    const text = await registry.metrics();
    expect(text).toContain('concurrency_in_flight{name="pull"} 3');
    expect(text).toContain('concurrency_limit{name="pull"} 12');
    expect(text).toContain('concurrency_failed_total{name="pull",kind="timeout"} 1');
    expect(text).toContain('concurrency_retries_total{name="pull",kind="transient"} 1');
    expect(text).toContain('concurrency_breaker_state{name="itick"} 2');
    expect(text).toMatch(/concurrency_item_duration_seconds_bucket\{le="0.25",name="pull",outcome="failure"\} 1/);
  });

  it('starts the series of a breaker and a retry policy at zero when they are created', async () => {
    const registry = new Registry();
    const metrics = prometheusConcurrencyListener(registry);
    new CircuitBreaker({ name: 'quiet-upstream', metrics });
    retry({ name: 'quiet-calls', metrics });
    const text = await registry.metrics();
    expect(text).toContain('concurrency_breaker_state{name="quiet-upstream"} 0');
    expect(text).toContain('concurrency_breaker_rejected_total{name="quiet-upstream"} 0');
    expect(text).toContain('concurrency_retry_budget_exhausted_total{name="quiet-calls"} 0');
  });
});
