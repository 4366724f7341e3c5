import { status as GrpcStatus } from '@grpc/grpc-js';
import { isDependencyUnreachable } from './dependency-errors';

describe('isDependencyUnreachable', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a lost MySQL connection', withCode('PROTOCOL_CONNECTION_LOST')],
    // mysql2: more callers than `queueLimit` wait for a pooled connection; it sets no code.
    ['a full mysql2 pool queue', new Error('Queue limit reached.')],
    ['a full pool queue under a TypeORM error', Object.assign(new Error('query failed'), { driverError: new Error('Queue limit reached.') })],
    ['a refused connection as the cause', new Error('outer', { cause: withCode('ECONNRESET') })],
    ['an unavailable gRPC service', Object.assign(new Error('14 UNAVAILABLE'), { code: GrpcStatus.UNAVAILABLE, metadata: {} })],
  ])('is true for %s', (_, error) => {
    expect(isDependencyUnreachable(error)).toBe(true);
  });

  it.each([
    ['a duplicate key', withCode('ER_DUP_ENTRY')],
    ['an error that mentions a queue', new Error('Queue limit reached. (by the job)')],
    ['a value that is not an error', 'ECONNREFUSED'],
  ])('is false for %s', (_, error) => {
    expect(isDependencyUnreachable(error)).toBe(false);
  });
});
