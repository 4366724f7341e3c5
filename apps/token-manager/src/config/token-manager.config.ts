import { z } from 'zod';
import { env } from '@batchgate/platform/config';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';
import { isValidTimeZone } from '../tokens/usage-day';

/** A development key so the local stack works out of the box; deployments must set their own. */
export const DEVELOPMENT_ENCRYPTION_KEY = 'YmF0Y2hnYXRlLWxvY2FsLWRldmVsb3BtZW50LWtleSE=';

export const tokenManagerConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: 50051, opsPort: 9101 }),
  ...mysqlEnv('batchgate_tokens'),
  /** AES-256-GCM key for token secrets at rest: 32 bytes, base64. */
  TOKEN_ENCRYPTION_KEY: z
    .string()
    .default(DEVELOPMENT_ENCRYPTION_KEY)
    .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes encoded as base64'),
  /** Daily quotas restart at this hour (0-23) of TOKEN_QUOTA_TIME_ZONE. */
  TOKEN_QUOTA_RESET_HOUR: env.int(0, 0, 23),
  TOKEN_QUOTA_TIME_ZONE: z.string().default('UTC').refine(isValidTimeZone, 'must be an IANA time zone such as Asia/Shanghai'),
});

export type TokenManagerConfig = z.infer<typeof tokenManagerConfigSchema>;
