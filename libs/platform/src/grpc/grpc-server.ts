import { Metadata, status as GrpcStatus, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  Catch,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type RpcExceptionFilter,
} from '@nestjs/common';
import { Transport, type GrpcOptions } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Observable, throwError } from 'rxjs';
import { SERVICE_PROTOS, type ServiceProtoName } from '@batchgate/contracts';
import { DomainError, grpcStatusName } from '../errors';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestContext } from '../context';
import { AccessLog } from '../logging';
import { overloadedError, type InFlightLimit } from '../overload';
import { toGrpcError } from './grpc-errors';
import { grpcRedMetrics, type GrpcRedMetrics } from './grpc-metrics';
import { protoLoaderOptions, protoPathOf } from './proto-loader-options';

export interface GrpcServerSettings {
  proto: ServiceProtoName;
  /** host:port to bind. Port 0 cannot be used: Nest discards the bound port. */
  url: string;
  health: HealthImplementation;
  /**
   * A client connection is asked to go away (GOAWAY; calls in flight finish) after this long, so
   * callers that balance per call re-resolve the service's name and reach replicas added since.
   */
  maxConnectionAgeMs: number;
}

/**
 * Nest gRPC transport options shared by every service: the contract's package, our loader options,
 * graceful shutdown (Nest force-closes in-flight calls by default) and the standard
 * grpc.health.v1 service on the same port.
 */
export function grpcServerOptions(settings: GrpcServerSettings): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      url: settings.url,
      package: SERVICE_PROTOS[settings.proto].package,
      protoPath: protoPathOf(settings.proto),
      loader: protoLoaderOptions(),
      gracefulShutdown: true,
      channelOptions: { 'grpc.max_connection_age_ms': settings.maxConnectionAgeMs },
      onLoadPackageDefinition: (_pkg: unknown, server: Parameters<HealthImplementation['addToServer']>[0]) =>
        settings.health.addToServer(server),
    },
  };
}

/** The health service of a gRPC app: SERVING once started, NOT_SERVING while shutting down. */
export function createGrpcHealth(serviceName: string): HealthImplementation {
  return new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
}

export function setGrpcHealth(health: HealthImplementation, serviceName: string, serving: boolean): void {
  const status = serving ? 'SERVING' : 'NOT_SERVING';
  health.setStatus('', status);
  health.setStatus(serviceName, status);
}

/** The longest delay `setTimeout` takes (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Codes that say the server, not the caller, failed: their access line is a warning. */
const SERVER_FAILURES: ReadonlySet<number> = new Set([
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
  GrpcStatus.UNIMPLEMENTED,
]);

/**
 * Per gRPC call: binds the caller's request id and deadline to the async context (so logs carry
 * the id and outgoing calls inherit the deadline), refuses a call whose deadline has already
 * passed, refuses one beyond the process' limit of calls in flight (UNAVAILABLE, retry in 1 s:
 * shed, not queued), records RED metrics and the access line (see {@link AccessLog}: debug unless
 * slow or failed). Then it runs `inner` (the peer check, {@link GrpcPeerAuthentication}) in that
 * context, so what `inner` refuses is counted and logged like any other outcome. `inner` is called
 * directly rather than registered as a second Nest interceptor: that would add a layer of
 * observables and an async resource to every call.
 */
export class GrpcServerInterceptor implements NestInterceptor {
  private readonly metrics: GrpcRedMetrics;
  private readonly accessLog: AccessLog;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
    slowMs: number,
    private readonly inFlight: InFlightLimit,
    private readonly inner: NestInterceptor,
  ) {
    this.metrics = grpcRedMetrics(registry, 'server');
    this.accessLog = new AccessLog(logger, slowMs);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metadata = context.getArgByIndex<Metadata | undefined>(1);
    const call = context.getArgByIndex<ServerUnaryCall<unknown, unknown> | undefined>(2);
    const method = call?.getPath?.() ?? `${context.getClass().name}/${context.getHandler().name}`;
    const requestId = requestIdFrom(metadata?.get(REQUEST_ID_HEADER)[0]);
    const rawDeadline = call?.getDeadline?.();
    const deadline = rawDeadline === undefined ? Infinity : Number(rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline);
    const abandoned = new AbortController();
    const requestContext = { requestId, deadline: Number.isFinite(deadline) ? deadline : undefined, signal: abandoned.signal };

    return new Observable((subscriber) =>
      runWithRequestContext(requestContext, () => {
        this.metrics.started.inc({ method });
        const startedAt = performance.now();
        // A shed call is not a failure worth a line each: overload is when lines cost the most.
        const finish = (code: number, serverFailed = SERVER_FAILURES.has(code)) => {
          const labels = { method, code: grpcStatusName(code) };
          const seconds = (performance.now() - startedAt) / 1000;
          this.metrics.handled.inc(labels);
          this.metrics.duration.observe(labels, seconds);
          this.accessLog.finished('rpc', labels, Math.round(seconds * 1000), serverFailed);
        };
        if (deadline <= Date.now()) {
          finish(GrpcStatus.DEADLINE_EXCEEDED);
          subscriber.error(new DomainError('deadline_exceeded', 'DEADLINE.EXCEEDED', 'The caller deadline has passed'));
          return undefined;
        }
        if (!this.inFlight.tryAcquire()) {
          finish(GrpcStatus.UNAVAILABLE, false);
          subscriber.error(overloadedError(this.inFlight));
          return undefined;
        }
        // The caller stops waiting at its deadline or when it cancels: so does the handler's work.
        // (A deadline beyond the timer range, ~24.8 days, is as good as none.)
        const deadlineTimer = deadline - Date.now() <= MAX_TIMER_MS
          ? setTimeout(
              () => abandoned.abort(new DomainError('deadline_exceeded', 'DEADLINE.EXCEEDED', 'The caller deadline has passed')),
              deadline - Date.now(),
            ).unref()
          : undefined;
        const onCancelled = () => abandoned.abort(new DomainError('cancelled', 'CALL.CANCELLED', 'The caller cancelled the call'));
        call?.on?.('cancelled', onCancelled);
        const handled = (this.inner.intercept(context, next) as Observable<unknown>).subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            const code = toGrpcError(error).code;
            finish(code);
            if (code === GrpcStatus.INTERNAL) this.logger.error({ err: error, method }, 'gRPC handler failed');
            else if (code === GrpcStatus.UNAVAILABLE) this.logger.warn({ err: error, method }, 'gRPC handler could not reach a dependency');
            subscriber.error(error);
          },
          complete: () => {
            finish(GrpcStatus.OK);
            subscriber.complete();
          },
        });
        return () => {
          this.inFlight.release();
          clearTimeout(deadlineTimer);
          call?.removeListener?.('cancelled', onCancelled);
          handled.unsubscribe();
        };
      }),
    );
  }
}

/** Maps every exception a gRPC handler throws to a gRPC status (see `toGrpcError`). */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => toGrpcError(exception));
  }
}
