import { z } from 'zod';
import { env } from '@batchgate/platform/config';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';
import { upstreamEnv } from '@batchgate/platform/upstream';

export const offlineConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: 50052, opsPort: 9102 }),
  ...mysqlEnv('batchgate_offline'),
  /** The marketplace seller API (upstream-sim locally): base URL, per-call timeout, breaker. */
  ...upstreamEnv('MARKETPLACE', { baseUrl: 'http://127.0.0.1:4100', timeoutMs: 5_000 }),
  /** Attempts per marketplace call (timeouts, 5xx and 429 are tried again with backoff). */
  MARKETPLACE_CALL_MAX_ATTEMPTS: env.int(4, 1, 20),
  /** How long a product waits out a marketplace outage (breaker open, or 503 + Retry-After) before it fails. */
  MARKETPLACE_OUTAGE_WAIT_MS: env.int(600_000, 0, 86_400_000),
  /** Time between two polls of a de-list's outcome. */
  OFFLINE_POLL_INTERVAL_MS: env.int(500, 0, 60_000),
  /** Polls of one de-list before the product fails as "no outcome". */
  OFFLINE_MAX_POLLS: env.int(60, 1, 10_000),
  /** Batches with more products than this run asynchronously even without ?async=true. */
  OFFLINE_ASYNC_THRESHOLD: env.int(50, 1, 1_000),
  /** How long a fetched conversation id and tool id are reused (per tenant, by every replica). */
  OFFLINE_SESSION_TTL_MS: env.int(86_400_000, 1_000, 30 * 86_400_000),
  /** Upper bound of max_threads "auto" (the adaptive limit stays inside it). */
  OFFLINE_AUTO_MAX_THREADS: env.int(8, 1, 256),
  /** Marketplace de-lists one replica runs at once over all its batches. */
  OFFLINE_MAX_IN_FLIGHT: env.int(64, 1, 10_000),
  /** Name of this deployment's work queue; replicas sharing it share batches. */
  OFFLINE_WORK_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"')
    .default('default'),
  /** Time a replica has to finish (or heartbeat) a batch's message before JetStream hands it to another. */
  OFFLINE_ACK_WAIT_MS: env.int(30_000, 1_000, 600_000),
  /** Runs of one product (crashes included) before it fails. */
  OFFLINE_MAX_DELIVERIES: env.int(5, 1, 100),
});

export type OfflineConfig = z.infer<typeof offlineConfigSchema>;
