import type { ServerResponse } from 'node:http';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { Abandonment, type RequestContext } from '@batchgate/platform/context';

/**
 * The context a route's gRPC calls carry (`WithRequestContext` clients take it as their second
 * argument): the request id, for the services' logs, and the cancel when the client closes its
 * connection before the answer (the services then stop the work).
 *
 * Carried explicitly, not in AsyncLocalStorage: on Node 20 a storage, once entered, hooks every
 * promise and async resource of the process, and the gateway makes many per request (Fastify,
 * Nest's guards and pipes, http2). The gateway without it spent 0.06 ms less CPU per read by id
 * of ~0.45 (bench/gateway/README.md, section 28). Made when a route asks for it, not per request.
 */
export const CurrentRequestContext = createParamDecorator((_data: unknown, context: ExecutionContext): RequestContext => {
  const http = context.switchToHttp();
  return requestContextOf(http.getRequest<{ id: string }>().id, http.getResponse<{ raw: ServerResponse }>().raw);
});

/** The context of the request `requestId` whose response is `response`. */
export function requestContextOf(requestId: string, response: ServerResponse): RequestContext {
  const clientGone = new Abandonment();
  // 'close' is emitted once per response: on(), without the wrapper once() makes.
  response.on('close', () => {
    if (!response.writableFinished) clientGone.abandon();
  });
  // Closed before the route ran (its 'close' has passed): the caller is gone already.
  if (response.destroyed && !response.writableFinished) clientGone.abandon();
  return {
    requestId,
    abandonment: clientGone,
    get signal() {
      return clientGone.signal;
    },
  };
}
