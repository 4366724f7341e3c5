import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { Readiness } from '@batchgate/platform/health';
import { requestIdFrom, REQUEST_ID_HEADER } from '@batchgate/platform/context';
import type { Logger } from '@batchgate/platform/logging';
import { answerOpsRequest, createMetricsRegistry } from '@batchgate/platform/observability';
import { registerAdminRoutes } from './admin/admin.routes';
import { simSettingsSchema, type SimSettingsInput } from './config/sim-settings';
import { SimWorld } from './sim-world';

export interface SimServerOptions {
  /** Start-up settings, applied in order; `POST /__sim/reset` returns to them. */
  settings?: SimSettingsInput | SimSettingsInput[];
  /** Default: a fresh registry of service `upstream-sim`. */
  registry?: Registry;
  /** Default: a Readiness that is started at once (the simulator has no dependencies). */
  readiness?: Readiness;
  /** Default: silent. Only admin changes and server errors are logged (never per request). */
  logger?: Logger;
  /** Base of article URLs; default: the scheme and Host of the publishing request. */
  publicUrl?: string;
  /** The simulator's clock (epoch ms); tests pass their own to cross a day or age an article. */
  now?: () => number;
}

/**
 * The simulated outside world in one Fastify app (Fastify for throughput: the simulator must never
 * be the bottleneck of a benchmark). Not listening yet: `main.ts` or a test calls `listen`, on
 * port 0 if it likes. Throws a ZodError when `settings` are invalid.
 */
export function createSimServer(options: SimServerOptions = {}): FastifyInstance {
  const startup = (
    Array.isArray(options.settings) ? options.settings : [options.settings ?? {}]
  ).map((s) => simSettingsSchema.parse(s));
  const registry = options.registry ?? createMetricsRegistry('upstream-sim');
  const logger = options.logger ?? pino({ level: 'silent' });
  const readiness = options.readiness ?? new Readiness();
  if (!options.readiness) readiness.markStarted();
  const world = new SimWorld(startup, registry, options.now ?? Date.now, options.publicUrl);

  const app = Fastify({ logger: false, bodyLimit: 5 * 1_048_576, keepAliveTimeout: 65_000 });
  // Webhooks and platforms get whatever a client sends: keep unknown content types as text.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  world.market.register(app, world.faults);
  world.chat.register(app, world.faults);
  world.marketplace.register(app, world.faults);
  world.publishing.register(app, world.faults);
  world.webhook.register(app, world.faults);
  registerAdminRoutes(app, world, logger);

  for (const path of ['/metrics', '/healthz', '/readyz']) {
    app.get(path, async (_request, reply) => {
      const answer = await answerOpsRequest(path, { registry, readiness });
      return reply
        .code(answer?.status ?? 404)
        .type(answer?.contentType ?? 'text/plain')
        .send(answer?.body ?? '');
    });
  }

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: 'NOT_FOUND',
      message: `no simulated route ${request.method} ${request.url.split('?')[0]}`,
    }),
  );
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500)
      return reply
        .code(status)
        .send({ error: error.code ?? 'BAD_REQUEST', message: error.message });
    logger.error(
      {
        err: error,
        route: request.routeOptions.url,
        requestId: requestIdFrom(request.headers[REQUEST_ID_HEADER]),
      },
      'simulator route failed',
    );
    return reply
      .code(500)
      .send({ error: 'INTERNAL', message: 'the simulator failed to answer; see its log' });
  });

  // Hung requests would hold `close()` until their clients give up: end them first.
  app.addHook('preClose', (done) => {
    readiness.markShuttingDown();
    world.faults.releaseHangs();
    done();
  });
  return app;
}
