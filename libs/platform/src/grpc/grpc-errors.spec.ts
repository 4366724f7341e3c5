import { status as GrpcStatus } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { DomainError, HTTP_STATUS_BY_GRPC } from '../errors';
import { toGrpcError } from './grpc-errors';

describe('error mapping', () => {
  it.each([
    ['invalid_argument', GrpcStatus.INVALID_ARGUMENT, 400],
    ['unauthenticated', GrpcStatus.UNAUTHENTICATED, 401],
    ['permission_denied', GrpcStatus.PERMISSION_DENIED, 403],
    ['not_found', GrpcStatus.NOT_FOUND, 404],
    ['already_exists', GrpcStatus.ALREADY_EXISTS, 409],
    ['failed_precondition', GrpcStatus.FAILED_PRECONDITION, 409],
    ['resource_exhausted', GrpcStatus.RESOURCE_EXHAUSTED, 429],
    ['unavailable', GrpcStatus.UNAVAILABLE, 503],
    ['deadline_exceeded', GrpcStatus.DEADLINE_EXCEEDED, 504],
    ['cancelled', GrpcStatus.CANCELLED, 499],
  ] as const)('%s → gRPC %s → HTTP %s', (kind, grpc, http) => {
    const mapped = toGrpcError(new DomainError(kind, 'X.Y', 'message', { details: { a: 1 }, retryAfterSeconds: 7 }));
    expect(mapped.code).toBe(grpc);
    expect(HTTP_STATUS_BY_GRPC[mapped.code]).toBe(http);
    expect(mapped.metadata.get('x-error-code')).toEqual(['X.Y']);
    expect(mapped.metadata.get('x-error-details')).toEqual(['{"a":1}']);
    expect(mapped.metadata.get('x-retry-after')).toEqual(['7']);
  });

  it('keeps an explicit RpcException status and hides unexpected errors behind INTERNAL', () => {
    expect(toGrpcError(new RpcException({ code: GrpcStatus.ABORTED, message: 'conflict' }))).toMatchObject({
      code: GrpcStatus.ABORTED,
      message: 'conflict',
    });
    const internal = toGrpcError(new Error('password=hunter2 leaked in a stack'));
    expect(internal.code).toBe(GrpcStatus.INTERNAL);
    expect(internal.message).toBe('Internal error');
  });

  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' })],
    ['a query whose server went away (TypeORM)', Object.assign(new Error('Connection lost'), { driverError: { code: 'PROTOCOL_CONNECTION_LOST' } })],
    ['a wrapped reset', new Error('query failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })],
    ['a full MySQL pool queue', Object.assign(new Error('query failed'), { driverError: new Error('Queue limit reached.') })],
    ['a downstream gRPC service that is down', Object.assign(new Error('14 UNAVAILABLE'), { code: GrpcStatus.UNAVAILABLE, metadata: {} })],
  ])('answers %s with UNAVAILABLE and Retry-After, without the message', (_name, error) => {
    const mapped = toGrpcError(error);
    expect(mapped.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(HTTP_STATUS_BY_GRPC[mapped.code]).toBe(503);
    expect(mapped.metadata.get('x-error-code')).toEqual(['DEPENDENCY.UNAVAILABLE']);
    expect(mapped.metadata.get('x-retry-after')).toEqual(['1']);
    expect(mapped.message).not.toContain('127.0.0.1');
  });

  it('keeps INTERNAL for a numeric code 14 that is not a gRPC error, and for SQL errors', () => {
    expect(toGrpcError(Object.assign(new Error('x'), { code: 14 })).code).toBe(GrpcStatus.INTERNAL);
    expect(toGrpcError(Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY' })).code).toBe(GrpcStatus.INTERNAL);
  });
});
