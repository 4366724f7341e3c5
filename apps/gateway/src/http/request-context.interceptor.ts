import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { runWithRequestContext } from '@batchgate/platform/logging';

/**
 * Runs each route handler inside the request's context, so its logs and the gRPC calls it makes
 * carry the request id, and so those calls are cancelled when the client closes its connection
 * before the answer (the services then stop the work). Done here rather than in a Fastify hook
 * because body parsing between the hook and the handler would lose the async context.
 */
export class RequestContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const response = http.getResponse<FastifyReply>().raw;
    return new Observable((subscriber) => {
      const clientGone = new AbortController();
      const onClose = () => {
        if (!response.writableFinished) clientGone.abort();
      };
      response.once('close', onClose);
      const handled = runWithRequestContext({ requestId: request.id, signal: clientGone.signal }, () => next.handle().subscribe(subscriber));
      return () => {
        response.removeListener('close', onClose);
        handled.unsubscribe();
      };
    });
  }
}
