import { waitFor } from './wait-for';

/**
 * Reads one sample from a process's `/metrics` (Prometheus text format): the value of the series
 * named `name` whose labels include every pair of `labels`, or undefined when there is none yet.
 */
export async function readMetric(metricsUrl: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelEnd = line.lastIndexOf('}');
    const labelText = labelEnd === -1 ? '' : line.slice(name.length + 1, labelEnd);
    if (wanted.every((pair) => labelText.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * Waits until a batch of the engine (its `name` label) has started work and none of it runs any
 * more, and returns how many items it started. Once that holds, a cancelled batch can start no
 * further items; an uncancelled one would already have started its next ones.
 */
export async function waitForBatchStopped(metricsUrl: string, name: string, timeoutMs = 10_000): Promise<number> {
  return waitFor(
    async () => {
      const started = await readMetric(metricsUrl, 'concurrency_started_total', { name });
      const running = await readMetric(metricsUrl, 'concurrency_in_flight', { name });
      return started !== undefined && started > 0 && running === 0 ? started : undefined;
    },
    { timeoutMs, what: `batch "${name}" to stop` },
  );
}
