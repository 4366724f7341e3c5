import { defineErrors, domainError } from '@batchgate/platform/errors';

/**
 * Every error publish answers with besides the platform's and the job kit's
 * (`PUBLISH.JOB_NOT_FOUND`, `PUBLISH.JOB_FINISHED`, `PUBLISH.JOB_RUNNING`, `PUBLISH.NOTHING_TO_RETRY`),
 * each code defined once.
 */
export const publishErrors = defineErrors({
  invalidArticle: domainError('invalid_argument', 'PUBLISH.INVALID_ARTICLE', (message: string, field: string) => ({
    message,
    details: { field },
  })),
  invalidStatus: domainError('invalid_argument', 'PUBLISH.INVALID_STATUS', (statuses: readonly string[]) => ({
    message: `status must be one of ${statuses.join(', ')}`,
    details: { field: 'status' },
  })),
  rateLimited: domainError('resource_exhausted', 'PUBLISH.RATE_LIMITED', (limit: { limit: number; windowMs: number; retryAfterSeconds: number }) => ({
    message: `At most ${limit.limit} publish tasks per ${limit.windowMs / 1000} s; try again in ${limit.retryAfterSeconds} s`,
    details: { limit: limit.limit, windowMs: limit.windowMs },
    retryAfterSeconds: limit.retryAfterSeconds,
  })),
});
