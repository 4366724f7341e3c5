import type { Logger } from 'pino';

/**
 * The one line per finished request (HTTP) or call (gRPC), at a level that costs nothing on the
 * hot path at the default `info`: a request that went well is logged at `debug` only (its count
 * and latency are in the RED metrics), a slow one (`LOG_SLOW_MS` or more) at `info`, one the
 * server failed (5xx, gRPC INTERNAL/UNAVAILABLE/...) at `warn` — those two always reach the log.
 */
export class AccessLog {
  constructor(
    private readonly logger: Logger,
    private readonly slowMs: number,
  ) {}

  finished(message: string, fields: Record<string, unknown>, ms: number, serverFailed: boolean): void {
    if (serverFailed) this.logger.warn({ ...fields, ms }, message);
    else if (ms >= this.slowMs) this.logger.info({ ...fields, ms, slow: true }, message);
    else if (this.logger.isLevelEnabled('debug')) this.logger.debug({ ...fields, ms }, message);
  }
}
