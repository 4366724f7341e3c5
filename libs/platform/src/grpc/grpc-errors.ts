import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import {
  DomainError,
  ERROR_CODE_METADATA_KEY,
  ERROR_DETAILS_METADATA_KEY,
  GRPC_STATUS_BY_KIND,
  RETRY_AFTER_METADATA_KEY,
} from '../errors';

/** The error object grpc-js sends to the caller: status, message and trailing metadata. */
export interface GrpcErrorObject {
  code: GrpcStatus;
  message: string;
  details: string;
  metadata: Metadata;
}

/**
 * Turns anything a handler threw into the gRPC error the caller receives. Domain errors keep their
 * status and machine code; unexpected errors become INTERNAL without leaking their message.
 */
export function toGrpcError(error: unknown): GrpcErrorObject {
  const metadata = new Metadata();
  if (error instanceof DomainError) {
    metadata.set(ERROR_CODE_METADATA_KEY, error.code);
    if (error.details) metadata.set(ERROR_DETAILS_METADATA_KEY, JSON.stringify(error.details));
    if (error.retryAfterSeconds !== undefined) {
      metadata.set(RETRY_AFTER_METADATA_KEY, String(error.retryAfterSeconds));
    }
    const code = GRPC_STATUS_BY_KIND[error.kind];
    return { code, message: error.message, details: error.message, metadata };
  }
  if (error instanceof RpcException) {
    const inner = error.getError();
    if (typeof inner === 'object' && inner !== null && 'code' in inner) {
      const { code, message } = inner as { code: GrpcStatus; message?: string };
      return { code, message: message ?? '', details: message ?? '', metadata };
    }
  }
  if (isDependencyUnreachable(error)) {
    metadata.set(ERROR_CODE_METADATA_KEY, 'DEPENDENCY.UNAVAILABLE');
    metadata.set(RETRY_AFTER_METADATA_KEY, '1');
    const message = 'A dependency of the service cannot be reached; retry shortly';
    return { code: GrpcStatus.UNAVAILABLE, message, details: message, metadata };
  }
  metadata.set(ERROR_CODE_METADATA_KEY, 'INTERNAL');
  return { code: GrpcStatus.INTERNAL, message: 'Internal error', details: 'Internal error', metadata };
}

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
 * Whether `error` says a dependency (MySQL, another service over gRPC) cannot be reached right
 * now: the caller should retry, so it is UNAVAILABLE (HTTP 503), not a bug (INTERNAL). Follows
 * TypeORM's `driverError` and `cause` chains.
 */
export function isDependencyUnreachable(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    // A gRPC client error (it carries metadata) from a downstream service that is down.
    if (code === GrpcStatus.UNAVAILABLE && 'metadata' in current) return true;
    current = (current as { driverError?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
