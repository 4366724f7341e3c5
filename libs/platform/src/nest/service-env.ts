import { z } from 'zod';
import { env } from '../config';
import { DEVELOPMENT_SERVICE_AUTH_SECRET } from '../grpc/service-credentials';
import { STREAM_LIMIT_DEFAULTS } from '../messaging/nats-connection';

/** Environment fields every gRPC service has; each service adds its own and a MySQL block. */
export function grpcServiceEnv(defaults: { grpcPort: number; opsPort: number }) {
  return {
    LOG_LEVEL: env.logLevel(),
    LOG_SLOW_MS: env.logSlowMs(),
    GRPC_HOST: env.string('127.0.0.1'),
    GRPC_PORT: env.port(defaults.grpcPort),
    /** Calls one process works on at once; more are refused at once (UNAVAILABLE, retry in 1 s). */
    GRPC_MAX_IN_FLIGHT: env.int(256, 1, 100_000),
    /** Callers reconnect (and see new replicas) at least this often. */
    GRPC_MAX_CONNECTION_AGE_MS: env.int(60_000, 1_000, 86_400_000),
    OPS_HOST: env.string('127.0.0.1'),
    OPS_PORT: env.port(defaults.opsPort),
    NATS_URL: env.string('nats://127.0.0.1:4222'),
    /** Time between failing readiness and closing the gRPC server, so load balancers stop routing first. */
    SHUTDOWN_DELAY_MS: env.int(0, 0, 60_000),
    SHUTDOWN_TIMEOUT_MS: env.int(25_000, 1_000, 600_000),
    NATS_DUPLICATE_WINDOW_MS: env.int(STREAM_LIMIT_DEFAULTS.duplicateWindowMs, 1_000, 86_400_000),
    /** Events older than this leave their stream (at least a day: never less than the duplicate window). */
    NATS_EVENTS_MAX_AGE_MS: env.int(STREAM_LIMIT_DEFAULTS.eventMaxAgeMs, 86_400_000, 365 * 86_400_000),
    NATS_STREAM_MAX_BYTES: env.int(STREAM_LIMIT_DEFAULTS.maxBytes, 1024 ** 2, 1024 ** 4),
    OUTBOX_POLL_MS: env.int(500, 10, 60_000),
    OUTBOX_BATCH_SIZE: env.int(100, 1, 10_000),
    /** Published outbox rows are deleted this long after their publish. */
    OUTBOX_RETENTION_MS: env.int(86_400_000, 0, 90 * 86_400_000),
    /** Test hook only: the outbox relay kills its own process at this point. */
    OUTBOX_TEST_CRASH: env.oneOf(['none', 'before-publish', 'after-publish'] as const, 'none'),
    /** Signs and checks the credential every gRPC call between services carries (shared by a deployment). */
    SERVICE_AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEVELOPMENT_SERVICE_AUTH_SECRET),
  };
}
