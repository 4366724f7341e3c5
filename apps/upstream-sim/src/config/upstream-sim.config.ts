import { z } from 'zod';
import { env } from '@batchgate/platform/config';

/** The simulator's environment (validated once at start; code reads only this typed config). */
export const upstreamSimConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  SIM_HOST: env.string('127.0.0.1'),
  SIM_PORT: env.port(4100),
  /** `quiet`: no latency, no failures, no tokens (tests set their own); `demo`: see DEMO_SETTINGS. */
  SIM_PROFILE: env.oneOf(['quiet', 'demo'] as const, 'quiet'),
  /** JSON file with settings (the shape of POST /__sim/config), applied after the profile. */
  SIM_CONFIG_FILE: z.string().optional(),
  /** Base of article URLs (e.g. http://upstream-sim:4100 in a container); default: the request's Host. */
  SIM_PUBLIC_URL: z.url('must be a URL').optional(),
  /** Time between failing readiness and closing the server on SIGTERM. */
  SHUTDOWN_DELAY_MS: env.int(0, 0, 60_000),
  /** Longest the close may take; then the process exits 1. */
  SHUTDOWN_TIMEOUT_MS: env.int(25_000, 1_000, 600_000),
});

export type UpstreamSimConfig = z.infer<typeof upstreamSimConfigSchema>;
