import { z } from 'zod';
import { env } from '@batchgate/platform/config';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';
import { upstreamEnv } from '@batchgate/platform/upstream';

export const publishConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: 50054, opsPort: 9104 }),
  ...mysqlEnv('batchgate_publish'),
  /** The publishing platform's API (upstream-sim locally): base URL, per-call timeout, breaker. */
  ...upstreamEnv('PLATFORM', { baseUrl: 'http://127.0.0.1:4100', timeoutMs: 30_000 }),
  /** Publishes one replica runs at once (seed 003: four RQ workers). */
  PUBLISH_WORKER_CONCURRENCY: env.int(4, 1, 256),
  /** Runs of a task before it ends `failed` (a worker that dies during each run counts too). */
  PUBLISH_MAX_DELIVERIES: env.int(5, 1, 100),
  /** A replica that stops heart-beating a task for this long loses it to another replica. */
  PUBLISH_ACK_WAIT_MS: env.int(30_000, 1_000, 600_000),
  /** Wait before a run that failed transiently (platform 5xx, timeout) runs again. */
  PUBLISH_RETRY_DELAY_MS: env.int(2_000, 0, 600_000),
  /** Seed 003's verification: how long the article page may take to answer at its URL. */
  PUBLISH_VERIFY_TIMEOUT_MS: env.int(15_000, 0, 600_000),
  /** How often the article page is asked for while it does not answer yet. */
  PUBLISH_VERIFY_POLL_MS: env.int(500, 10, 60_000),
  /** Tasks of one user running (or queued to run) at once, over every replica. */
  PUBLISH_USER_MAX_RUNNING: env.int(2, 1, 100),
  /** Tasks one user may submit per PUBLISH_USER_RATE_WINDOW_MS, over every replica and gateway. */
  PUBLISH_USER_RATE_LIMIT: env.int(30, 1, 100_000),
  PUBLISH_USER_RATE_WINDOW_MS: env.int(60_000, 1_000, 86_400_000),
  /** How often a replica looks for waiting tasks no event announced a free slot for (a crash in between). */
  PUBLISH_ADMISSION_SWEEP_MS: env.int(5_000, 100, 600_000),
  /** Seed 002's interaction fetching: articles asked at once, and the longest time one may take (its call is aborted). */
  PUBLISH_INTERACTIONS_CONCURRENCY: env.int(3, 1, 64),
  PUBLISH_INTERACTIONS_TIMEOUT_MS: env.int(30_000, 100, 600_000),
  /** Newest published articles one fetch covers. */
  PUBLISH_INTERACTIONS_MAX_ARTICLES: env.int(500, 1, 10_000),
  /** Ended tasks (newest first) the statistics report covers, per user and per tenant. */
  PUBLISH_STATS_WINDOW: env.int(10_000, 1, 1_000_000),
  /** Test hook only: a task whose title contains this kills its worker's process each time it runs (the poison-task test). */
  PUBLISH_TEST_CRASH_TITLE: z.string().max(200).default(''),
  /** Name of this deployment's work queue; replicas sharing it share the tasks. */
  PUBLISH_WORK_QUEUE: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"').default('default'),
});

export type PublishConfig = z.infer<typeof publishConfigSchema>;
