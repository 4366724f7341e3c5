import { z } from 'zod';
import { env } from '@batchgate/platform/config';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';
import { upstreamEnv } from '@batchgate/platform/upstream';

export const roleConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: 50053, opsPort: 9103 }),
  ...mysqlEnv('batchgate_role'),
  /**
   * More connections than the platform's 10: a persona task holds four at once while it reads its
   * sources, so 16 tasks starting together would otherwise queue the submissions behind their reads.
   */
  DB_POOL_SIZE: env.int(32, 1, 200),
  /** The OpenAI-compatible chat-completions API (upstream-sim locally): scheme, host and port (the API is under `/v1`), per-call timeout, breaker. */
  ...upstreamEnv('CHAT', { baseUrl: 'http://127.0.0.1:4100', timeoutMs: 60_000 }),
  /** Sent as `Authorization: Bearer …`; empty sends none (upstream-sim accepts any by default). */
  CHAT_API_KEY: z.string().default(''),
  CHAT_MODEL: env.string('gpt-4o-mini'),
  /** Longest persona the model may write. */
  CHAT_MAX_TOKENS: env.int(1_024, 16, 128_000),
  /** Attempts of one AI call within a run (transient errors and 429s back off; 4xx are not retried). */
  CHAT_MAX_ATTEMPTS: env.int(4, 1, 20),
  /** First backoff of a retried AI call; doubles per attempt, with full jitter. */
  CHAT_RETRY_BASE_MS: env.int(200, 1, 60_000),
  /**
   * How long a persona task waits for the chat API during its outage (breaker open, or 503 +
   * Retry-After) before its run fails and is tried again later.
   */
  CHAT_OUTAGE_WAIT_MS: env.int(300_000, 0, 86_400_000),
  /** The notification webhook the persona's creation is announced to (upstream-sim's receiver locally). */
  ...upstreamEnv('WEBHOOK', { baseUrl: 'http://127.0.0.1:4100', timeoutMs: 10_000 }),
  /** Path of the notification under WEBHOOK_BASE_URL. */
  WEBHOOK_PATH: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be a path such as /webhook/notify').default('/webhook/notify'),
  WEBHOOK_MAX_ATTEMPTS: env.int(5, 1, 20),
  /** How long a notification waits out the receiver's outage (breaker open, or 503 + Retry-After) before the run fails. */
  WEBHOOK_OUTAGE_WAIT_MS: env.int(300_000, 0, 86_400_000),
  /** Name of this deployment's work queue; replicas sharing it share the persona tasks. */
  ROLE_JOBS_QUEUE: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"').default('default'),
  /** Persona tasks one replica runs at once. */
  ROLE_WORKER_CONCURRENCY: env.int(16, 1, 1_000),
  /** Runs of one task (crashes included) before it ends failed. */
  ROLE_MAX_DELIVERIES: env.int(5, 1, 100),
  /** Time a replica has to heartbeat a task before JetStream hands it to another replica. */
  ROLE_ACK_WAIT_MS: env.int(30_000, 1_000, 600_000),
  /** Delay before a run that failed (not for good) is tried again. */
  ROLE_RETRY_DELAY_MS: env.int(2_000, 10, 600_000),
  /** Seed 002: posts generated at once per batch request. */
  POST_CONCURRENCY: env.int(2, 1, 64),
  /** Seed 002: longest time one post may take (its AI call is aborted then). */
  POST_TIMEOUT_MS: env.int(120_000, 100, 3_600_000),
  POST_MAX_TOKENS: env.int(800, 16, 128_000),
});

export type RoleConfig = z.infer<typeof roleConfigSchema>;
