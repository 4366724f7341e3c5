import { defineErrors, domainError } from '@batchgate/platform/errors';

/** Every error role answers with (besides the platform's and the job kit's `ROLE.JOB_*`), each code defined once. */
export const roleErrors = defineErrors({
  invalidRoleArgument: domainError('invalid_argument', 'ROLE.INVALID_ARGUMENT', (field: string, message: string) => ({
    message,
    details: { field },
  })),
  roleNotFound: domainError('not_found', 'ROLE.NOT_FOUND', (id: string) => ({
    message: `Persona ${id} does not exist`,
    details: { id },
  })),
  invalidPosts: domainError('invalid_argument', 'POST.INVALID_ARGUMENT', (field: string, message: string) => ({
    message,
    details: { field },
  })),
});
