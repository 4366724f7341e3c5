import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorKind } from './domain-error';

/** Domain error kind → gRPC canonical status. */
export const GRPC_STATUS_BY_KIND: Record<ErrorKind, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  cancelled: GrpcStatus.CANCELLED,
  internal: GrpcStatus.INTERNAL,
};

/**
 * gRPC status → HTTP status, after google/rpc/code.proto. ALREADY_EXISTS and FAILED_PRECONDITION
 * are both 409 here (a conflict with the current state of the resource).
 */
export const HTTP_STATUS_BY_GRPC: Record<GrpcStatus, number> = {
  [GrpcStatus.OK]: 200,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 409,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
};

/** `NOT_FOUND` for status 5: the name used in error bodies and metric labels. */
export function grpcStatusName(code: number): string {
  return GrpcStatus[code] ?? 'UNKNOWN';
}

/** Metadata keys that carry a domain error's machine code and details across gRPC. */
export const ERROR_CODE_METADATA_KEY = 'x-error-code';
export const ERROR_DETAILS_METADATA_KEY = 'x-error-details';
export const RETRY_AFTER_METADATA_KEY = 'x-retry-after';
