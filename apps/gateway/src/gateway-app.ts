import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Counter, Histogram } from 'prom-client';
import { ServiceCredentials } from '@batchgate/platform/grpc';
import { Readiness } from '@batchgate/platform/health';
import { REQUEST_ID_HEADER, requestIdFrom } from '@batchgate/platform/context';
import { AccessLog, createLogger, NestPinoLogger } from '@batchgate/platform/logging';
import { createMetricsRegistry } from '@batchgate/platform/observability';
import { InFlightLimit } from '@batchgate/platform/overload';
import type { PlatformHandles } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { JwtVerifier } from './auth/jwt-verifier';
import type { GatewayConfig } from './config/gateway.config';
import { HttpExceptionFilter } from './http/http-exception.filter';
import { useStrictJsonBodies } from './http/json-body';
import { documentErrorResponses, ErrorBodyView } from './http/openapi';
import { transportErrorOptions } from './http/transport-errors';
import { shedBeyondInFlightLimit } from './http/in-flight-limit.hook';
import { requestValidationPipe } from './http/validation';

export interface GatewayApp {
  app: NestFastifyApplication;
  platform: PlatformHandles;
}

/**
 * Builds the gateway (not yet listening): Fastify (its throughput matters at the edge), JWT auth,
 * validation, one error mapping, request ids, RED metrics, OpenAPI at /api/docs.
 */
export async function createGatewayApp(config: GatewayConfig): Promise<GatewayApp> {
  const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
  const registry = createMetricsRegistry('gateway');
  const readiness = new Readiness();
  const platform = { logger, registry, readiness, credentials: new ServiceCredentials('gateway', config.SERVICE_AUTH_SECRET) };
  const verifier = await JwtVerifier.create(config);

  const adapter = new FastifyAdapter({
    ...transportErrorOptions,
    bodyLimit: config.BODY_LIMIT_BYTES,
    genReqId: (request: { headers: Record<string, unknown> }) => requestIdFrom(request.headers[REQUEST_ID_HEADER]),
  });
  useStrictJsonBodies(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config, platform, verifier), adapter, {
    logger: new NestPinoLogger(logger),
    abortOnError: false,
    bodyParser: false, // useStrictJsonBodies is the only body parser
  });
  app.useGlobalPipes(requestValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter(logger));

  const requests = new Counter({
    name: 'http_server_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const accessLog = new AccessLog(logger, config.LOG_SLOW_MS);
  const fastify = app.getHttpAdapter().getInstance();
  // Callback hooks, not async ones: fastify awaits an async hook's promise on every request.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  shedBeyondInFlightLimit(fastify, new InFlightLimit(config.HTTP_MAX_IN_FLIGHT));
  fastify.addHook('onResponse', (request, reply, done) => {
    // Route templates, never raw URLs, keep label cardinality bounded.
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    // 503s (shed, or a dependency down: the service logs that) are counted, not logged one by one:
    // under overload a line each would cost the most.
    const serverFailed = reply.statusCode >= 500 && reply.statusCode !== 503;
    accessLog.finished('request', { requestId: request.id, ...labels }, Math.round(reply.elapsedTime), serverFailed);
    done();
  });

  const document = documentErrorResponses(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('batchgate API')
        .setDescription('REST front of the batchgate services. Authenticate with a bearer JWT (claims sub, tenant, perms).')
        .setVersion('1')
        .addBearerAuth()
        .build(),
      { extraModels: [ErrorBodyView] },
    ),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs/openapi.json' });
  return { app, platform };
}
