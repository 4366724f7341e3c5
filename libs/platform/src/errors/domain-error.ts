/**
 * The kinds of failure a caller can act on. Each maps to one gRPC status and one HTTP status
 * (see status-mapping.ts); services throw `DomainError`s, never transport exceptions.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'deadline_exceeded'
  /** The caller gave up (cancelled, or closed its connection) before the answer. */
  | 'cancelled'
  | 'internal';

export interface DomainErrorOptions {
  /** Extra machine-readable facts for the caller (field names, limits). Never secrets. */
  details?: Record<string, unknown>;
  /** Seconds after which a RESOURCE_EXHAUSTED caller may retry (becomes HTTP Retry-After). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * An expected failure with a stable machine code such as `TOKEN.NOT_FOUND`; clients branch on
 * `code`, humans read `message`.
 */
export class DomainError extends Error {
  readonly details?: Record<string, unknown>;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The JSON body of every error answer of the gateway. */
export interface ErrorBody {
  error: {
    /** Stable machine code, e.g. `TOKEN.NOT_FOUND`, `REQUEST.INVALID`. */
    code: string;
    /** gRPC canonical status name, e.g. `NOT_FOUND`. */
    status: string;
    message: string;
    details?: Record<string, unknown>;
    requestId?: string;
  };
}
