import { env } from '../config';
import type { UpstreamClientOptions } from './upstream-client';

type UpstreamEnvKeys<P extends string> =
  | `${P}_BASE_URL`
  | `${P}_TIMEOUT_MS`
  | `${P}_BREAKER_FAILURES`
  | `${P}_BREAKER_RECOVERY_MS`
  | `${P}_MAX_RESPONSE_BYTES`;

/**
 * The environment fields of one outside system, named after `prefix`: `<P>_BASE_URL`,
 * `<P>_TIMEOUT_MS` (per request), `<P>_BREAKER_FAILURES` (failures in a row that open its breaker),
 * `<P>_BREAKER_RECOVERY_MS` (time open before a probe) and `<P>_MAX_RESPONSE_BYTES` (largest body read).
 */
export function upstreamEnv<P extends string>(prefix: P, defaults: { baseUrl: string; timeoutMs: number }) {
  return {
    [`${prefix}_BASE_URL`]: env.url(defaults.baseUrl),
    [`${prefix}_TIMEOUT_MS`]: env.int(defaults.timeoutMs, 100, 600_000),
    [`${prefix}_BREAKER_FAILURES`]: env.int(5, 1, 1_000),
    [`${prefix}_BREAKER_RECOVERY_MS`]: env.int(2_000, 100, 600_000),
    [`${prefix}_MAX_RESPONSE_BYTES`]: env.int(8 * 1024 * 1024, 1_024, 1024 * 1024 * 1024),
  } as { [K in UpstreamEnvKeys<P>]: K extends `${P}_BASE_URL` ? ReturnType<typeof env.url> : ReturnType<typeof env.int> };
}

/** The {@link UpstreamClientOptions} the fields of {@link upstreamEnv} configure. */
export function upstreamOptions<P extends string>(
  config: Record<UpstreamEnvKeys<P>, string | number>,
  prefix: P,
): Pick<UpstreamClientOptions, 'baseUrl' | 'timeoutMs' | 'breaker' | 'maxResponseBytes'> {
  return {
    baseUrl: String(config[`${prefix}_BASE_URL`]),
    timeoutMs: Number(config[`${prefix}_TIMEOUT_MS`]),
    maxResponseBytes: Number(config[`${prefix}_MAX_RESPONSE_BYTES`]),
    breaker: {
      consecutiveFailures: Number(config[`${prefix}_BREAKER_FAILURES`]),
      recoveryTimeMs: Number(config[`${prefix}_BREAKER_RECOVERY_MS`]),
    },
  };
}
