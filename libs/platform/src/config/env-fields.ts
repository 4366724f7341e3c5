import { z } from 'zod';

/**
 * Field builders for environment schemas. Environment values are strings, so each builder
 * parses the string and states its accepted range in the error message.
 */
export const env = {
  port: (fallback: number) =>
    z.coerce
      .number({ message: 'must be a TCP port number' })
      .int('must be an integer')
      .min(0, 'must be a TCP port (0-65535)')
      .max(65535, 'must be a TCP port (0-65535)')
      .default(fallback),
  int: (fallback: number, min: number, max: number) =>
    z.coerce
      .number({ message: `must be an integer between ${min} and ${max}` })
      .int(`must be an integer between ${min} and ${max}`)
      .min(min, `must be an integer between ${min} and ${max}`)
      .max(max, `must be an integer between ${min} and ${max}`)
      .default(fallback),
  string: (fallback: string) => z.string().min(1, 'must not be empty').default(fallback),
  url: (fallback: string) => z.url('must be a URL').default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
    z.enum(values, { message: `must be one of ${values.join(', ')}` }).default(fallback),
  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        message: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  /** LOG_SLOW_MS: a request or call that takes this long is logged at info (the others at debug). */
  logSlowMs: () => env.int(500, 1, 3_600_000),
};
