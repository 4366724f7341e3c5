import { Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { ClientProxyFactory, Transport, type ClientGrpc } from '@nestjs/microservices';
import type { Registry } from 'prom-client';
import { Observable, type Subscription } from 'rxjs';
import { SERVICE_PROTOS, type ServiceProtoName } from '@batchgate/contracts';
import { DomainError, grpcStatusName } from '../errors';
import { currentRequestContext, REQUEST_ID_HEADER, remainingDeadlineMsOf, type RequestContext } from '../context';
import { grpcRedMetrics } from './grpc-metrics';
import { packageDefinitionOf } from './proto-loader-options';
import { SERVICE_CREDENTIAL_HEADER, type ServiceCredentials } from './service-credentials';

export interface GrpcClientSettings {
  proto: ServiceProtoName;
  /** The service name inside the proto package, e.g. TOKEN_MANAGER_SERVICE_NAME. */
  service: string;
  /**
   * `host:port` (resolved through DNS: every address of the name is a backend, e.g. a headless
   * Kubernetes Service), or any grpc-js target with a scheme (`dns:///…`, `ipv4:a:p,b:q`, `unix:…`).
   */
  url: string;
  /**
   * How calls spread over the target's addresses. `round_robin` (the default): one connection per
   * address, calls rotate over the ready ones, so replicas behind one name share the load;
   * `pick_first`: grpc-js's own default, every call on the first address that connects.
   */
  loadBalancing?: GrpcLoadBalancing;
  /** Deadline of every call unless the current request's own deadline is sooner. */
  deadlineMs: number;
  registry: Registry;
  /** The calling service's credential, sent with every call. */
  credentials: ServiceCredentials;
}

export type GrpcLoadBalancing = 'round_robin' | 'pick_first';

/** A unary method of a grpc-js client, called with metadata, options and a callback. */
type UnaryGrpcMethod = (
  request: unknown,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, value?: unknown) => void,
) => { cancel(): void };

/**
 * The client as a process that carries its request context explicitly calls it (the gateway: see
 * apps/gateway/src/http/request-context.ts): every method takes the context of the request it is
 * made for as its second argument, in place of the generated interface's optional `Metadata`, so
 * a call cannot leave out the request id and the cancellation.
 */
export type WithRequestContext<TClient> = {
  [K in keyof TClient]: TClient[K] extends (request: infer TRequest, metadata?: Metadata) => infer TAnswer
    ? (request: TRequest, context: RequestContext) => TAnswer
    : TClient[K];
};

// Whether Error.stackTraceLimit can be set (not under --frozen-intrinsics).
const stackTraceLimitWritable = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * Runs `start` with no stack captured by the errors it makes. grpc-js makes a `new Error()` on
 * every unary call, only to append the caller's stack to the error of a call that fails ("for
 * call at ..."): 3-8 µs a call on the bench's VM, 4 % of the gateway's profile
 * (bench/gateway/README.md, section 43). That stack would be this wrapper's and rxjs's frames; a
 * failed call is told apart by its code, its message and the request id and route of the log
 * line. The error a failed call gets is made later, in its callback, with its own stack. Node's
 * own internal errors are made the same way (`hideStackFrames` in lib/internal/errors.js).
 */
function withoutStackCapture<T>(start: () => T): T {
  if (!stackTraceLimitWritable) return start();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A target with no scheme (`host:port`) goes through the DNS resolver, which returns every address of the name. */
export function grpcTarget(url: string): string {
  return /^[a-z][a-z0-9+.-]*:(?!\d+$)/i.test(url) ? url : `dns:///${url}`;
}

/**
 * Channel options for `policy`. An HTTP/2 connection is long-lived, so a connection-level (L4)
 * load balancer such as a ClusterIP Service pins a caller to one replica; balancing per call in
 * the client over every resolved address is what spreads the load.
 */
export function loadBalancingChannelOptions(policy: GrpcLoadBalancing): Record<string, string> {
  return { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [policy]: {} }] }) };
}

/**
 * A typed gRPC client (the ts-proto `...ServiceClient` interface) whose every call carries a
 * deadline (gRPC has none by default), the caller's service credential and the current request id
 * in metadata, and RED metrics. The request's context is the one a method is given as its second
 * argument ({@link WithRequestContext}), else the current one (AsyncLocalStorage); a `Metadata`
 * there is sent as the call's metadata.
 * Nest's client accepts grpc-js call options as the third argument although ts-proto's interface
 * does not declare it; this wrapper is the one place that relies on it.
 */
export function createGrpcClient<TClient extends object>(settings: GrpcClientSettings): { client: TClient; close: () => void } {
  const proxy = ClientProxyFactory.create({
    transport: Transport.GRPC,
    options: {
      url: grpcTarget(settings.url),
      channelOptions: loadBalancingChannelOptions(settings.loadBalancing ?? 'round_robin'),
      package: SERVICE_PROTOS[settings.proto].package,
      packageDefinition: packageDefinitionOf(settings.proto),
    },
  }) as unknown as ClientGrpc & { close(): void };
  const raw = proxy.getService<Record<string, (...args: unknown[]) => Observable<unknown>>>(settings.service);
  // The grpc-js client under Nest's: a unary call is made on it directly, in this wrapper's one
  // Observable (Nest's method would wrap it in another). Streaming calls go through Nest's.
  const grpc = proxy.getClientByServiceName<Client & Record<string, UnaryGrpcMethod & { requestStream?: boolean; responseStream?: boolean }>>(settings.service);
  const metrics = grpcRedMetrics(settings.registry, 'client');
  const packageName = SERVICE_PROTOS[settings.proto].package;

  // The credential header of the current service token, in a Metadata that each call copies:
  // Metadata.set checks every value it is given, a copy does not check it again.
  let credential: { token: string; metadata: Metadata } | undefined;
  const metadataWith = (token: string): Metadata => {
    if (credential?.token !== token) {
      const metadata = new Metadata();
      metadata.set(SERVICE_CREDENTIAL_HEADER, `Bearer ${token}`);
      credential = { token, metadata };
    }
    return credential.metadata.clone();
  };

  // One wrapper per method, made on first use (not on every property read).
  const wrappers = new Map<string, (request: unknown, metadataOrContext?: Metadata | RequestContext) => Observable<unknown>>();
  const client = new Proxy(raw, {
    get(target, property: string) {
      const method = target[property];
      if (typeof method !== 'function') return method;
      const known = wrappers.get(property);
      if (known) return known;
      const fullMethod = `/${packageName}.${settings.service}/${property[0]?.toUpperCase()}${property.slice(1)}`;
      const unary = grpc[property];
      const callUnary = unary && !unary.requestStream && !unary.responseStream ? unary : undefined;
      // The method's metric labels, made once (prom-client is given the same objects each call).
      const startedLabels = { method: fullMethod };
      const endedLabels = new Map<number, { method: string; code: string }>();
      const labelsOf = (code: number) => {
        let labels = endedLabels.get(code);
        if (!labels) endedLabels.set(code, (labels = { method: fullMethod, code: grpcStatusName(code) }));
        return labels;
      };
      const wrapper = (request: unknown, metadataOrContext?: Metadata | RequestContext) => {
        const metadata = metadataOrContext instanceof Metadata ? metadataOrContext : undefined;
        const context = metadata || !metadataOrContext ? currentRequestContext() : (metadataOrContext as RequestContext);
        const requestId = context?.requestId;
        const deadline = Date.now() + remainingDeadlineMsOf(context, settings.deadlineMs);
        // The current request's caller gave up (deadline, cancel, closed connection): so does this call.
        const abandonment = context?.abandonment;
        const abandoned = abandonment ? undefined : context?.signal;
        return new Observable((subscriber) => {
          let cancel: (() => void) | undefined;
          let unsubscribed = false;
          let finish: ((code: number) => void) | undefined;
          const onAbandoned = () => {
            cancel?.(); // cancels the gRPC call: the server's handler sees it and stops
            unsubscribed = true;
            finish?.(GrpcStatus.CANCELLED);
            subscriber.error(new DomainError('cancelled', 'CALL.CANCELLED', 'The caller of this request gave up'));
          };
          if (abandonment ? abandonment.aborted : abandoned?.aborted) {
            onAbandoned();
            return undefined;
          }
          abandonment?.listen(onAbandoned);
          abandoned?.addEventListener('abort', onAbandoned, { once: true });
          const stopWatching = () => {
            abandonment?.unlisten(onAbandoned);
            abandoned?.removeEventListener('abort', onAbandoned);
          };
          const start = (token: string) => {
            if (unsubscribed) return;
            let outgoing: Metadata;
            if (metadata) {
              outgoing = metadata;
              outgoing.set(SERVICE_CREDENTIAL_HEADER, `Bearer ${token}`);
              if (requestId && outgoing.get(REQUEST_ID_HEADER).length === 0) outgoing.set(REQUEST_ID_HEADER, requestId);
            } else {
              outgoing = metadataWith(token);
              if (requestId) outgoing.set(REQUEST_ID_HEADER, requestId);
            }
            metrics.started.inc(startedLabels);
            const startedAt = performance.now();
            let finished = false;
            finish = (code: number) => {
              if (finished) return;
              finished = true;
              const labels = labelsOf(code);
              metrics.handled.inc(labels);
              metrics.duration.observe(labels, (performance.now() - startedAt) / 1000);
            };
            if (callUnary) {
              const call = withoutStackCapture(() =>
                callUnary.call(grpc, request, outgoing, { deadline }, (error: ServiceError | null, value?: unknown) => {
                  cancel = undefined;
                  stopWatching();
                  finish?.(error ? (typeof error.code === 'number' ? error.code : GrpcStatus.UNKNOWN) : GrpcStatus.OK);
                  if (error) return subscriber.error(error);
                  subscriber.next(value);
                  subscriber.complete();
                }),
              );
              cancel = () => call.cancel();
              return;
            }
            const subscription: Subscription = method.call(target, request, outgoing, { deadline: new Date(deadline) }).subscribe({
              next: (value) => subscriber.next(value),
              error: (error: { code?: number }) => {
                finish?.(typeof error?.code === 'number' ? error.code : GrpcStatus.UNKNOWN);
                subscriber.error(error);
              },
              complete: () => {
                finish?.(GrpcStatus.OK);
                subscriber.complete();
              },
            });
            cancel = () => subscription.unsubscribe();
          };
          const ready = settings.credentials.readyToken();
          if (ready !== undefined) start(ready);
          else settings.credentials.token().then(start, (error: unknown) => subscriber.error(error));
          return () => {
            unsubscribed = true;
            stopWatching();
            cancel?.();
          };
        });
      };
      wrappers.set(property, wrapper);
      return wrapper;
    },
  }) as unknown as TClient;
  return { client, close: () => proxy.close() };
}
