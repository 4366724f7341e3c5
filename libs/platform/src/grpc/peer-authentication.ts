import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Logger } from 'pino';
import { from, mergeMap, Observable, tap } from 'rxjs';
import { SERVICE_CREDENTIAL_HEADER, type ServiceCredentials } from './service-credentials';

/**
 * Accepts a gRPC call only from a peer holding the deployment's service credential (SPEC §2.7);
 * any other gets UNAUTHENTICATED and a warning line. Runs inside {@link GrpcServerInterceptor}
 * (it is the interceptor's `inner`), so a refused call is in the RED metrics and carries its
 * request id. A credential verified before costs a map lookup and no promise: that is every call
 * but a peer's first in each credential lifetime.
 */
export class GrpcPeerAuthentication implements NestInterceptor {
  constructor(
    private readonly credentials: ServiceCredentials,
    private readonly logger: Logger,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const header = context.getArgByIndex<Metadata | undefined>(1)?.get(SERVICE_CREDENTIAL_HEADER)[0];
    if (this.credentials.knownCaller(header) !== undefined) return next.handle();
    return from(this.credentials.verify(header)).pipe(
      tap({
        error: (error: unknown) => {
          const method = context.getArgByIndex<ServerUnaryCall<unknown, unknown> | undefined>(2)?.getPath?.();
          this.logger.warn({ method, reason: (error as Error).message }, 'gRPC call refused: no valid service credential');
        },
      }),
      mergeMap(() => next.handle()),
    );
  }
}
