import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per app instance (never prom-client's global one: two apps in one jest process
 * would register the same metric twice). Default process metrics are included and every series
 * carries the `service` label.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
