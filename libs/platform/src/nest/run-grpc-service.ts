import { stopOnSignals } from '../lifecycle';
import { installFastAsyncResourceBind } from '../runtime';
import { DiscoveryModule, DiscoveryService, MetadataScanner, NestFactory } from '@nestjs/core';
import { Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { GrpcMethodStreamingType } from '@nestjs/microservices';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { ServiceProtoName } from '@batchgate/contracts';
import { createLogger, NestPinoLogger } from '../logging';
import { Readiness } from '../health';
import { InFlightLimit } from '../overload';
import { createMetricsRegistry, startOpsServer } from '../observability';
import {
  createGrpcHealth,
  GrpcExceptionFilter,
  GrpcPeerAuthentication,
  grpcServerOptions,
  GrpcServerInterceptor,
  PlatformGrpcServer,
  ServiceCredentials,
  setGrpcHealth,
  type UnaryMethod,
} from '../grpc';
import { PlatformModule, ServiceConfigModule, type PlatformHandles } from './platform.module';

// DiscoveryModule: the app's unary gRPC controller methods are found through it (see unaryGrpcMethods).
@Module({ imports: [DiscoveryModule] })
class GrpcServiceRootModule {}

export interface GrpcServiceDefinition {
  /** Process name used in logs and metrics, e.g. `token-manager`. */
  name: string;
  proto: ServiceProtoName;
  /** Service name inside the proto package (the generated `..._SERVICE_NAME`). */
  serviceName: string;
  /** The service's whole validated config: these fields are the platform's, and every provider may inject it (SERVICE_CONFIG). */
  config: {
    LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    LOG_SLOW_MS: number;
    GRPC_MAX_IN_FLIGHT: number;
    GRPC_HOST: string;
    GRPC_PORT: number;
    GRPC_MAX_CONNECTION_AGE_MS: number;
    OPS_HOST: string;
    OPS_PORT: number;
    SHUTDOWN_DELAY_MS: number;
    SHUTDOWN_TIMEOUT_MS: number;
    SERVICE_AUTH_SECRET: string;
  };
  /** The service's root module, given the platform handles it may need at composition time. */
  appModule: (platform: PlatformHandles) => DynamicModule;
}

export interface RunningGrpcService {
  app: INestMicroservice;
  logger: Logger;
  opsServer: Server;
  /** Ordered shutdown: not ready → delay → gRPC drains in-flight calls → NATS/DB close → ops port. */
  shutdown: () => Promise<void>;
}

/**
 * Starts a gRPC service the same way everywhere: logger, metrics registry, readiness, ops HTTP
 * port (/metrics, /healthz, /readyz), gRPC with health, request context, RED metrics and error
 * mapping. Readiness turns true only after the app (DB migrations, NATS) is up.
 */
export async function startGrpcService(definition: GrpcServiceDefinition): Promise<RunningGrpcService> {
  const { config } = definition;
  const logger = createLogger({ service: definition.name, level: config.LOG_LEVEL });
  const registry = createMetricsRegistry(definition.name);
  const readiness = new Readiness();
  const health = createGrpcHealth(definition.serviceName);
  const opsServer = await startOpsServer({ registry, readiness }, config.OPS_PORT, config.OPS_HOST);

  const credentials = new ServiceCredentials(definition.name, config.SERVICE_AUTH_SECRET);
  const handles: PlatformHandles = { logger, registry, readiness, credentials };
  const root: DynamicModule = {
    module: GrpcServiceRootModule,
    imports: [PlatformModule.forRoot(handles), ServiceConfigModule.forRoot(config), definition.appModule(handles)],
  };
  let app: INestMicroservice;
  try {
    const calls = new GrpcServerInterceptor(
      registry,
      logger,
      config.LOG_SLOW_MS,
      new InFlightLimit(config.GRPC_MAX_IN_FLIGHT),
      new GrpcPeerAuthentication(credentials, logger),
    );
    const { options } = grpcServerOptions({
      proto: definition.proto,
      url: `${config.GRPC_HOST}:${config.GRPC_PORT}`,
      health,
      maxConnectionAgeMs: config.GRPC_MAX_CONNECTION_AGE_MS,
    });
    const server = new PlatformGrpcServer(options, calls);
    app = await NestFactory.createMicroservice(root, { strategy: server, logger: new NestPinoLogger(logger), abortOnError: false });
    // Unary RPCs are served straight from their controller methods; Nest's pipeline (this
    // interceptor and filter) serves the streaming ones.
    server.serveDirectly(unaryGrpcMethods(app));
    app.useGlobalInterceptors(calls);
    app.useGlobalFilters(new GrpcExceptionFilter());
    await app.listen();
  } catch (error) {
    await new Promise<void>((resolve) => opsServer.close(() => resolve()));
    throw error;
  }
  setGrpcHealth(health, definition.serviceName, true);
  readiness.markStarted();
  logger.info({ grpc: `${config.GRPC_HOST}:${config.GRPC_PORT}`, ops: config.OPS_PORT }, `${definition.name} started`);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      readiness.markShuttingDown();
      setGrpcHealth(health, definition.serviceName, false);
      await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DELAY_MS));
      await app.close();
      await new Promise<void>((resolve) => opsServer.close(() => resolve()));
      logger.info(`${definition.name} stopped`);
    })());
  return { app, logger, opsServer, shutdown };
}

/** Every controller method the app declares with @GrpcMethod (ts-proto's `...ControllerMethods()`), bound to its controller. */
function unaryGrpcMethods(app: INestMicroservice): Array<{ service: string; rpc: string; handler: UnaryMethod }> {
  const scanner = app.get(MetadataScanner);
  return app.get(DiscoveryService).getControllers().flatMap((wrapper) => {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (!instance) return [];
    return scanner.getAllMethodNames(Object.getPrototypeOf(instance)).flatMap((name) => {
      const method = instance[name] as UnaryMethod;
      const patterns = (Reflect.getMetadata(PATTERN_METADATA, method) ?? []) as Array<{ service?: string; rpc?: string; streaming?: string }>;
      return patterns
        .filter((pattern) => pattern.service && pattern.rpc && pattern.streaming === GrpcMethodStreamingType.NO_STREAMING)
        .map((pattern) => ({ service: pattern.service as string, rpc: pattern.rpc as string, handler: method.bind(instance) as UnaryMethod }));
    });
  });
}

/**
 * `main.ts` entry: starts the service and stops it in order on SIGTERM/SIGINT, exiting non-zero if
 * start-up fails or shutdown overruns its timeout.
 */
export async function runGrpcService(definition: GrpcServiceDefinition): Promise<void> {
  installFastAsyncResourceBind();
  let service: RunningGrpcService;
  try {
    service = await startGrpcService(definition);
  } catch (error) {
    process.stderr.write(`${definition.name} failed to start: ${describeStartError(error)}\n`);
    process.exit(1);
  }
  stopOnSignals({ logger: service.logger, stop: service.shutdown, timeoutMs: definition.config.SHUTDOWN_TIMEOUT_MS });
}

function describeStartError(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED' && /3306/.test(message)) {
    return `${message} — MySQL is not reachable; start it (e.g. 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd')`;
  }
  if (code === 'CONNECTION_REFUSED' || /4222/.test(message)) {
    return `${message} — NATS is not reachable; start it with JetStream (e.g. 'nats-server -js')`;
  }
  return error instanceof Error ? (error.stack ?? message) : message;
}
