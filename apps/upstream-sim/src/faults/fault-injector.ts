import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { SimMetrics, RouteMetrics } from '../stats/sim-metrics';
import type { RouteCounters, SimStats } from '../stats/sim-stats';
import { RouteFaultModel, type RouteFaults } from './route-faults';
import { ANY_ROUTE, type SimRoute } from './sim-routes';

/** What a simulated route answers; the fault layer sends it (or loses it on purpose). */
export interface SimAnswer {
  status: number;
  /** An object is sent as JSON, a string as it is (set `contentType`). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** Writes the body itself after the head (server-sent events); must stop once `res` is destroyed. */
  stream?: (res: ServerResponse) => Promise<void>;
}

export type SimHandler = (request: FastifyRequest) => SimAnswer | Promise<SimAnswer>;

export interface SimRouteOptions {
  /** The provider's own error body for injected failures (each outside API has its own shape). */
  errorBody?: (status: number, message: string) => unknown;
  /** Content type of `errorBody` when it is not JSON (an HTML page). */
  errorContentType?: string;
}

const defaultErrorBody = (status: number, message: string) => ({
  error: `HTTP_${status}`,
  message,
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wraps each simulated route: counts requests, the in-flight peak and aborted requests, and
 * applies the route's fault knobs (outage windows, latency with a capacity knee, injected 5xx /
 * 429, connection reset, hang, lost response).
 *
 * A request whose client goes away during the latency is still processed, as a real server
 * would: its effect happens, and the answer goes nowhere. That is the ambiguous case
 * idempotency keys exist for.
 */
export class FaultInjector {
  private readonly models = new Map<string, RouteFaultModel>();
  /** Releases hung requests (on shutdown), so `close()` does not wait for clients to give up. */
  private readonly hanging = new Set<() => void>();

  constructor(
    private readonly stats: SimStats,
    private readonly metrics: SimMetrics,
    private readonly now: () => number,
  ) {}

  /** Replaces the knobs of the given routes (`null` removes them); other routes keep theirs. */
  configure(routes: Record<string, RouteFaults | null>): void {
    const appliedAt = this.now();
    for (const [route, faults] of Object.entries(routes)) {
      if (faults === null) this.models.delete(route);
      else this.models.set(route, new RouteFaultModel(faults, route, appliedAt));
    }
  }

  clear(): void {
    this.models.clear();
  }

  current(): Record<string, RouteFaults> {
    return Object.fromEntries([...this.models].map(([route, model]) => [route, model.faults]));
  }

  /** Ends every hung request with a reset (server shutdown). */
  releaseHangs(): void {
    for (const release of [...this.hanging]) release();
  }

  wrap(route: SimRoute, handler: SimHandler, options: SimRouteOptions = {}): RouteHandlerMethod {
    const counters = this.stats.route(route);
    const metrics = this.metrics.route(route);
    const errorBody = options.errorBody ?? defaultErrorBody;
    const contentType = options.errorContentType;
    return async (request, reply) => {
      counters.requests++;
      metrics.requests.inc();
      const inFlight = ++counters.inFlight;
      if (inFlight > counters.inFlightPeak) counters.inFlightPeak = inFlight;
      const res = reply.raw;
      const call = { closedByUs: false };
      res.once('close', () => {
        if (!res.writableFinished && !call.closedByUs) {
          counters.aborted++;
          metrics.aborted.inc();
        }
      });
      try {
        const model = this.models.get(route) ?? this.models.get(ANY_ROUTE);
        const decision = model?.decide(this.now(), inFlight);
        if (!decision || decision.action === 'serve') {
          if (decision && decision.delayMs > 0) await sleep(decision.delayMs);
          return await send(reply, await handler(request), counters, metrics);
        }
        counters.errorsInjected++;
        if (decision.action === 'outage') {
          counters.injected.outage++;
          metrics.injected('outage');
          const { window } = decision;
          if (window.kind === 'reset') return reset(reply, call);
          if (window.kind === 'hang') return await this.hang(reply, call, model?.hangMs ?? 0);
          const retryAfter = Math.max(1, Math.ceil((window.endMs - this.now()) / 1_000));
          const answer = {
            status: 503,
            body: errorBody(503, 'simulated outage'),
            contentType,
            headers: { 'retry-after': String(retryAfter) },
          };
          return await send(reply, answer, counters, metrics);
        }
        counters.injected[decision.kind]++;
        metrics.injected(decision.kind);
        if (decision.kind === 'hang') return await this.hang(reply, call, model?.hangMs ?? 0);
        if (decision.delayMs > 0) await sleep(decision.delayMs);
        switch (decision.kind) {
          case '5xx': {
            const status = model?.faults.errorStatus ?? 500;
            return await send(
              reply,
              { status, body: errorBody(status, 'simulated server error'), contentType },
              counters,
              metrics,
            );
          }
          case '429': {
            const headers = { 'retry-after': String(model?.faults.retryAfterS ?? 1) };
            return await send(
              reply,
              { status: 429, body: errorBody(429, 'simulated rate limit'), headers, contentType },
              counters,
              metrics,
            );
          }
          case 'reset':
            return reset(reply, call);
          case 'lost-response':
            await handler(request);
            return reset(reply, call);
        }
      } finally {
        counters.inFlight--;
      }
    };
  }

  private async hang(
    reply: FastifyReply,
    call: { closedByUs: boolean },
    hangMs: number,
  ): Promise<FastifyReply> {
    reply.hijack();
    const res = reply.raw;
    await new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        res.off('close', release);
        this.hanging.delete(release);
        resolve();
      };
      const timer = setTimeout(release, hangMs);
      res.once('close', release);
      this.hanging.add(release);
    });
    return reset(reply, call);
  }
}

async function send(
  reply: FastifyReply,
  answer: SimAnswer,
  counters: RouteCounters,
  metrics: RouteMetrics,
): Promise<FastifyReply> {
  const status = answer.status;
  if (status === 429) {
    counters.rateLimited++;
    metrics.rateLimited.inc();
  }
  const statusClass = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
  counters.responses[statusClass]++;
  const res = reply.raw;
  if (res.destroyed) {
    // The client left during the latency: the work is done, the answer goes nowhere.
    reply.hijack();
    return reply;
  }
  if (answer.stream) {
    reply.hijack();
    res.writeHead(status, answer.headers);
    await answer.stream(res);
    if (!res.writableEnded && !res.destroyed) res.end();
    return reply;
  }
  reply.code(status);
  if (answer.headers) reply.headers(answer.headers);
  if (answer.contentType) reply.type(answer.contentType);
  return reply.send(answer.body);
}

/** A TCP reset (ECONNRESET at the client), not a clean close. */
function reset(reply: FastifyReply, call: { closedByUs: boolean }): FastifyReply {
  call.closedByUs = true;
  if (!reply.sent) reply.hijack();
  const socket = reply.raw.socket;
  if (socket && !socket.destroyed) {
    try {
      socket.resetAndDestroy();
    } catch {
      socket.destroy();
    }
  }
  return reply;
}
