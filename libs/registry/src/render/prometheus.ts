import { portOf, PROCESSES, type DeployableProcess } from '../processes';
import { replaceRegion } from './generated-region';

export const PROMETHEUS_FILE = 'deploy/prometheus/prometheus.yml';

/**
 * One job per process. DNS service discovery instead of a static target: the service name
 * resolves to every container of it, so `docker compose up --scale kline-sync=3` scrapes all three.
 */
function scrapeJob(process: DeployableProcess): string[] {
  return [
    `- job_name: ${process.name}`,
    `  metrics_path: ${process.metrics.path}`,
    `  dns_sd_configs: [{ names: [${process.name}], type: A, port: ${portOf(process, process.metrics.port).port} }]`,
  ];
}

/** prometheus.yml with its scrape jobs of the registry's processes regenerated. */
export function renderPrometheus(current: string): string {
  return replaceRegion(current, PROCESSES.flatMap(scrapeJob), PROMETHEUS_FILE);
}
