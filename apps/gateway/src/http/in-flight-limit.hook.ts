import type { FastifyInstance, FastifyReply } from 'fastify';
import { overloadedError, type InFlightLimit } from '@batchgate/platform/overload';
import { errorResponseFor } from './error-response';

/** Never shed: probes and scrapes must answer while the gateway is at its busiest. */
const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Bounds the requests the gateway works on at once (HTTP_MAX_IN_FLIGHT): one more is answered
 * 503 + Retry-After at once, before its body is read, instead of queueing behind the others.
 * The slot is freed when the response closes (sent, or the client went away).
 */
export function shedBeyondInFlightLimit(fastify: FastifyInstance, limit: InFlightLimit): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (OPS_ROUTES.has(request.routeOptions.url ?? '')) return done();
    if (!limit.tryAcquire()) {
      const response = errorResponseFor(overloadedError(limit), request.id);
      void reply.status(response.status).headers(response.headers).send(response.body);
      return;
    }
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      limit.release();
    };
    slotReleases.set(reply, release);
    reply.raw.on('close', release);
    done();
  });
}

const slotReleases = new WeakMap<FastifyReply, () => void>();

/**
 * Frees the request's slot before its response ends: an event stream, once open, is bounded by
 * HTTP_MAX_STREAMS instead (it would hold a slot for minutes).
 */
export function releaseInFlightSlot(reply: FastifyReply): void {
  slotReleases.get(reply)?.();
}
