import { DomainError } from '../errors';

/**
 * The requests (HTTP) or calls (gRPC) one process works on at once (SPEC §2.8: overload is shed,
 * not queued): beyond `max` a new one is refused at once with 503 + Retry-After, so the admitted
 * ones keep their latency and the process its memory. A plain counter: the work itself is not
 * queued here, only admitted or refused.
 */
export class InFlightLimit {
  private current = 0;

  constructor(readonly max: number) {}

  /** Takes a slot; false when all `max` are taken. Each successful call needs one `release`. */
  tryAcquire(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    return true;
  }

  release(): void {
    this.current--;
  }

  get inFlight(): number {
    return this.current;
  }
}

/** The refusal of a request or call beyond the limit (UNAVAILABLE: 503 with Retry-After: 1). */
export function overloadedError(limit: InFlightLimit): DomainError {
  return new DomainError('unavailable', 'SERVICE.OVERLOADED', 'Too many requests in flight; retry shortly', {
    details: { maxInFlight: limit.max },
    retryAfterSeconds: 1,
  });
}
