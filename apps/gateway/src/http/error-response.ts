import { Metadata } from '@grpc/grpc-js';
import { HttpException } from '@nestjs/common';
import {
  DomainError,
  ERROR_CODE_METADATA_KEY,
  ERROR_DETAILS_METADATA_KEY,
  GRPC_STATUS_BY_KIND,
  grpcStatusName,
  HTTP_STATUS_BY_GRPC,
  RETRY_AFTER_METADATA_KEY,
  type ErrorBody,
} from '@batchgate/platform/errors';

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

const HTTP_CODES: Record<number, { code: string; grpc: string }> = {
  400: { code: 'REQUEST.INVALID', grpc: 'INVALID_ARGUMENT' },
  401: { code: 'AUTH.UNAUTHENTICATED', grpc: 'UNAUTHENTICATED' },
  403: { code: 'AUTH.PERMISSION_DENIED', grpc: 'PERMISSION_DENIED' },
  404: { code: 'ROUTE.NOT_FOUND', grpc: 'NOT_FOUND' },
  405: { code: 'REQUEST.METHOD_NOT_ALLOWED', grpc: 'UNIMPLEMENTED' },
  413: { code: 'REQUEST.TOO_LARGE', grpc: 'INVALID_ARGUMENT' },
  415: { code: 'REQUEST.UNSUPPORTED_MEDIA_TYPE', grpc: 'INVALID_ARGUMENT' },
  429: { code: 'REQUEST.RATE_LIMITED', grpc: 'RESOURCE_EXHAUSTED' },
};

interface GrpcServiceError {
  code: number;
  details?: string;
  metadata?: Metadata;
}

function isGrpcServiceError(error: unknown): error is GrpcServiceError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as GrpcServiceError).code === 'number' &&
    (error as GrpcServiceError).metadata instanceof Metadata
  );
}

/**
 * The one mapping from anything that went wrong to the gateway's HTTP answer: domain errors and
 * gRPC statuses through the code.proto table, framework errors (validation, body size, unknown
 * route) by their HTTP status. Unexpected errors become a 500 without internal detail.
 */
export function errorResponseFor(error: unknown, requestId?: string): ErrorResponse {
  const response = mapError(error, requestId);
  if (RETRYABLE_STATUSES.has(response.status) && response.headers['retry-after'] === undefined) {
    response.headers['retry-after'] = String(DEFAULT_RETRY_AFTER_SECONDS);
  }
  return response;
}

/**
 * 429 and 503 always say when to come back (SPEC §2.5, §2.8); when nobody on the path named a
 * time (a service that cannot be reached at all), a second.
 */
const RETRYABLE_STATUSES = new Set([429, 503]);
const DEFAULT_RETRY_AFTER_SECONDS = 1;

function mapError(error: unknown, requestId?: string): ErrorResponse {
  const headers: Record<string, string> = {};
  if (error instanceof DomainError) {
    const grpcCode = GRPC_STATUS_BY_KIND[error.kind];
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    return {
      status: HTTP_STATUS_BY_GRPC[grpcCode],
      headers,
      body: {
        error: { code: error.code, status: grpcStatusName(grpcCode), message: error.message, details: error.details, requestId },
      },
    };
  }
  if (isGrpcServiceError(error)) {
    const code = String(error.metadata?.get(ERROR_CODE_METADATA_KEY)[0] ?? grpcStatusName(error.code));
    const rawDetails = error.metadata?.get(ERROR_DETAILS_METADATA_KEY)[0];
    const retryAfter = error.metadata?.get(RETRY_AFTER_METADATA_KEY)[0];
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    const status = HTTP_STATUS_BY_GRPC[error.code as keyof typeof HTTP_STATUS_BY_GRPC] ?? 500;
    const message = status >= 500 && code === grpcStatusName(error.code) ? 'Upstream service error' : (error.details ?? '');
    return {
      status,
      headers,
      body: {
        error: {
          code,
          status: grpcStatusName(error.code),
          message,
          details: typeof rawDetails === 'string' ? (JSON.parse(rawDetails) as Record<string, unknown>) : undefined,
          requestId,
        },
      },
    };
  }
  const httpStatus = httpStatusOf(error);
  if (httpStatus !== undefined && httpStatus < 500) {
    const known = HTTP_CODES[httpStatus] ?? { code: 'REQUEST.INVALID', grpc: 'INVALID_ARGUMENT' };
    return {
      status: httpStatus,
      headers,
      body: { error: { code: known.code, status: known.grpc, message: messageOf(error), requestId } },
    };
  }
  return {
    status: 500,
    headers,
    body: { error: { code: 'INTERNAL', status: 'INTERNAL', message: 'Internal error', requestId } },
  };
}

function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof HttpException) return error.getStatus();
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof HttpException) {
    const response = error.getResponse();
    if (typeof response === 'object' && response !== null && 'message' in response) {
      const message = (response as { message: unknown }).message;
      return Array.isArray(message) ? message.join('; ') : String(message);
    }
    return error.message;
  }
  return error instanceof Error ? error.message : 'Bad request';
}
