import { Metadata, status as GrpcStatus, type handleUnaryCall, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  Catch,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type RpcExceptionFilter,
} from '@nestjs/common';
import { GrpcMethodStreamingType, ServerGrpc, Transport, type GrpcOptions } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { isObservable, lastValueFrom, Observable, Subscription, throwError } from 'rxjs';
import { SERVICE_PROTOS, type ServiceProtoName } from '@batchgate/contracts';
import { DomainError, grpcStatusName } from '../errors';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestContext, type RequestContext } from '../context';
import { AccessLog } from '../logging';
import { overloadedError, type InFlightLimit } from '../overload';
import { toGrpcError } from './grpc-errors';
import { grpcRedMetrics, type GrpcRedMetrics } from './grpc-metrics';
import type { GrpcPeerAuthentication } from './peer-authentication';
import { packageDefinitionOf } from './proto-loader-options';

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
      packageDefinition: packageDefinitionOf(settings.proto),
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

/** One admitted call: what records its outcome, and what frees what it holds. */
interface AdmittedCall {
  /** Counts and logs the outcome (RED metrics, access line; an INTERNAL/UNAVAILABLE error also as such). */
  record: (code: number, error?: unknown) => void;
  /** Frees the in-flight slot, the deadline timer and the cancel listener (once). */
  release: () => void;
}

/**
 * Per gRPC call: binds the caller's request id and deadline to the async context (so logs carry
 * the id and outgoing calls inherit the deadline), refuses a call whose deadline has already
 * passed, refuses one beyond the process' limit of calls in flight (UNAVAILABLE, retry in 1 s:
 * shed, not queued), checks the peer's service credential ({@link GrpcPeerAuthentication}),
 * records RED metrics and the access line (see {@link AccessLog}: debug unless slow or failed).
 * What the peer check refuses is counted and logged like any other outcome.
 *
 * Two ways in, the same rules: {@link serveUnary} wraps a unary controller method as a plain
 * grpc-js handler ({@link PlatformGrpcServer} serves every unary RPC so), and `intercept` is the
 * Nest interceptor of the streaming RPCs Nest's transport still serves.
 */
export class GrpcServerInterceptor implements NestInterceptor {
  private readonly metrics: GrpcRedMetrics;
  private readonly accessLog: AccessLog;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
    slowMs: number,
    private readonly inFlight: InFlightLimit,
    private readonly peers: GrpcPeerAuthentication,
  ) {
    this.metrics = grpcRedMetrics(registry, 'server');
    this.accessLog = new AccessLog(logger, slowMs);
  }

  /**
   * A unary controller method as a grpc-js handler: no Nest execution context, interceptor
   * chain, rxjs or exception filter per call (with Nest's transport they were a fifth of a
   * service's CPU on a read by id). Errors map as {@link GrpcExceptionFilter} maps them.
   */
  serveUnary(handler: UnaryMethod): handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const method = call.getPath();
      const context = this.contextOf(call.metadata, call);
      runWithRequestContext(context, () => {
        const admitted = this.admit(method, context);
        if (!admitted.ok) return callback(toGrpcError(admitted.error));
        const { record, release } = admitted.call;
        const run = () => {
          const result = handler(call.request, call.metadata, call);
          return isObservable(result) ? lastValueFrom(result) : result;
        };
        const checked = this.peers.check(call.metadata, method);
        // A known peer's call runs in this tick, and the handler's promise is awaited as it is:
        // each promise more per call also costs AsyncLocalStorage's hooks.
        let answer: unknown;
        try {
          answer = checked ? checked.then(run) : run();
        } catch (error) {
          answer = Promise.reject(error);
        }
        Promise.resolve(answer).then(
          (value) => {
            release();
            record(GrpcStatus.OK);
            callback(null, value);
          },
          (error: unknown) => {
            const grpcError = toGrpcError(error);
            release();
            record(grpcError.code, error);
            callback(grpcError);
          },
        );
      });
    };
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metadata = context.getArgByIndex<Metadata | undefined>(1);
    const call = context.getArgByIndex<ServerUnaryCall<unknown, unknown> | undefined>(2);
    const method = call?.getPath?.() ?? `${context.getClass().name}/${context.getHandler().name}`;
    const requestContext = this.contextOf(metadata, call);

    return new Observable((subscriber) =>
      runWithRequestContext(requestContext, () => {
        const admitted = this.admit(method, requestContext);
        if (!admitted.ok) {
          subscriber.error(admitted.error);
          return undefined;
        }
        const { record, release } = admitted.call;
        const fail = (error: unknown) => {
          record(toGrpcError(error).code, error);
          subscriber.error(error);
        };
        const handling = new Subscription();
        const run = () =>
          handling.add(
            next.handle().subscribe({
              next: (value) => subscriber.next(value),
              error: fail,
              complete: () => {
                record(GrpcStatus.OK);
                subscriber.complete();
              },
            }),
          );
        const checked = this.peers.check(metadata, method);
        if (checked) checked.then(() => handling.closed || run(), fail);
        else run();
        return () => {
          release();
          handling.unsubscribe();
        };
      }),
    );
  }

  private contextOf(metadata: Metadata | undefined, call: ServerUnaryCall<unknown, unknown> | undefined): CallContext {
    const requestId = requestIdFrom(metadata?.get(REQUEST_ID_HEADER)[0]);
    const rawDeadline = call?.getDeadline?.();
    const deadline = rawDeadline === undefined ? Infinity : Number(rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline);
    return new CallContext(requestId, Number.isFinite(deadline) ? deadline : undefined, call);
  }

  /**
   * Counts the call as started and admits it, or refuses it (deadline passed, too many in
   * flight: counted and logged here). An admitted call's context gets the signal that aborts at
   * the caller's deadline or cancel. Runs inside the call's request context.
   */
  private admit(
    method: string,
    context: CallContext,
  ): { ok: true; call: AdmittedCall } | { ok: false; error: unknown } {
    this.metrics.started.inc({ method });
    const startedAt = performance.now();
    // A shed call is not a failure worth a line each: overload is when lines cost the most.
    const finished = (code: number, serverFailed = SERVER_FAILURES.has(code)) => {
      const labels = { method, code: grpcStatusName(code) };
      const seconds = (performance.now() - startedAt) / 1000;
      this.metrics.handled.inc(labels);
      this.metrics.duration.observe(labels, seconds);
      this.accessLog.finished('rpc', labels, Math.round(seconds * 1000), serverFailed);
    };
    const deadline = context.deadline ?? Infinity;
    if (deadline <= Date.now()) {
      finished(GrpcStatus.DEADLINE_EXCEEDED);
      return { ok: false, error: deadlineExceeded() };
    }
    if (!this.inFlight.tryAcquire()) {
      finished(GrpcStatus.UNAVAILABLE, false);
      return { ok: false, error: overloadedError(this.inFlight) };
    }
    // The caller stops waiting at its deadline or when it cancels: so does the handler's work.
    context.watch();
    let held = true;
    return {
      ok: true,
      call: {
        record: (code, error) => {
          finished(code);
          if (code === GrpcStatus.INTERNAL) this.logger.error({ err: error, method }, 'gRPC handler failed');
          else if (code === GrpcStatus.UNAVAILABLE) this.logger.warn({ err: error, method }, 'gRPC handler could not reach a dependency');
        },
        release: () => {
          if (!held) return;
          held = false;
          this.inFlight.release();
          context.end();
        },
      },
    };
  }
}

const deadlineExceeded = () => new DomainError('deadline_exceeded', 'DEADLINE.EXCEEDED', 'The caller deadline has passed');
const callCancelled = () => new DomainError('cancelled', 'CALL.CANCELLED', 'The caller cancelled the call');
/** Why a caller stopped waiting for a call. */
type AbandonReason = 'cancelled' | 'deadline';
const ABANDON_ERRORS: Record<AbandonReason, () => DomainError> = { cancelled: callCancelled, deadline: deadlineExceeded };

/**
 * The request context of one call. Its signal (see {@link RequestContext.signal}) is made when
 * something first reads it, once the call is admitted: most calls (a read by id, a page) never
 * read it, and an AbortController, a deadline timer and a 'cancelled' listener made for every
 * call were ~3 % of a service's CPU on a read. It aborts as one made at admission would have: at
 * the caller's deadline or when the caller cancels (also when that happened before it was read),
 * and never for what happens after the call ended.
 */
class CallContext implements RequestContext {
  private watched = false;
  private ended = false;
  /** What had abandoned the call by its end, when its signal had not been read by then. */
  private abandonedAtEnd: AbandonReason | undefined;
  private controller: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private onCancelled: (() => void) | undefined;

  constructor(
    public requestId: string,
    public deadline: number | undefined,
    private readonly call: (ServerUnaryCall<unknown, unknown> & { cancelled?: boolean }) | undefined,
  ) {}

  get signal(): AbortSignal | undefined {
    if (!this.watched) return undefined;
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    const abandoned = this.ended ? this.abandonedAtEnd : this.abandonedNow();
    if (abandoned) controller.abort(ABANDON_ERRORS[abandoned]());
    else if (!this.ended) this.arm(controller);
    return controller.signal;
  }

  /** The call is admitted: from now on the context has a signal. */
  watch(): void {
    this.watched = true;
  }

  /** The call ended: its timer and listener go, and a signal read later keeps how it ended. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.controller) this.abandonedAtEnd = this.abandonedNow();
    clearTimeout(this.deadlineTimer);
    if (this.onCancelled) this.call?.removeListener?.('cancelled', this.onCancelled);
  }

  private abandonedNow(): AbandonReason | undefined {
    if (this.call?.cancelled) return 'cancelled';
    return (this.deadline ?? Infinity) <= Date.now() ? 'deadline' : undefined;
  }

  private arm(controller: AbortController): void {
    const remainingMs = (this.deadline ?? Infinity) - Date.now();
    // (A deadline beyond the timer range, ~24.8 days, is as good as none.)
    if (remainingMs <= MAX_TIMER_MS) this.deadlineTimer = setTimeout(() => controller.abort(deadlineExceeded()), remainingMs).unref();
    if (this.call?.on) {
      this.onCancelled = () => controller.abort(callCancelled());
      this.call.on('cancelled', this.onCancelled);
    }
  }
}

/** A controller method serving one unary RPC, called as Nest calls it: request, metadata, call. */
export type UnaryMethod = (request: unknown, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) => unknown;

/**
 * Nest's gRPC transport with every unary RPC served by a plain grpc-js handler
 * ({@link GrpcServerInterceptor.serveUnary}) that calls the controller method directly; streaming
 * RPCs keep Nest's handling (and its interceptor and filter). Same proto, health service, channel
 * options and graceful shutdown as {@link grpcServerOptions}. `unaryHandlers`: the controller
 * methods by Nest pattern (`createPattern(service, rpc, 'no_stream')`), from the app's controllers.
 */
export class PlatformGrpcServer extends ServerGrpc {
  private readonly unaryHandlers = new Map<string, UnaryMethod>();

  constructor(
    options: GrpcOptions['options'],
    private readonly calls: GrpcServerInterceptor,
  ) {
    super(options);
  }

  /** Called before `listen`: the unary controller methods, by `{ service, rpc }` of their @GrpcMethod. */
  serveDirectly(methods: Array<{ service: string; rpc: string; handler: UnaryMethod }>): void {
    for (const { service, rpc, handler } of methods) this.unaryHandlers.set(this.createPattern(service, rpc, GrpcMethodStreamingType.NO_STREAMING), handler);
  }

  override async createService(grpcService: { prototype: Record<string, { path?: string; requestStream?: boolean; responseStream?: boolean }> }, name: string): Promise<object> {
    const service = (await super.createService(grpcService, name)) as Record<string, unknown>;
    for (const methodName of Object.keys(service)) {
      const definition = grpcService.prototype[methodName];
      if (!definition || definition.requestStream || definition.responseStream) continue;
      // Looked up as Nest looks up its handlers: by the service's name, then by its package-qualified name.
      const handler =
        this.unaryHandlers.get(this.createPattern(name, methodName, GrpcMethodStreamingType.NO_STREAMING)) ??
        this.unaryHandlers.get(this.createPattern(definition.path?.split('/')[1] ?? '', methodName, GrpcMethodStreamingType.NO_STREAMING));
      if (handler) service[methodName] = this.calls.serveUnary(handler);
    }
    return service;
  }
}

/** Maps every exception a gRPC handler throws to a gRPC status (see `toGrpcError`). */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => toGrpcError(exception));
  }
}
