import { Metadata, status } from '@grpc/grpc-js';
import { DomainError, RETRY_AFTER_METADATA_KEY } from '@batchgate/platform/errors';
import { errorResponseFor } from './error-response';

describe('errorResponseFor', () => {
  const grpcError = (code: number, retryAfter?: string) => {
    const metadata = new Metadata();
    if (retryAfter !== undefined) metadata.set(RETRY_AFTER_METADATA_KEY, retryAfter);
    return Object.assign(new Error('No connection established'), { code, details: 'No connection established', metadata });
  };

  it('answers 503 with Retry-After even when the unreachable service could not name a time', () => {
    const answer = errorResponseFor(grpcError(status.UNAVAILABLE), 'req-1');
    expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '1' }, body: { error: { status: 'UNAVAILABLE', requestId: 'req-1' } } });
  });

  it('keeps the Retry-After a service or a rate limit named', () => {
    expect(errorResponseFor(grpcError(status.UNAVAILABLE, '7')).headers['retry-after']).toBe('7');
    const limited = new DomainError('resource_exhausted', 'GATEWAY.RATE_LIMITED', 'slow down', { retryAfterSeconds: 30 });
    expect(errorResponseFor(limited)).toMatchObject({ status: 429, headers: { 'retry-after': '30' } });
  });

  it('adds no Retry-After to an answer that retrying would not change', () => {
    expect(errorResponseFor(grpcError(status.NOT_FOUND)).headers['retry-after']).toBeUndefined();
    expect(errorResponseFor(new DomainError('invalid_argument', 'REQUEST.INVALID', 'bad')).headers).toEqual({});
  });
});
