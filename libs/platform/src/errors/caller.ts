import { DomainError } from './domain-error';

/** Longest tenant id the services store (the gateway bounds the JWT claim to the same). */
export const MAX_TENANT_LENGTH = 64;

/**
 * The caller's tenant, as a service receives it in a request. Every row is read and written
 * under it, so an empty one (a caller that forgot to pass it) is refused rather than matching
 * rows that belong to nobody.
 */
export function callerTenant(tenant: string): string {
  if (tenant.length < 1 || tenant.length > MAX_TENANT_LENGTH) {
    throw new DomainError('invalid_argument', 'REQUEST.INVALID_TENANT', `tenant must be 1-${MAX_TENANT_LENGTH} characters`, {
      details: { field: 'tenant' },
    });
  }
  return tenant;
}

/** Longest user id the services store (the gateway bounds the JWT `sub` claim to the same). */
export const MAX_USER_ID_LENGTH = 128;

/** The calling user, for rows that are a user's own (jobs): refused when empty or too long to store. */
export function callerUser(userId: string): string {
  if (userId.length < 1 || userId.length > MAX_USER_ID_LENGTH) {
    throw new DomainError('invalid_argument', 'REQUEST.INVALID_USER', `user id must be 1-${MAX_USER_ID_LENGTH} characters`, {
      details: { field: 'userId' },
    });
  }
  return userId;
}
