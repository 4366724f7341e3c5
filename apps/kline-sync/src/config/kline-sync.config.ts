import { z } from 'zod';
import { env } from '@batchgate/platform/config';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';
import { upstreamEnv } from '@batchgate/platform/upstream';

export const klineSyncConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: 50055, opsPort: 9105 }),
  ...mysqlEnv('batchgate_kline_sync'),
  TOKEN_MANAGER_URL: env.string('127.0.0.1:50051'),
  /** The iTick-style market-data API (upstream-sim locally): base URL, per-call timeout, breaker. */
  ...upstreamEnv('ITICK', { baseUrl: 'http://127.0.0.1:4100', timeoutMs: 10_000 }),
  /** Provider name of the tokens in token-manager. */
  ITICK_PROVIDER: env.string('itick'),
  /** Seed 004's plan: threads = clamp(floor(tokens / TOKENS_PER_THREAD), 1, MAX_THREADS); 100 = single-thread rollout. */
  SYNC_TOKENS_PER_THREAD: env.int(6, 1, 10_000),
  SYNC_MAX_THREADS: env.int(10, 1, 256),
  /** Re-pulls of a failure before it is given up (status 2). */
  SYNC_MAX_RETRY_COUNT: env.int(3, 1, 20),
  /** Work items a replica holds at once (JetStream max ack pending). */
  SYNC_QUEUE_SIZE: env.int(1_000, 1, 100_000),
  /** Name of this deployment's work queue; replicas sharing it share jobs. */
  SYNC_WORK_QUEUE: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"').default('default'),
  /** Stocks one replica works on at once (the token pool still bounds the provider calls). */
  SYNC_WORKER_CONCURRENCY: env.int(64, 1, 10_000),
  /** Time a replica has to finish (or heartbeat) a stock before JetStream gives it to another replica. */
  SYNC_ACK_WAIT_MS: env.int(30_000, 1_000, 600_000),
  /** Calls one token may have in flight at once; its rate limit still applies. */
  SYNC_MAX_IN_FLIGHT_PER_TOKEN: env.int(4, 1, 1_000),
  /**
   * Bars one stock of a job may span (date range ÷ bar length); longer ranges are refused. The
   * default is a leap year of 1-minute bars: 528 provider calls per stock.
   */
  SYNC_MAX_BARS_PER_STOCK: env.int(527_040, 1, 100_000_000),
  /** Attempts per stock (token switches and transient retries) before a failure row is written. */
  SYNC_CALL_MAX_ATTEMPTS: env.int(4, 1, 20),
  /**
   * How long a stock waits for the provider during its outage (breaker open, or its 503 +
   * Retry-After) before it fails; the wait spends no quota and no attempt.
   */
  SYNC_PROVIDER_OUTAGE_WAIT_MS: env.int(600_000, 0, 86_400_000),
  /** How often the replica re-reads a tenant's tokens in any case; token events make it re-read at once. */
  SYNC_TOKEN_REFRESH_MS: env.int(30_000, 1_000, 3_600_000),
});

export type KlineSyncConfig = z.infer<typeof klineSyncConfigSchema>;
