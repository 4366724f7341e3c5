import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { SimStats } from '../stats/sim-stats';
import { RouteFaultModel, type RouteFaults } from './route-faults';

/**
 * Wraps each simulated route: counts requests, in-flight peak and aborted requests, and applies the
 * route's fault knobs (outage, latency with a capacity knee, injected 5xx, connection reset, hang).
 */
export class FaultInjector {
  private readonly models = new Map<string, RouteFaultModel>();

  constructor(
    private readonly stats: SimStats,
    private defaults: Record<string, RouteFaults>,
  ) {
    this.configure(defaults);
  }

  /** Replaces the knobs of the given routes (others keep theirs). */
  configure(routes: Record<string, RouteFaults>): void {
    for (const [route, faults] of Object.entries(routes)) this.models.set(route, new RouteFaultModel(faults));
  }

  /** Back to the start-up knobs. */
  reset(): void {
    this.models.clear();
    this.configure(this.defaults);
  }

  current(): Record<string, RouteFaults> {
    return Object.fromEntries([...this.models].map(([route, model]) => [route, model.faults]));
  }

  setDefaults(defaults: Record<string, RouteFaults>): void {
    this.defaults = defaults;
  }

  wrap(route: string, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): RouteHandlerMethod {
    return async (request, reply) => {
      const stats = this.stats.route(route);
      stats.requests++;
      stats.inFlight++;
      if (stats.inFlight > stats.inFlightPeak) stats.inFlightPeak = stats.inFlight;
      let closedEarly = false;
      const onClose = () => {
        if (!reply.raw.writableFinished) closedEarly = true;
      };
      reply.raw.once('close', onClose);
      try {
        const decision = this.models.get(route)?.decide(Date.now(), stats.inFlight) ?? { action: 'serve', delayMs: 0 };
        switch (decision.action) {
          case 'outage':
            stats.errorsInjected++;
            return await reply.code(503).header('retry-after', '1').send({ error: 'simulated outage' });
          case 'reset':
            stats.errorsInjected++;
            request.raw.socket.destroy();
            return reply;
          case 'hang':
            stats.errorsInjected++;
            await new Promise<void>((resolve) => reply.raw.once('close', resolve));
            return reply;
          case 'error':
            stats.errorsInjected++;
            await sleepUnlessClosed(decision.delayMs, reply);
            return await reply.code(500).send({ error: 'simulated server error' });
          case 'serve':
            await sleepUnlessClosed(decision.delayMs, reply);
            if (closedEarly) return reply;
            return await handler(request, reply);
        }
      } finally {
        stats.inFlight--;
        // 'close' may come after the handler returned (the client went away mid-answer).
        setImmediate(() => {
          if (closedEarly) stats.aborted++;
          reply.raw.off('close', onClose);
        });
      }
    };
  }
}

function sleepUnlessClosed(ms: number, reply: FastifyReply): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      reply.raw.off('close', done);
      resolve();
    }
    reply.raw.once('close', done);
  });
}
