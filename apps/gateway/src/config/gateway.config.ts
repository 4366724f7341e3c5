import { z } from 'zod';
import { env } from '@batchgate/platform/config';
import { DEVELOPMENT_SERVICE_AUTH_SECRET } from '@batchgate/platform/grpc';

/** Local-only HS256 secret so `npm start` works without setup; deployments set JWT_SECRET or JWT_PUBLIC_KEY. */
export const DEVELOPMENT_JWT_SECRET = 'batchgate-local-development-jwt-secret-change-me';

export const gatewayConfigSchema = z
  .object({
    LOG_LEVEL: env.logLevel(),
    LOG_SLOW_MS: env.logSlowMs(),
    HTTP_HOST: env.string('127.0.0.1'),
    HTTP_PORT: env.port(3000),
    /** Requests the process works on at once; more get 503 + Retry-After at once (probes and /metrics excepted). */
    HTTP_MAX_IN_FLIGHT: env.int(256, 1, 100_000),
    /** Event streams (SSE, NDJSON) open at once; they do not count against HTTP_MAX_IN_FLIGHT. More get 503. */
    HTTP_MAX_STREAMS: env.int(1_024, 1, 100_000),
    /** Silence after which an event stream sends a keep-alive (and commits its 200). */
    EVENT_STREAM_HEARTBEAT_MS: env.int(15_000, 100, 300_000),
    /** Unread bytes an event stream's client may fall behind by before it is disconnected. */
    EVENT_STREAM_MAX_BUFFER_BYTES: env.int(1_048_576, 1_024, 104_857_600),
    /** HS256 shared secret (local use). Ignored when JWT_PUBLIC_KEY is set. */
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEVELOPMENT_JWT_SECRET),
    /** PEM public key (SPKI) for asymmetric tokens; JWT_ALGORITHM says which. */
    JWT_PUBLIC_KEY: z.string().default(''),
    JWT_ALGORITHM: env.oneOf(['HS256', 'RS256', 'ES256', 'EdDSA'] as const, 'HS256'),
    JWT_ISSUER: z.string().default(''),
    JWT_AUDIENCE: z.string().default(''),
    /** Verified tokens remembered until their `exp` (least recently used dropped first). */
    JWT_CACHE_MAX_ENTRIES: env.int(10_000, 1, 1_000_000),
    BODY_LIMIT_BYTES: env.int(1_048_576, 1_024, 52_428_800),
    /** Deadline of each gRPC call made for one HTTP request. */
    GRPC_DEADLINE_MS: env.int(10_000, 100, 600_000),
    /** Deadline of the calls that do their work before answering (retry-failed, intraday triggers). */
    GRPC_LONG_DEADLINE_MS: env.int(120_000, 1_000, 3_600_000),
    /** Deadline of a server-streaming call behind an event stream; it then ends (EventSource reconnects). */
    GRPC_STREAM_DEADLINE_MS: env.int(600_000, 1_000, 86_400_000),
    // new-service: downstream addresses
    TOKEN_MANAGER_URL: env.string('127.0.0.1:50051'),
    KLINE_SYNC_URL: env.string('127.0.0.1:50055'),
    ROLE_URL: env.string('127.0.0.1:50053'),
    OFFLINE_URL: env.string('127.0.0.1:50052'),
    PUBLISH_URL: env.string('127.0.0.1:50054'),
    SHUTDOWN_DELAY_MS: env.int(0, 0, 60_000),
    /** Time in-flight requests get to finish at shutdown; connections still open then are closed. */
    SHUTDOWN_TIMEOUT_MS: env.int(25_000, 1_000, 600_000),
    /** Signs the credential the gateway's gRPC calls carry (the services' SERVICE_AUTH_SECRET). */
    SERVICE_AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEVELOPMENT_SERVICE_AUTH_SECRET),
    /** Requests one user (per tenant) may make per USER_RATE_WINDOW_MS; more get 429 + Retry-After. */
    USER_RATE_LIMIT: env.int(600, 1, 1_000_000),
    USER_RATE_WINDOW_MS: env.int(60_000, 1_000, 86_400_000),
  })
  .refine((c) => c.JWT_ALGORITHM === 'HS256' || c.JWT_PUBLIC_KEY !== '', {
    path: ['JWT_PUBLIC_KEY'],
    message: 'is required when JWT_ALGORITHM is not HS256',
  });

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
