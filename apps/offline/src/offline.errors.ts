import { defineErrors, domainError } from '@batchgate/platform/errors';

/** Every error offline answers with (besides the platform's and the job kit's OFFLINE.JOB_*), each code defined once. */
export const offlineErrors = defineErrors({
  invalidArgument: domainError('invalid_argument', 'OFFLINE.INVALID_ARGUMENT', (field: string, message: string) => ({
    message,
    details: { field },
  })),
});
