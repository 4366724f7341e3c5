import type { FastifyInstance } from 'fastify';
import { Abandonment, runWithRequestContext } from '@batchgate/platform/context';

/**
 * Runs each route's guards, pipes and handler inside the request's context, so its logs and the
 * gRPC calls it makes carry the request id, and so those calls are cancelled when the client
 * closes its connection before the answer (the services then stop the work).
 *
 * A `preHandler` hook, the last step before the route: entered earlier, the context would be lost
 * to body parsing; `done` is called inside it, so everything the route starts inherits it. Not a
 * Nest interceptor: one puts an rxjs pipeline and two `AsyncResource.bind`s on every request.
 */
export function runRoutesInRequestContext(fastify: FastifyInstance): void {
  fastify.addHook('preHandler', (request, reply, done) => {
    const clientGone = new Abandonment();
    const response = reply.raw;
    // 'close' is emitted once per response: on(), without the wrapper once() makes.
    response.on('close', () => {
      if (!response.writableFinished) clientGone.abandon();
    });
    runWithRequestContext(
      {
        requestId: request.id,
        abandonment: clientGone,
        get signal() {
          return clientGone.signal;
        },
      },
      () => done(),
    );
  });
}
