import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import {
  DomainError,
  ERROR_CODE_METADATA_KEY,
  ERROR_DETAILS_METADATA_KEY,
  GRPC_STATUS_BY_KIND,
  isDependencyUnreachable,
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
