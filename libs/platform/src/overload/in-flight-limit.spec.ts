import { GRPC_STATUS_BY_KIND } from '../errors';
import { InFlightLimit, overloadedError } from './in-flight-limit';

describe('InFlightLimit', () => {
  it('admits up to max at once, refuses the next, and admits again after a release', () => {
    const limit = new InFlightLimit(2);
    expect([limit.tryAcquire(), limit.tryAcquire(), limit.tryAcquire()]).toEqual([true, true, false]);
    expect(limit.inFlight).toBe(2);
    limit.release();
    expect(limit.tryAcquire()).toBe(true);
    expect(limit.tryAcquire()).toBe(false);
  });

  it('refuses as UNAVAILABLE with a retry hint and the limit', () => {
    const error = overloadedError(new InFlightLimit(7));
    expect(error).toMatchObject({ kind: 'unavailable', code: 'SERVICE.OVERLOADED', retryAfterSeconds: 1, details: { maxInFlight: 7 } });
    expect(GRPC_STATUS_BY_KIND[error.kind]).toBe(14);
  });
});
