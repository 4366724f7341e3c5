import autocannon, { type Request } from 'autocannon';
import { Pool } from 'undici';

export interface HttpRequestSpec {
  /** Path and query, e.g. `/api/tokens?page=1`. */
  path: string;
  /** Closed loop: each request takes the next of these paths (over all connections), instead of `path`. */
  paths?: readonly string[];
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

/** An open loop's requests: one spec for all, or a spec per request (e.g. each a new task). */
export type OpenLoopRequests = HttpRequestSpec | ((index: number) => HttpRequestSpec);

export interface LoadResult {
  /** Answers received in the measured window. */
  answered: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers by HTTP status, plus `error` for requests that got none (connection errors, timeouts). */
  statuses: Record<string, number>;
}

/** What one closed-loop window leaves to be pooled with others: autocannon's own result, its latency histogram still encoded. */
export type ClosedLoopWindow = autocannon.Result;

/** `connections` clients, each sending its next request when the previous one is answered (autocannon). */
export async function closedLoopWindow(origin: string, spec: HttpRequestSpec, connections: number, durationS: number): Promise<ClosedLoopWindow> {
  const { paths } = spec;
  let sent = 0;
  // One counter for all connections: autocannon's own list of requests restarts on each
  // connection, so connections started together would ask for the same path at the same time.
  const rotating: Request[] | undefined = paths && [{ setupRequest: (request) => ({ ...request, path: paths[sent++ % paths.length] ?? spec.path }) }];
  return autocannon({
    url: `${origin}${spec.path}`,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    connections,
    duration: durationS,
    // Keeps the window's latency histogram encoded, so that pooled() can add windows together.
    skipAggregateResult: true,
    ...(rotating ? { requests: rotating } : {}),
  });
}

// autocannon exports the function it aggregates its workers' results with; @types/autocannon 7 does not declare it.
const { aggregateResult } = autocannon as unknown as { aggregateResult: (results: ClosedLoopWindow[], options: { url: string }) => autocannon.Result };

/** Closed-loop windows of one route (at `origin`) taken as one: answers and statuses summed, percentiles of all their latencies together. */
export function pooled(origin: string, windows: ClosedLoopWindow[], durationS: number): LoadResult {
  const result = aggregateResult(windows, { url: origin });
  const statuses: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) statuses[status] = count ?? 0;
  // autocannon counts a timeout as an error too (`errors` includes `timeouts`).
  if (result.errors > 0) statuses['error'] = result.errors;
  const answered = Object.values(statuses).reduce((sum, n) => sum + n, 0) - (statuses['error'] ?? 0);
  return { answered, perSecond: answered / durationS, p50Ms: result.latency.p50, p99Ms: result.latency.p99, statuses };
}

export async function closedLoop(origin: string, spec: HttpRequestSpec, connections: number, durationS: number): Promise<LoadResult> {
  return pooled(origin, [await closedLoopWindow(origin, spec, connections, durationS)], durationS);
}

/**
 * Open loop: requests start at a fixed rate whether or not earlier ones were answered, and each
 * latency counts from the moment its request was due, so a server that falls behind shows it
 * (a closed loop, or autocannon's `overallRate`, would slow down with it and hide the queue).
 * Hand-written because autocannon has no open-loop mode; undici keeps up to `maxConnections`
 * keep-alive connections so the client itself never queues at these rates.
 */
export async function openLoop(origin: string, requests: OpenLoopRequests, ratePerSecond: number, durationS: number, maxConnections = 512): Promise<LoadResult> {
  const specOf = typeof requests === 'function' ? requests : () => requests;
  const pool = new Pool(origin, { connections: maxConnections, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const total = Math.round(ratePerSecond * durationS);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const pending: Array<Promise<void>> = [];
  const startedAt = performance.now();
  const send = async (index: number, dueAt: number): Promise<void> => {
    const spec = specOf(index);
    try {
      const response = await pool.request({ path: spec.path, method: spec.method ?? 'GET', headers: spec.headers, body: spec.body });
      await response.body.text();
      latencies.push(performance.now() - dueAt);
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    } catch {
      statuses['error'] = (statuses['error'] ?? 0) + 1;
    }
  };
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - startedAt) * ratePerSecond) / 1000) + 1);
    for (; sent < due; sent++) pending.push(send(sent, startedAt + (sent * 1000) / ratePerSecond));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  const elapsedS = (performance.now() - startedAt) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { answered: latencies.length, perSecond: latencies.length / elapsedS, p50Ms: at(0.5), p99Ms: at(0.99), statuses };
}
