import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { runWithRequestContext } from '@batchgate/platform/logging';

/**
 * Runs each route handler inside the request's context, so its logs and the gRPC calls it makes
 * carry the request id. Done here rather than in a Fastify hook because body parsing between the
 * hook and the handler would lose the async context.
 */
export class RequestContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return new Observable((subscriber) =>
      runWithRequestContext({ requestId: request.id }, () => next.handle().subscribe(subscriber)),
    );
  }
}
