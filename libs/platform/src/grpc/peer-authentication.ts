import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { SERVICE_CREDENTIAL_HEADER, type ServiceCredentials } from './service-credentials';

/**
 * Accepts a gRPC call only from a peer holding the deployment's service credential (SPEC §2.7);
 * any other gets UNAUTHENTICATED and a warning line. {@link GrpcServerInterceptor} asks it for
 * every call, so a refused call is in the RED metrics and carries its request id. A credential
 * verified before costs a map lookup and no promise: that is every call but a peer's first in
 * each credential lifetime.
 */
export class GrpcPeerAuthentication {
  constructor(
    private readonly credentials: ServiceCredentials,
    private readonly logger: Logger,
  ) {}

  /** undefined: the caller is known, the call may run now; otherwise a promise that settles when its credential is checked. */
  check(metadata: Metadata | undefined, method: string): Promise<void> | undefined {
    const header = metadata?.get(SERVICE_CREDENTIAL_HEADER)[0];
    if (this.credentials.knownCaller(header) !== undefined) return undefined;
    return this.credentials.verify(header).then(
      () => undefined,
      (error: unknown) => {
        this.logger.warn({ method, reason: (error as Error).message }, 'gRPC call refused: no valid service credential');
        throw error;
      },
    );
  }
}
