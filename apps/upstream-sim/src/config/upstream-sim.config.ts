import { z } from 'zod';
import { env } from '@batchgate/platform/config';

export const upstreamSimConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  SIM_HOST: env.string('127.0.0.1'),
  SIM_PORT: env.port(4100),
  /** `quiet`: no latency or failures (tests set their own); `demo`: some latency, a few failures, 12 demo tokens. */
  SIM_PROFILE: env.oneOf(['quiet', 'demo'] as const, 'quiet'),
  /** JSON file with settings (same shape as POST /__sim/config), applied after the profile. */
  SIM_CONFIG_FILE: z.string().default(''),
});

export type UpstreamSimConfig = z.infer<typeof upstreamSimConfigSchema>;
