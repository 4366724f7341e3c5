import { z } from 'zod';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';

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
});

export type TokenManagerConfig = z.infer<typeof tokenManagerConfigSchema>;
