import { status as GrpcStatus } from '@grpc/grpc-js';

/** Error codes of a connection that failed or broke: Node's, and mysql2's for a lost server. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
]);

/**
 * mysql2's pool refusing a query because `queueLimit` callers already wait for a connection: the
 * database is saturated (or slow to answer), not the query wrong. mysql2 gives it no code.
 */
const POOL_QUEUE_FULL_MESSAGE = 'Queue limit reached.';

/**
 * Whether `error` says a dependency (MySQL, another service over gRPC) cannot be reached right
 * now (down, cut off, or too busy to take the query): the caller should retry, so it is UNAVAILABLE
 * (HTTP 503), not a bug (INTERNAL). Follows TypeORM's `driverError` and `cause` chains.
 */
export function isDependencyUnreachable(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if ((current as { message?: unknown }).message === POOL_QUEUE_FULL_MESSAGE) return true;
    // A gRPC client error (it carries metadata) from a downstream service that is down.
    if (code === GrpcStatus.UNAVAILABLE && 'metadata' in current) return true;
    current = (current as { driverError?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
